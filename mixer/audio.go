package mixer

import (
	"math"
	"sync"

	"github.com/mcu-dev/mcu/output"
)

// SampleRate of all mixer audio: mono float32 samples in [-1, 1].
const SampleRate = output.SampleRate

// BlockSamples is one 20 ms mixing block.
const BlockSamples = SampleRate / 50

// Limiter keeps a mixed signal within ±Threshold without wrap-around: it
// follows the signal's peak with an instant attack and a slow release and
// scales the signal down by threshold/peak whenever the peak is above it.
// The zero value is not ready; use NewLimiter.
type Limiter struct {
	threshold float32
	release   float32
	env       float32
}

// NewLimiter returns a limiter with a 0.95 ceiling and a 150 ms release.
func NewLimiter() *Limiter {
	return &Limiter{threshold: 0.95, release: float32(math.Exp(-1 / (0.150 * SampleRate)))}
}

// Process limits s in place.
func (l *Limiter) Process(s []float32) {
	thr := l.threshold
	for i, x := range s {
		a := x
		if a < 0 {
			a = -a
		}
		if a > l.env {
			l.env = a
		} else {
			l.env = l.env*l.release + a*(1-l.release)
		}
		if l.env > thr {
			x *= thr / l.env
		}
		// A last guard for NaN/Inf from a broken input.
		if !(x <= 1) {
			x = 1
		} else if !(x >= -1) {
			x = -1
		}
		s[i] = x
	}
}

// Mix sums equal-length input blocks (nil means silence) into full, limited
// with lim. If minus is not nil, minus[i] receives the mix without input i
// (mix-minus), limited with minusLims[i]. All outputs must have len(full).
func Mix(inputs [][]float32, full []float32, lim *Limiter, minus [][]float32, minusLims []*Limiter) {
	clear(full)
	for _, in := range inputs {
		for j, v := range in[:min(len(in), len(full))] {
			full[j] += v
		}
	}
	for i, out := range minus {
		if out == nil {
			continue
		}
		copy(out, full)
		if in := inputs[i]; in != nil {
			for j, v := range in[:min(len(in), len(out))] {
				out[j] -= v
			}
		}
		minusLims[i].Process(out)
	}
	lim.Process(full)
}

// Track buffers one input's audio between the goroutine that decodes it and
// the mixer clock that takes fixed blocks from it. Samples may be placed at
// absolute positions (files, where timestamps say where audio belongs: gaps
// become silence, overlaps are dropped) or appended as they arrive (live).
// A live track keeps at most MaxDelay of audio queued, dropping the oldest,
// so that clock drift never turns into growing latency.
type Track struct {
	mu  sync.Mutex
	buf []float32
	// pos is the absolute sample position of buf[0].
	pos int64
	// MaxQueued caps the queue in samples (0 = no cap).
	MaxQueued int
	// Prefill is how much a live track gathers before it starts playing,
	// and again after it ran dry: jitter absorption.
	Prefill int
	playing bool
	// delay is silence added by Delay, kept when the queue is trimmed.
	delay int
}

// Place puts samples at absolute sample position at.
func (t *Track) Place(at int64, s []float32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	end := t.pos + int64(len(t.buf))
	// Within 10 ms of the expected position counts as contiguous: rounding
	// of timestamps must not create clicks.
	const slack = SampleRate / 100
	switch d := at - end; {
	case d > slack:
		t.buf = append(t.buf, make([]float32, d)...)
	case d < -slack:
		skip := min(int64(len(s)), -d)
		s = s[skip:]
	}
	t.buf = append(t.buf, s...)
}

// Append adds samples after whatever is queued.
func (t *Track) Append(s []float32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, s...)
	if t.MaxQueued > 0 && len(t.buf) > t.MaxQueued+t.delay {
		// Keep half the cap plus any delay added on purpose (lip sync).
		drop := len(t.buf) - (t.MaxQueued/2 + t.delay)
		t.buf = t.buf[:copy(t.buf, t.buf[drop:])]
		t.pos += int64(drop)
	}
}

// Delay holds the queued audio back by n samples of silence, inserted
// before it (used to line audio up with late video).
func (t *Track) Delay(n int) {
	if n <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(make([]float32, n, n+len(t.buf)), t.buf...)
	t.pos -= int64(n)
	t.delay += n
}

// Undelay takes back up to n samples of a previous Delay by dropping that
// much from the head of the queue, and returns how many it dropped.
func (t *Track) Undelay(n int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n = min(n, t.delay, len(t.buf))
	if n <= 0 {
		return 0
	}
	t.buf = t.buf[:copy(t.buf, t.buf[n:])]
	t.pos += int64(n)
	t.delay -= n
	return n
}

// Queued is the number of samples waiting.
func (t *Track) Queued() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.buf)
}

// End is the absolute position just past the last queued sample.
func (t *Track) End() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pos + int64(len(t.buf))
}

// Take copies the next len(dst) samples into dst, padding with silence, and
// reports whether any real audio was in it.
func (t *Track) Take(dst []float32) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.Prefill > 0 && !t.playing {
		if len(t.buf) < t.Prefill {
			clear(dst)
			return false
		}
		t.playing = true
	}
	n := copy(dst, t.buf)
	clear(dst[n:])
	if n < len(dst) {
		t.playing = false
	}
	t.buf = t.buf[:copy(t.buf, t.buf[n:])]
	t.pos += int64(len(dst))
	return n > 0
}
