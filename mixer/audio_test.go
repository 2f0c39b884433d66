package mixer

import (
	"math"
	"testing"

	"github.com/mcu-dev/mcu/internal/mediatest"
)

func tone(freq, amp float64, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(amp * math.Sin(2*math.Pi*freq*float64(i)/SampleRate))
	}
	return s
}

func peak(s []float32) float32 {
	var p float32
	for _, v := range s {
		p = max(p, float32(math.Abs(float64(v))))
	}
	return p
}

func TestLimiterNeverClipsOrWraps(t *testing.T) {
	// Four loud tones sum to a peak near 3.6: a naive int16 sum would wrap.
	n := SampleRate
	var in [][]float32
	for _, f := range []float64{300, 500, 700, 900} {
		in = append(in, tone(f, 0.9, n))
	}
	full := make([]float32, n)
	Mix(in, full, NewLimiter(), nil, nil)
	if p := peak(full); p > 0.951 {
		t.Fatalf("limited mix peaks at %.3f, want <= 0.95", p)
	}
	// The sign of the signal follows the sum: no wrap-around inversion.
	for i := range full {
		var sum float32
		for _, s := range in {
			sum += s[i]
		}
		if sum > 0.5 && full[i] < 0 || sum < -0.5 && full[i] > 0 {
			t.Fatalf("sample %d: sum %.2f but output %.2f", i, sum, full[i])
		}
	}
}

func TestLimiterLeavesQuietSignalAlone(t *testing.T) {
	s := tone(440, 0.3, 4800)
	want := append([]float32(nil), s...)
	NewLimiter().Process(s)
	for i := range s {
		if s[i] != want[i] {
			t.Fatalf("sample %d changed: %v -> %v", i, want[i], s[i])
		}
	}
}

func TestLimiterGuardsNaN(t *testing.T) {
	s := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	NewLimiter().Process(s)
	for i, v := range s {
		if !(v >= -1 && v <= 1) {
			t.Fatalf("sample %d = %v", i, v)
		}
	}
}

func TestMixMinus(t *testing.T) {
	freqs := []float64{400, 600, 1000}
	var in [][]float32
	for _, f := range freqs {
		in = append(in, tone(f, 0.2, BlockSamples*10))
	}
	in = append(in, nil) // a silent participant
	full := make([]float32, BlockSamples*10)
	minus := make([][]float32, len(in))
	lims := make([]*Limiter, len(in))
	for i := range minus {
		minus[i] = make([]float32, len(full))
		lims[i] = NewLimiter()
	}
	Mix(in, full, NewLimiter(), minus, lims)
	for i := range in {
		for j, f := range freqs {
			got := mediatest.ToneLevel(minus[i], f, SampleRate)
			if i == j && got > 0.01 {
				t.Errorf("mix-minus %d holds its own %v Hz tone (level %.3f)", i, f, got)
			}
			if i != j && got < 0.05 {
				t.Errorf("mix-minus %d misses the %v Hz tone of input %d (level %.3f)", i, f, j, got)
			}
		}
	}
	for _, f := range freqs {
		if got := mediatest.ToneLevel(full, f, SampleRate); got < 0.05 {
			t.Errorf("full mix misses %v Hz (level %.3f)", f, got)
		}
	}
}

func TestTrackPlaceFillsGapsAndDropsOverlap(t *testing.T) {
	var tr Track
	tr.Place(0, []float32{1, 1, 1, 1})
	tr.Place(4+SampleRate/50, []float32{2, 2}) // 20 ms gap becomes silence
	if got := tr.End(); got != 4+SampleRate/50+2 {
		t.Fatalf("end after gap = %d", got)
	}
	tr.Place(2, make([]float32, SampleRate/10)) // 100 ms overlap is dropped
	dst := make([]float32, 6)
	if !tr.Take(dst) || dst[0] != 1 || dst[4] != 0 {
		t.Fatalf("take = %v", dst)
	}
}

func TestTrackPrefillAndCap(t *testing.T) {
	tr := Track{Prefill: 2 * BlockSamples, MaxQueued: 10 * BlockSamples}
	dst := make([]float32, BlockSamples)
	tr.Append(tone(440, 0.5, BlockSamples))
	if tr.Take(dst) {
		t.Fatal("played before prefill was reached")
	}
	tr.Append(tone(440, 0.5, BlockSamples))
	if !tr.Take(dst) {
		t.Fatal("did not play once prefilled")
	}
	tr.Append(make([]float32, 20*BlockSamples))
	if q := tr.Queued(); q > 10*BlockSamples {
		t.Fatalf("queue grew to %d samples past its cap", q)
	}
}

func TestTrackKeepsDelayWhenTrimmed(t *testing.T) {
	tr := Track{MaxQueued: 10 * BlockSamples}
	tr.Append(make([]float32, 3*BlockSamples))
	tr.Delay(20 * BlockSamples) // 400 ms of lip-sync delay
	tr.Append(make([]float32, 9*BlockSamples))
	// Over the cap: trimmed back to half the cap plus the delay.
	if q := tr.Queued(); q != 5*BlockSamples+20*BlockSamples {
		t.Fatalf("queued %d samples after trimming, want %d", q, 25*BlockSamples)
	}
}

func TestTrackUndelay(t *testing.T) {
	var tr Track
	tr.Append([]float32{1, 2, 3})
	tr.Delay(4)
	if got := tr.Undelay(10); got != 4 {
		t.Fatalf("undid %d samples of a 4-sample delay", got)
	}
	dst := make([]float32, 3)
	tr.Take(dst)
	if dst[0] != 1 || dst[2] != 3 {
		t.Fatalf("after undelay: %v", dst)
	}
}
