package mcu_test

import (
	"context"
	"fmt"
	"image/color"
	"slices"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/internal/peer"
)

// Three receivers in one room: one that can take only VP8, one only H.264
// and one that offers both (and so gets H.264). Each gets the codec it can
// decode, with every tile. An operator then pins everyone to the 180p rung
// and lifts the pin, caps the ladder and lifts the cap: pictures follow,
// and a rung nobody is on stops being encoded.
func TestReceiversGetTheirCodecAndRung(t *testing.T) {
	s := startServer(t) // 360p15: rungs 360p and 180p
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	specs := []struct {
		name   string
		col    color.RGBA
		codecs []string
		want   string
	}{
		{"red", color.RGBA{255, 0, 0, 255}, []string{"vp8"}, "vp8"},
		{"green", color.RGBA{0, 255, 0, 255}, []string{"h264"}, "h264"},
		{"blue", color.RGBA{0, 0, 255, 255}, nil, "h264"},
	}
	var clients []*peer.Client
	for _, sp := range specs {
		col := sp.col
		codec := "vp8"
		if len(sp.codecs) > 0 {
			codec = sp.codecs[0]
		}
		c, err := peer.Dial(ctx, peer.Options{URL: s.ws, Room: "ladder", Name: sp.name, Colour: &col, Decode: true, VideoCodec: codec, Codecs: sp.codecs})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	tiles := func(scale int) []tileWant {
		return []tileWant{
			{160 / scale, 90 / scale, 255, 0, 0, "red tile"},
			{480 / scale, 90 / scale, 0, 255, 0, "green tile"},
			{320 / scale, 270 / scale, 0, 0, 255, "blue tile"},
		}
	}
	allSee := func(what string, w, h, scale int, within time.Duration) {
		t.Helper()
		for _, c := range clients {
			eventually(t, within, what, func() error { return checkTiles(c, w, h, tiles(scale)...) })
		}
	}
	allSee("every tile at 360p", 640, 360, 1, 10*time.Second)
	// A WHEP viewer is a receiver like the others; the API counts viewers
	// by codec and rung.
	viewer, err := peer.DialWHEP(ctx, peer.Options{URL: s.URL() + "/whep/ladder", Name: "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()
	room, err := s.Rooms.Room("ladder")
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		if got := c.VideoCodec(); got != specs[i].want {
			t.Errorf("%s receives %q, want %q", specs[i].name, got, specs[i].want)
		}
	}
	rungs := func(want string) error {
		info := room.Info()
		for _, p := range info.Participants {
			if p.Receive == nil || p.Receive.Rung != want {
				return fmt.Errorf("%s receives %+v, want rung %s (room encodes %v)", p.Name, p.Receive, want, info.Encoders)
			}
		}
		return nil
	}
	eventually(t, 5*time.Second, "API shows every receiver on 360p", func() error { return rungs("360p") })
	viewers := func(want string) func() error {
		return func() error {
			if got := room.Info().ViewerRungs; len(got) != 1 || got[want] != 1 {
				return fmt.Errorf("viewers by rung %v, want one on %s", got, want)
			}
			return nil
		}
	}
	eventually(t, 5*time.Second, "the viewer on h264 360p", viewers("h264 360p"))
	encoders := func(want ...string) func() error {
		return func() error {
			if got := room.Info().Encoders; !slices.Equal(got, want) {
				return fmt.Errorf("room encodes %v, want %v", got, want)
			}
			return nil
		}
	}
	eventually(t, 5*time.Second, "one encoder per codec", encoders("h264 360p", "vp8 360p"))

	pin := func(field string, v string) {
		t.Helper()
		var err error
		switch field {
		case "rung":
			_, err = room.SetLadder(nil, &v, nil)
		case "max_rung":
			_, err = room.SetLadder(nil, nil, &v)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	pin("rung", "180p")
	allSee("everyone on 180p when pinned", 320, 180, 2, 5*time.Second)
	eventually(t, 2*time.Second, "API shows 180p", func() error { return rungs("180p") })
	eventually(t, 2*time.Second, "the viewer on 180p", viewers("h264 180p"))
	eventually(t, 8*time.Second, "idle 360p encoders closed", encoders("h264 180p", "vp8 180p"))
	start := time.Now()
	pin("rung", "")
	allSee("back on 360p when unpinned", 640, 360, 1, 20*time.Second)
	t.Logf("back on 360p %.1f s after the pin was lifted", time.Since(start).Seconds())

	pin("max_rung", "180p")
	allSee("on 180p under a cap", 320, 180, 2, 5*time.Second)
	pin("max_rung", "")
	allSee("back on 360p when the cap is lifted", 640, 360, 1, 20*time.Second)
	for _, p := range room.Info().Participants {
		if p.Receive.Switches < 4 {
			t.Errorf("%s: %d rung switches counted, want at least 4", p.Name, p.Receive.Switches)
		}
	}

	if _, err := room.SetLadder(nil, ptr("1080p"), nil); err == nil {
		t.Error("rung 1080p accepted")
	}
	if _, err := room.SetLadder(ptr("av1"), nil, nil); err == nil {
		t.Error("codec av1 accepted")
	}
}

func ptr[T any](v T) *T { return &v }
