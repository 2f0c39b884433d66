package mcu_test

import (
	"context"
	"image/color"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/internal/mediatest"
	"github.com/mcu-dev/mcu/internal/peer"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/server"
)

func TestRecordingsShareEncoders(t *testing.T) {
	mediatest.Need(t, "ffprobe")
	dir := t.TempDir()
	s := startServerWith(t, server.Config{RecordingsDir: dir})
	rc := s.Recorder
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	red := color.RGBA{255, 0, 0, 255}
	c, err := peer.Dial(ctx, peer.Options{URL: s.ws, Room: "share", Name: "red", Colour: &red, Tone: 440})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var recs []mcu.Recording
	for _, o := range []mcu.RecordingOptions{{Name: "a"}, {Name: "b"}, {Format: "mp4", Name: "c"}} {
		r, err := rc.Start("share", o)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	// The WebM ones are at the room's own settings: they write the live
	// encoder's packets instead of encoding again; the MP4 one encodes.
	reuse := rc.LiveReuse()
	for _, r := range recs {
		if want := r.Format == "webm"; reuse[r.ID] != want {
			t.Errorf("recording %s (%s): reuses live packets = %v, want %v", r.Name, r.Format, reuse[r.ID], want)
		}
	}
	if groups := rc.GroupCount(); groups != 2 {
		t.Errorf("%d encoder groups for two WebM recordings with equal settings and one MP4, want 2", groups)
	}
	time.Sleep(2 * time.Second)
	for _, r := range recs {
		got, err := rc.Stop(r.ID)
		if err != nil || got.State != mcu.StateFinished {
			t.Fatalf("stop %s: %+v %v", r.Name, got, err)
		}
		p := mediatest.ProbeFile(t, filepath.Join(dir, got.File), true)
		if v := p.Video(); v == nil || v.NbFrames == "" || v.NbFrames == "0" || p.Audio() == nil {
			t.Errorf("recording %s: %+v", r.Name, p.Streams)
		}
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
