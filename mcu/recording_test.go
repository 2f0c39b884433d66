package mcu_test

import (
	"context"
	"image/color"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/internal/mediatest"
	"github.com/mcu-dev/mcu/internal/peer"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/server"
)

func TestRecordingsShareEncoders(t *testing.T) {
	mediatest.Need(t, "ffprobe", "ffmpeg")
	// The participant receives VP8 only: the MP4 recording alone makes the
	// room encode H.264.
	s, dir, room := redRoom(t, "share", "vp8")
	rc := s.Recorder

	var recs []mcu.Recording
	for _, o := range []mcu.RecordingOptions{{Name: "a"}, {Name: "b"}, {Format: "mp4", Name: "c"}} {
		r, err := rc.Start("share", o)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	// All are at the room's own settings: they write the live encoders'
	// packets (VP8 for WebM, H.264 for MP4) instead of encoding again.
	reuse := rc.LiveReuse()
	for _, r := range recs {
		if !reuse[r.ID] {
			t.Errorf("recording %s (%s) encodes on its own; want it to write the live packets", r.Name, r.Format)
		}
	}
	if groups := rc.GroupCount(); groups != 2 {
		t.Errorf("%d encoder groups for two WebM recordings with equal settings and one MP4, want 2", groups)
	}
	time.Sleep(2 * time.Second)
	q := string(room.Settings().Quality)
	if enc := room.Info().Encoders; !slices.Equal(enc, []string{"h264 " + q, "vp8 " + q}) {
		t.Errorf("live encoders %v, want one per codec at the room's size", enc)
	}
	for _, r := range recs {
		got, err := rc.Stop(r.ID)
		if err != nil || got.State != mcu.StateFinished {
			t.Fatalf("stop %s: %+v %v", r.Name, got, err)
		}
		path := filepath.Join(dir, got.File)
		p := mediatest.ProbeFile(t, path, true)
		v := p.Video()
		if v == nil || v.NbFrames == "" || v.NbFrames == "0" || p.Audio() == nil {
			t.Fatalf("recording %s: %+v", r.Name, p.Streams)
		}
		if want := map[string]string{"webm": "vp8", "mp4": "h264"}[string(r.Format)]; v.CodecName != want {
			t.Errorf("recording %s: video %s, want %s", r.Name, v.CodecName, want)
		}
		// Every picture decodes from the first (the file's header holds
		// the parameter sets of the packets it carries), and shows the tile.
		w, h := room.Settings().Quality.Size()
		playsRed(t, path, w, h, 1)
	}
	// A group ends on its own goroutine once its last recording stops.
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		groups := rc.GroupCount()
		if groups == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d encoder groups left after every recording stopped", groups)
		}
	}
}

// A recording that writes the live packets keeps going when the room's
// output changes under it: from then on it composites and encodes on its
// own, at its own size, and the file plays straight through the change.
// For MP4 that means pictures with in-band SPS and PPS followed by pictures
// that rely on the file header's: both must decode.
func TestRecordingOutlivesALiveSettingsChange(t *testing.T) {
	mediatest.Need(t, "ffprobe", "ffmpeg")
	s, dir, room := redRoom(t, "switch")
	before := room.Settings()
	var recs []mcu.Recording
	for _, f := range []string{"webm", "mp4"} {
		r, err := s.Recorder.Start("switch", mcu.RecordingOptions{Format: f, Name: f})
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if reuse := s.Recorder.LiveReuse(); !reuse[recs[0].ID] || !reuse[recs[1].ID] {
		t.Fatalf("live packets reused: %v; want by both", reuse)
	}
	time.Sleep(1500 * time.Millisecond)
	other := "480p"
	if before.Quality == "480p" {
		other = "360p"
	}
	if _, err := room.SetSettings(other, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if reuse := s.Recorder.LiveReuse(); reuse[recs[0].ID] || reuse[recs[1].ID] {
		t.Errorf("live packets still reused after the room changed to %s: %v", other, reuse)
	}
	w, h := before.Quality.Size()
	for _, r := range recs {
		got, err := s.Recorder.Stop(r.ID)
		if err != nil || got.State != mcu.StateFinished {
			t.Fatalf("stop %s: %+v %v", r.Name, got, err)
		}
		path := filepath.Join(dir, got.File)
		p := mediatest.ProbeFile(t, path, true)
		v := p.Video()
		if v == nil || v.Width != w || v.Height != h {
			t.Fatalf("%s: video %+v, want %dx%d throughout", r.Name, v, w, h)
		}
		// Pictures on both sides of the change: a file that stopped at it
		// would hold about half. (A busy machine may miss a few ticks.)
		frames, _ := strconv.Atoi(v.NbFrames)
		if want := got.DurationS * float64(before.FPS); float64(frames) < 0.8*want {
			t.Errorf("%s: %d pictures in %.2f s, want about %.0f", r.Name, frames, got.DurationS, want)
		}
		playsRed(t, path, w, h, 1, got.DurationS-0.5)
	}
}

// redRoom starts a server that records into a temporary directory and
// joins one red participant (receiving only codecs, when given) to room.
func redRoom(t *testing.T, name string, codecs ...string) (*testServer, string, *mcu.Room) {
	t.Helper()
	dir := t.TempDir()
	s := startServerWith(t, server.Config{RecordingsDir: dir})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	red := color.RGBA{255, 0, 0, 255}
	c, err := peer.Dial(ctx, peer.Options{URL: s.ws, Room: name, Name: "red", Colour: &red, Tone: 440, Codecs: codecs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	room, err := s.Rooms.Room(name)
	if err != nil {
		t.Fatal(err)
	}
	return s, dir, room
}

// playsRed checks that every picture of the w x h recording at path
// decodes without an error and that the one red participant fills the
// centre at each of the times given.
func playsRed(t *testing.T, path string, w, h int, at ...float64) {
	t.Helper()
	name := filepath.Base(path)
	if out, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("%s does not decode cleanly: %v %s", name, err, out)
	}
	for _, sec := range at {
		pic := mediatest.FrameAt(t, path, sec, w, h)
		if r, g, b := pic.At(w/2, h/2); !mediatest.Near(r, g, b, 255, 0, 0, 60) {
			t.Errorf("%s at %.1f s: centre is %d,%d,%d, want red", name, sec, r, g, b)
		}
	}
}
