package mcu_test

import (
	"context"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/internal/mediatest"
	"github.com/mcu-dev/mcu/internal/peer"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/server"
)

// TestJoinLeaveChurnWhileRecording: a participant joins and leaves over and
// over while two others talk and two recordings run (one writing the live
// packets, one with its own layout, encoding on its own). Membership changes must never stall
// the room's clocks: the audio clock mixes a block for every 20 ms of wall
// time (counted, within one) and skips none, and each file lasts as long as
// its recording did, within one frame.
func TestJoinLeaveChurnWhileRecording(t *testing.T) {
	mediatest.Need(t, "ffprobe")
	dir := t.TempDir()
	s := startServerWith(t, server.Config{RecordingsDir: dir})
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	red, blue, green := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}, color.RGBA{0, 255, 0, 255}
	for i, col := range []color.RGBA{red, blue} {
		c, err := peer.Dial(ctx, peer.Options{URL: s.ws, Room: "churn", Name: fmt.Sprintf("steady%d", i), Colour: &col, Tone: 500 + 600*float64(i)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	room, err := s.Rooms.Room("churn")
	if err != nil {
		t.Fatal(err)
	}
	var recs []mcu.Recording
	for _, o := range []mcu.RecordingOptions{{Name: "live-packets"}, {Name: "own-encoder", Format: "mp4", Layout: "grid"}} {
		r, err := s.Recorder.Start("churn", o)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if reuse := s.Recorder.LiveReuse(); !reuse[recs[0].ID] || reuse[recs[1].ID] {
		t.Fatalf("live packets reused: %v; want only by %s", reuse, recs[0].ID)
	}

	before, t0 := room.Info(), time.Now()
	for i := 0; i < 6; i++ {
		c, err := peer.Dial(ctx, peer.Options{URL: s.ws, Room: "churn", Name: "churner", Colour: &green, Tone: 1700})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(400 * time.Millisecond)
		c.Close()
		time.Sleep(200 * time.Millisecond)
	}
	after, t1 := room.Info(), time.Now()

	// Each count is read somewhere inside a 20 ms block, so the two
	// readings may add up to one block either way on top of the fraction.
	mixed := after.AudioBlocks - before.AudioBlocks
	want := t1.Sub(t0).Seconds() / 0.020
	t.Logf("audio blocks mixed %d over %v (%.1f expected), skipped %d", mixed, t1.Sub(t0).Round(time.Millisecond), want, after.AudioBlocksSkipped)
	if d := float64(mixed) - want; math.Abs(d) > 1.5 {
		t.Errorf("audio clock mixed %d blocks in %v, want %.1f ± 1.5", mixed, t1.Sub(t0), want)
	}
	if after.AudioBlocksSkipped != 0 {
		t.Errorf("audio clock skipped %d blocks", after.AudioBlocksSkipped)
	}

	for _, r := range recs {
		got, err := s.Recorder.Stop(r.ID)
		if err != nil || got.State != mcu.StateFinished || got.EndedAt == nil {
			t.Fatalf("stop %s: %+v %v", r.Name, got, err)
		}
		wall := got.EndedAt.Sub(got.StartedAt).Seconds()
		frame := 1 / float64(got.FPS)
		p := mediatest.ProbeFile(t, filepath.Join(dir, got.File), true)
		t.Logf("%s: reported %.3f s, wall %.3f s, ffprobe %+v", r.Name, got.DurationS, wall, p.Format)
		if math.Abs(got.DurationS-wall) > frame {
			t.Errorf("%s: file holds %.3f s of a %.3f s recording, want within one frame (%.3f s)", r.Name, got.DurationS, wall, frame)
		}
		if d := p.Duration(); math.Abs(d-got.DurationS) > frame {
			t.Errorf("%s: reported %.3f s, ffprobe finds %.3f s", r.Name, got.DurationS, d)
		}
		if v := p.Video(); v == nil || p.Audio() == nil {
			t.Errorf("%s: streams %+v", r.Name, p.Streams)
		}
	}
}
