package mcu

import (
	"testing"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/pion/rtcp"

	"github.com/mcu-dev/mcu/output"
)

// Both streams' sender reports say: capture second 100.0 is RTP timestamp 0.
func syncedAVSync() *avSync {
	s := newAVSync()
	ntp := uint64(100) << 32
	s.senderReport(&rtcp.SenderReport{NTPTime: ntp, RTPTime: 0}, true)
	s.senderReport(&rtcp.SenderReport{NTPTime: ntp, RTPTime: 0}, false)
	return s
}

func testPicture(t *testing.T) *astiav.Frame {
	t.Helper()
	f := astiav.AllocFrame()
	f.SetWidth(16)
	f.SetHeight(16)
	f.SetPixelFormat(astiav.PixelFormatYuv420P)
	if err := f.AllocBuffer(0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Free)
	return f
}

// audioAt queues 20 ms of audio captured at second sec (relative to 100 s).
func audioAt(s *avSync, sec float64) {
	s.audioQueued(uint32(sec*output.SampleRate), output.SampleRate/50)
}

func videoTS(sec float64) uint32 { return uint32(sec * 90000) }

func TestAVSyncBeforeSenderReportsShowsAtOnce(t *testing.T) {
	s := newAVSync()
	defer s.close()
	now := time.Now()
	s.hold(testPicture(t), 12345, now)
	f, arrived, delay := s.due(now, 0)
	if f == nil || !arrived.Equal(now) || delay != 0 {
		t.Fatalf("due before sender reports: %v %v %v, want the picture at once", f, arrived, delay)
	}
	f.Free()
}

func TestAVSyncHoldsPictureUntilItsAudio(t *testing.T) {
	s := syncedAVSync()
	defer s.close()
	now := time.Now()
	audioAt(s, 1.0)                           // audio queued up to capture 1.02 s
	s.hold(testPicture(t), videoTS(1.0), now) // picture captured at 1.0 s
	// 100 ms still queued: the mixer plays capture 0.92 s next.
	if f, _, _ := s.due(now, output.SampleRate/10); f != nil {
		t.Fatal("picture released 80 ms before its audio")
	}
	// 20 ms queued: the mixer is at 1.0 s.
	f, _, _ := s.due(now.Add(80*time.Millisecond), output.SampleRate/50)
	if f == nil {
		t.Fatal("picture not released when its audio plays")
	}
	f.Free()
}

func TestAVSyncReleasesNewestDuePictureOnly(t *testing.T) {
	s := syncedAVSync()
	defer s.close()
	now := time.Now()
	audioAt(s, 2.0)
	for _, sec := range []float64{1.90, 1.95, 2.00, 2.50} {
		s.hold(testPicture(t), videoTS(sec), now)
	}
	f, _, _ := s.due(now, output.SampleRate/50) // clock at 2.0 s
	if f == nil {
		t.Fatal("no picture due")
	}
	f.Free()
	if len(s.held) != 1 || s.held[0].capture < 102.4 {
		t.Fatalf("%d pictures left, want only the one of 2.5 s", len(s.held))
	}
}

func TestAVSyncStalledAudioNeverFreezesPictures(t *testing.T) {
	s := syncedAVSync()
	defer s.close()
	now := time.Now()
	audioAt(s, 1.0)
	s.hold(testPicture(t), videoTS(30), now) // far ahead of any audio
	if f, _, _ := s.due(now, output.SampleRate/50); f != nil {
		t.Fatal("picture far ahead of its audio released at once")
	}
	f, _, _ := s.due(now.Add(maxVideoHold), output.SampleRate/50)
	if f == nil {
		t.Fatalf("picture held longer than %v", maxVideoHold)
	}
	f.Free()
}

func TestAVSyncDelaysAudioForLatePicturesAndUndoesIt(t *testing.T) {
	s := syncedAVSync()
	defer s.close()
	now := time.Now()
	// Pictures arrive 300 ms behind the audio played with them.
	audioAt(s, 5.0)
	s.hold(testPicture(t), videoTS(4.7), now)
	f, _, delay := s.due(now, output.SampleRate/50)
	if f == nil {
		t.Fatal("late picture not released")
	}
	f.Free()
	if delay < 250*time.Millisecond || delay > maxAudioDelay {
		t.Fatalf("audio delayed by %v for pictures 300 ms late, want about 300 ms", delay)
	}
	if got := s.delayedAudio(); got != delay {
		t.Fatalf("delayedAudio %v, want %v", got, delay)
	}
	// Later pictures are on time but keep waiting here 200 ms: the delay is
	// more than they need and shrinks.
	var total time.Duration
	for i := 0; i < 10; i++ {
		sec := 6.0 + float64(i)*0.1
		audioAt(s, sec)
		s.hold(testPicture(t), videoTS(sec), now)
		f, _, d := s.due(now.Add(200*time.Millisecond), output.SampleRate/50)
		if f != nil {
			f.Free()
		}
		total += d
	}
	if total >= 0 || s.delayedAudio() >= delay {
		t.Fatalf("audio delay %v after pictures waited (change %v), want less than %v", s.delayedAudio(), total, delay)
	}
	if s.delayedAudio() < 0 {
		t.Fatalf("negative audio delay %v", s.delayedAudio())
	}
}

func TestAVSyncBoundsHeldPictures(t *testing.T) {
	s := syncedAVSync()
	defer s.close()
	now := time.Now()
	audioAt(s, 0)
	pic := testPicture(t)
	for i := 0; i < 3*maxHeld; i++ {
		s.hold(pic, videoTS(100+float64(i)), now) // all far in the future
	}
	if len(s.held) != maxHeld {
		t.Fatalf("%d pictures held, want at most %d", len(s.held), maxHeld)
	}
	s.close()
	s.hold(pic, videoTS(1), now)
	if len(s.held) != 0 {
		t.Fatal("picture held after close")
	}
}
