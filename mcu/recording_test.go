package mcu

import (
	"context"
	"image/color"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/internal/mediatest"
	"github.com/mcu-dev/mcu/internal/peer"
	"github.com/mcu-dev/mcu/signaling"
	"github.com/mcu-dev/mcu/transcode"
)

// TestRecordingsShareEncoders checks that recordings of a room with equal
// settings are made by one compositor and encoder set, and that each still
// gets a complete file of its own.
func TestRecordingsShareEncoders(t *testing.T) {
	mediatest.Need(t, "ffprobe")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	transcode.SetLogger(log)
	srv, err := NewServer(Config{Quality: transcode.Q360, FPS: 15, IncludeLoopback: true, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	sig := signaling.NewServer(srv, log, signaling.Options{})
	h := httptest.NewServer(sig)
	dir := t.TempDir()
	rc, err := NewRecorder(dir, srv, log)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		rc.Close()
		sig.Close()
		h.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	red := color.RGBA{255, 0, 0, 255}
	c, err := peer.Dial(ctx, peer.Options{URL: "ws" + strings.TrimPrefix(h.URL, "http") + "/ws", Room: "share", Name: "red", Colour: &red, Tone: 440})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var recs []Recording
	for _, o := range []RecordingOptions{{Name: "a"}, {Name: "b"}, {Format: "mp4", Name: "c"}} {
		r, err := rc.Start("share", o)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	rc.mu.Lock()
	groups := len(rc.groups)
	rc.mu.Unlock()
	if groups != 2 {
		t.Errorf("%d encoder groups for two WebM recordings with equal settings and one MP4, want 2", groups)
	}
	time.Sleep(2 * time.Second)
	for _, r := range recs {
		got, err := rc.Stop(r.ID)
		if err != nil || got.State != StateFinished {
			t.Fatalf("stop %s: %+v %v", r.Name, got, err)
		}
		p := mediatest.ProbeFile(t, filepath.Join(dir, got.File), true)
		if v := p.Video(); v == nil || v.NbFrames == "" || v.NbFrames == "0" || p.Audio() == nil {
			t.Errorf("recording %s: %+v", r.Name, p.Streams)
		}
	}
	// A group ends on its own goroutine once its last recording stops.
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		rc.mu.Lock()
		groups = len(rc.groups)
		rc.mu.Unlock()
		if groups == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d encoder groups left after every recording stopped", groups)
		}
	}
}
