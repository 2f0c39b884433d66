package mcu

import (
	"math"
	"sync"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/pion/rtcp"

	"github.com/mcu-dev/mcu/output"
)

// Lip sync. Each publisher's audio and video arrive on separate RTP streams
// with their own timestamps; RTCP sender reports tie each stream's RTP clock
// to the sender's wall clock (NTP). With both mappings known, every audio
// sample and every picture has a capture time on one clock. The room's audio
// loop plays a participant's audio from a queue; the capture time of the
// sample at its head is "now" for that participant. Pictures are held until
// their capture time is due against that clock. When pictures arrive later
// than the audio they belong with (video decoding and jitter buffering take
// longer), the audio queue is delayed once by the difference, up to
// maxAudioDelay, so both line up. A picture is released at the first video
// tick at which its capture time is due, or up to earlySlack before.
// Measured at a receiver (TestLipSyncAtTheReceiver, 30 fps): a slack of
// 60 ms put pictures 35-45 ms ahead of their sound, none put them 0-20 ms
// after it but added 15-60 ms of latency under load (bench/live.sh), 20 ms
// puts them 0-27 ms ahead.
const (
	// earlySlack is how far ahead of its sound a picture may be released.
	// Sound lagging its picture goes unnoticed up to about 125 ms (ITU-R
	// BT.1359), and every millisecond a picture waits is latency.
	earlySlack    = 0.020
	maxAudioDelay = 400 * time.Millisecond
	maxVideoHold  = time.Second
	audioStall    = 200 * time.Millisecond
)

// srClock maps one stream's RTP timestamps to the sender's NTP time.
type srClock struct {
	rate    float64
	ntp     float64
	rtp     uint32
	present bool
}

func (c *srClock) set(sr *rtcp.SenderReport) {
	c.ntp = float64(sr.NTPTime>>32) + float64(sr.NTPTime&0xffffffff)/(1<<32)
	c.rtp = sr.RTPTime
	c.present = true
}

func (c *srClock) capture(ts uint32) float64 {
	return c.ntp + float64(int32(ts-c.rtp))/c.rate
}

type heldPicture struct {
	f         *astiav.Frame
	capture   float64
	arrived   time.Time
	immediate bool // shown as soon as the video loop ticks
}

// avSync is one participant's lip-sync state. The RTP and RTCP goroutines
// write it; the room's video loop alone releases pictures from it and
// steers the audio delay.
type avSync struct {
	mu          sync.Mutex
	audio       srClock
	video       srClock
	audioEnd    float64 // capture time just past the last queued audio sample
	hasAudioEnd bool
	lastAudio   time.Time // when audio last arrived
	held        []heldPicture
	delayed     time.Duration
	closed      bool
	offset      float64 // smoothed capture time of shown pictures minus the audio clock
	waited      float64 // smoothed seconds pictures waited here
	offsetValid bool
}

func newAVSync() *avSync {
	return &avSync{audio: srClock{rate: output.SampleRate}, video: srClock{rate: 90000}}
}

func (s *avSync) senderReport(sr *rtcp.SenderReport, video bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if video {
		s.video.set(sr)
	} else {
		s.audio.set(sr)
	}
}

// audioQueued notes that samples of RTP timestamp ts were appended.
func (s *avSync) audioQueued(ts uint32, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.audio.present {
		return
	}
	s.audioEnd = s.audio.capture(ts) + float64(n)/output.SampleRate
	s.hasAudioEnd = true
	s.lastAudio = time.Now()
}

// audioNowLocked is the capture time of the next sample the mixer will
// play. Without a live audio stream (not started, or stopped for longer
// than audioStall) there is nothing to wait for and pictures go out at once.
func (s *avSync) audioNowLocked(queued int, now time.Time) (float64, bool) {
	if !s.hasAudioEnd || !s.audio.present || !s.video.present {
		return 0, false
	}
	if queued == 0 && now.Sub(s.lastAudio) > audioStall {
		return 0, false
	}
	return s.audioEnd - float64(queued)/output.SampleRate, true
}

// maxHeld bounds the pictures waiting here: a publisher whose timestamps
// run far ahead of its audio cannot make the server hoard frames.
const maxHeld = 60

// hold keeps a reference to a decoded picture until the room's video loop
// releases it. Before both streams' clocks are known (no sender reports
// yet) the picture is due at once.
func (s *avSync) hold(f *astiav.Frame, ts uint32, arrived time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return // the participant is gone
	}
	h := heldPicture{f: astiav.AllocFrame(), arrived: arrived, immediate: !s.audio.present || !s.video.present}
	if err := h.f.Ref(f); err != nil {
		h.f.Free()
		return
	}
	if !h.immediate {
		h.capture = s.video.capture(ts)
	}
	if len(s.held) >= maxHeld {
		s.held[0].f.Free()
		s.held = s.held[:copy(s.held, s.held[1:])]
	}
	s.held = append(s.held, h)
}

// due returns the newest held picture whose time has come (the caller owns
// and frees it), freeing older ones; a picture held longer than maxVideoHold
// is released regardless, so a stalled audio stream never freezes the tile.
// It also returns how much to change the audio delay: more when the
// pictures shown keep being older than the audio played with them, less
// when pictures keep waiting here for delayed audio.
func (s *avSync) due(now time.Time, queued int) (*astiav.Frame, time.Time, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	clock, ok := s.audioNowLocked(queued, now)
	var out *astiav.Frame
	var arrived time.Time
	var capture float64
	var immediate bool
	i := 0
	for ; i < len(s.held); i++ {
		h := s.held[i]
		if ok && !h.immediate && h.capture > clock+earlySlack && now.Sub(h.arrived) < maxVideoHold {
			break
		}
		if out != nil {
			out.Free()
		}
		out, arrived, capture, immediate = h.f, h.arrived, h.capture, h.immediate
	}
	s.held = s.held[:copy(s.held, s.held[i:])]
	if out == nil || !ok || immediate {
		return out, arrived, 0
	}
	off := capture - clock
	if !s.offsetValid {
		s.offset, s.offsetValid = off, true
	}
	s.offset = 0.8*s.offset + 0.2*off
	// How long pictures wait here: if they wait while the audio is being
	// delayed on purpose, the delay is more than the video needs.
	s.waited = 0.8*s.waited + 0.2*now.Sub(arrived).Seconds()
	var add time.Duration
	switch {
	case s.offset < -0.04 && s.delayed < maxAudioDelay:
		add = min(time.Duration(-s.offset*float64(time.Second)), maxAudioDelay-s.delayed)
		s.offset += add.Seconds()
	case s.waited > 0.04 && s.delayed > 0:
		add = -min(time.Duration(s.waited*float64(time.Second)), s.delayed)
		s.waited = 0
	}
	s.delayed += add
	return out, arrived, add
}

// offsetMS is the smoothed capture-time offset of the pictures shown
// against the audio played with them, in ms (negative: pictures late).
func (s *avSync) offsetMS() (float64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return math.Round(s.offset * 1000), s.offsetValid
}

func (s *avSync) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.held {
		h.f.Free()
	}
	s.held = nil
	s.closed = true
}

// delayedAudio is how much audio was delayed in total to meet the video.
func (s *avSync) delayedAudio() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delayed
}
