package mcu_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/internal/mediatest"
	"github.com/mcu-dev/mcu/internal/peer"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/mixer"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/server"
	"github.com/mcu-dev/mcu/signaling"
)

type testServer struct {
	*server.Server
	ws string
}

func startServer(t *testing.T) *testServer {
	return startServerWith(t, server.Config{})
}

// startServerWith runs a server at 360p15 (unless cfg says otherwise) on a
// free loopback port.
func startServerWith(t *testing.T, cfg server.Config) *testServer {
	t.Helper()
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		level := slog.LevelInfo
		if os.Getenv("MCU_TRACE") != "" {
			level = slog.LevelDebug
		}
		cfg.Log = slog.New(slog.NewTextHandler(&testWriter{t}, &slog.HandlerOptions{Level: level}))
	}
	if cfg.Rooms.Quality == "" {
		cfg.Rooms.Quality, cfg.Rooms.FPS = output.Q360, 15
	}
	cfg.Rooms.IncludeLoopback = true
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	s := &testServer{Server: srv, ws: srv.WebsocketURL()}
	t.Cleanup(s.close)
	return s
}

func (s *testServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.Close(ctx)
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// eventually retries check until it returns nil or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		if err = check(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %v", what, err)
}

type tileWant struct {
	x, y    int
	r, g, b int
	what    string
}

func checkTiles(c *peer.Client, w, h int, wants ...tileWant) error {
	img := c.Picture()
	if img == nil {
		return fmt.Errorf("%s: no picture yet", c.ID)
	}
	if img.Rect.Dx() != w || img.Rect.Dy() != h {
		return fmt.Errorf("%s: picture %v, want %dx%d", c.ID, img.Rect.Size(), w, h)
	}
	for _, tw := range wants {
		r, g, b, err := peer.RGBAt(img, tw.x, tw.y)
		if err != nil {
			return err
		}
		if !mediatest.Near(r, g, b, tw.r, tw.g, tw.b, 60) {
			return fmt.Errorf("%s: %s at (%d,%d) is %d,%d,%d, want about %d,%d,%d", c.ID, tw.what, tw.x, tw.y, r, g, b, tw.r, tw.g, tw.b)
		}
	}
	return nil
}

var placeholder = [3]int{44, 48, 58}

func TestRoomComposesMixesAndReflows(t *testing.T) {
	baseline := runtime.NumGoroutine()
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Blue publishes H.264, the others VP8.
	specs := []struct {
		name  string
		col   color.RGBA
		tone  float64
		codec string
	}{
		{"red", color.RGBA{255, 0, 0, 255}, 500, "vp8"},
		{"green", color.RGBA{0, 255, 0, 255}, 1100, "vp8"},
		{"blue", color.RGBA{0, 0, 255, 255}, 1700, "h264"},
	}
	var clients []*peer.Client
	for _, sp := range specs {
		col := sp.col
		c, err := peer.Dial(ctx, peer.Options{URL: s.ws, Room: "r1", Name: sp.name, Colour: &col, Tone: sp.tone, Decode: true, VideoCodec: sp.codec})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()

	// 3 participants at 360p: 2x2 grid, tiles in join order.
	tiles := []tileWant{
		{160, 90, 255, 0, 0, "red tile"},
		{480, 90, 0, 255, 0, "green tile"},
		{320, 270, 0, 0, 255, "blue tile (last row, centred)"},
	}
	for _, c := range clients {
		eventually(t, 10*time.Second, "composite with every colour", func() error { return checkTiles(c, 640, 360, tiles...) })
	}

	// Mix-minus: each client hears the others' tones, not its own.
	time.Sleep(1500 * time.Millisecond)
	for i, c := range clients {
		a := c.Audio()
		if len(a) < 48000 {
			t.Fatalf("%s received only %d audio samples", specs[i].name, len(a))
		}
		last := a[len(a)-48000:]
		for j, sp := range specs {
			l := mediatest.ToneLevel(last, sp.tone, 48000)
			if i == j && l > 0.01 {
				t.Errorf("%s hears its own %v Hz tone (level %.4f)", specs[i].name, sp.tone, l)
			}
			if i != j && l < 0.05 {
				t.Errorf("%s does not hear %s's %v Hz tone (level %.4f)", specs[i].name, sp.name, sp.tone, l)
			}
		}
	}

	// Stats over the API.
	resp, err := http.Get(s.URL() + "/api/rooms/r1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"decoded_fps"`) || !strings.Contains(string(body), `"name":"green"`) {
		t.Errorf("GET /api/rooms/r1: %d %s", resp.StatusCode, body)
	}
	// Lip sync runs for every publisher (sender reports of both streams
	// known) and keeps pictures within what viewers do not notice: sound at
	// most 60 ms early (picture late) or 100 ms late (picture early).
	var info mcu.RoomInfo
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatal(err)
	}
	for _, p := range info.Participants {
		if p.AVOffsetMS == nil {
			t.Errorf("%s: lip sync not running: %s", p.Name, body)
		} else if t.Logf("%s: picture %+.0f ms against its audio, audio delayed %.0f ms", p.Name, *p.AVOffsetMS, p.AudioDelayMS); *p.AVOffsetMS < -60 || *p.AVOffsetMS > 100 {
			t.Errorf("%s: picture %.0f ms off its audio", p.Name, *p.AVOffsetMS)
		}
	}

	// A live quality change reaches every receiver.
	req, _ := http.NewRequest(http.MethodPut, s.URL()+"/api/rooms/r1", bytes.NewBufferString(`{"quality":"480p"}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PUT quality: %d", resp.StatusCode)
	}
	tiles480 := []tileWant{
		{213, 120, 255, 0, 0, "red tile"},
		{640, 120, 0, 255, 0, "green tile"},
		{426, 360, 0, 0, 255, "blue tile (last row, centred)"},
	}
	for _, c := range clients {
		eventually(t, 5*time.Second, "480p composite", func() error { return checkTiles(c, 854, 480, tiles480...) })
	}

	// Green stops sending video: after 3 s its tile is a placeholder while
	// the others keep their colours.
	clients[1].StopVideo()
	eventually(t, 8*time.Second, "placeholder for the stalled participant", func() error {
		return checkTiles(clients[0], 854, 480,
			tileWant{213, 120, 255, 0, 0, "red tile"},
			tileWant{640, 120, placeholder[0], placeholder[1], placeholder[2], "green placeholder"},
			tileWant{426, 360, 0, 0, 255, "blue tile"})
	})
	before := clients[0].FramesReceived.Load()
	time.Sleep(time.Second)
	if got := clients[0].FramesReceived.Load() - before; got < 10 {
		t.Errorf("output dropped to %d frames/s while one input stalled", got)
	}

	// Red leaves: the grid re-flows to green and blue side by side.
	clients[0].Leave()
	for _, c := range clients[1:] {
		eventually(t, 5*time.Second, "re-flowed grid", func() error {
			return checkTiles(c, 854, 480,
				tileWant{213, 240, placeholder[0], placeholder[1], placeholder[2], "green placeholder (left)"},
				tileWant{640, 240, 0, 0, 255, "blue tile (right)"})
		})
	}

	// Settings over the websocket: back to 360p, announced to everyone.
	if err := clients[2].Send(signaling.Message{Type: signaling.TypeSettings, Quality: "360p"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients[1:] {
		eventually(t, 5*time.Second, "360p after a websocket settings message", func() error {
			if err := checkTiles(c, 640, 360, tileWant{480, 180, 0, 0, 255, "blue tile (right)"}); err != nil {
				return err
			}
			for _, m := range c.Events() {
				if m.Type == signaling.TypeSettings && m.Quality == "360p" && m.FPS == 15 {
					return nil
				}
			}
			return fmt.Errorf("%s got no settings event", c.ID)
		})
	}

	for _, c := range clients {
		c.Close()
	}
	clients = nil
	eventually(t, 5*time.Second, "room closed after the last leave", func() error {
		if rs := s.Rooms.List(); len(rs) != 0 {
			return fmt.Errorf("%d rooms still open", len(rs))
		}
		return nil
	})
	s.close()
	eventually(t, 10*time.Second, "goroutines back to baseline", func() error {
		if n := runtime.NumGoroutine(); n > baseline+2 {
			buf := make([]byte, 1<<16)
			return fmt.Errorf("%d goroutines, baseline %d\n%s", n, baseline, buf[:runtime.Stack(buf, true)])
		}
		return nil
	})
}

// TestMuteShowsPlaceholder: turning the camera off shows the placeholder at
// once (not a black picture, not after the 3 s stall timeout), muting the
// microphone takes the voice out of the mix, and both come back.
func TestMuteShowsPlaceholder(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	red, blue := color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}
	a, err := peer.Dial(ctx, peer.Options{URL: s.ws, Room: "mute", Name: "a", Colour: &red, Tone: 700, Decode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := peer.Dial(ctx, peer.Options{URL: s.ws, Room: "mute", Name: "b", Colour: &blue, Tone: 1300, Decode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	both := []tileWant{{160, 180, 255, 0, 0, "a"}, {480, 180, 0, 0, 255, "b"}}
	eventually(t, 10*time.Second, "both colours", func() error { return checkTiles(b, 640, 360, both...) })

	off, on := true, false
	if err := a.Send(signaling.Message{Type: signaling.TypeMute, Video: &off, Audio: &off}); err != nil {
		t.Fatal(err)
	}
	// Within 2.5 s: sooner than the 3 s stall timeout would give, and a
	// disabled camera keeps sending (black) pictures, so only the mute
	// itself can bring the placeholder.
	eventually(t, 2500*time.Millisecond, "placeholder right after the camera went off", func() error {
		return checkTiles(b, 640, 360, tileWant{160, 180, placeholder[0], placeholder[1], placeholder[2], "a muted"}, both[1])
	})
	// The muted microphone's mark before a's name.
	_, _, mark := mixer.LabelBoxOf(mixer.Tile{Name: "a", Muted: true}, image.Rect(0, 0, 320, 360))
	eventually(t, 2*time.Second, "muted mark", func() error {
		return checkTiles(b, 640, 360, tileWant{(mark.Min.X + mark.Max.X) / 2, (mark.Min.Y + mark.Max.Y) / 2, 220, 40, 40, "a's muted mark"})
	})
	time.Sleep(1500 * time.Millisecond)
	heard := b.Audio()
	if l := mediatest.ToneLevel(heard[len(heard)-24000:], 700, 48000); l > 0.01 {
		t.Errorf("a's muted voice is still in b's mix (level %.4f)", l)
	}
	updated := false
	for _, m := range b.Events() {
		if m.Type == signaling.TypeParticipantUpdated && m.Participant != nil && m.Participant.Name == "a" && !m.Participant.Video && !m.Participant.Audio {
			updated = true
		}
	}
	if !updated {
		t.Error("b was not told that a muted")
	}

	if err := a.Send(signaling.Message{Type: signaling.TypeMute, Video: &on, Audio: &on}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "a's colour back after unmute", func() error { return checkTiles(b, 640, 360, both...) })
	time.Sleep(1500 * time.Millisecond)
	heard = b.Audio()
	if l := mediatest.ToneLevel(heard[len(heard)-24000:], 700, 48000); l < 0.05 {
		t.Errorf("a's voice did not come back (level %.4f)", l)
	}
}
