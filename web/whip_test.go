package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/internal/mediatest"
	"github.com/mcu-dev/mcu/internal/peer"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/metrics"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/server"
	"github.com/mcu-dev/mcu/web"
)

var mediaServer struct {
	once sync.Once
	srv  *server.Server
	err  error
}

// startMediaServer returns the server the WHIP/WHEP tests share (each in
// rooms of its own), started on first use and closed by TestMain. It
// serves at 360p15 with metrics and an Authorize hook that refuses the
// token "bad", lets the token "viewer" only watch, and names publishers
// after a "name:" token.
func startMediaServer(t *testing.T) *server.Server {
	t.Helper()
	mediaServer.once.Do(func() {
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		if testing.Verbose() {
			log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		}
		srv, err := server.New(server.Config{
			Rooms:     mcu.Config{Quality: output.Q360, FPS: 15, IncludeLoopback: true},
			Log:       log,
			Ops:       server.Ops{Metrics: metrics.New()},
			Authorize: testAuthorize,
		})
		if err == nil {
			err = srv.Listen("127.0.0.1:0")
		}
		mediaServer.srv, mediaServer.err = srv, err
	})
	if mediaServer.err != nil {
		t.Fatalf("starting the WHIP/WHEP test server: %v", mediaServer.err)
	}
	return mediaServer.srv
}

func closeMediaServer() {
	if mediaServer.srv != nil && mediaServer.err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = mediaServer.srv.Close(ctx)
	}
}

func testAuthorize(r *http.Request, room string, a web.Access) (string, error) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case token == "bad":
		return "", errors.New("invalid token")
	case token == "viewer" && a == web.Publish:
		return "", fmt.Errorf("this token may not publish: %w", web.ErrForbidden)
	}
	name, _ := strings.CutPrefix(token, "name:")
	return name, nil
}

// eventually polls check every 100 ms until it returns nil or d passes.
func eventually(t *testing.T, d time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after %v: %v", what, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mediaRoom reads GET /api/rooms/{room}.
func mediaRoom(base, room string) (mcu.RoomInfo, error) {
	var info mcu.RoomInfo
	resp, err := http.Get(base + "/api/rooms/" + room)
	if err != nil {
		return info, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return info, fmt.Errorf("GET /api/rooms/%s: %s", room, resp.Status)
	}
	return info, json.NewDecoder(resp.Body).Decode(&info)
}

type colourTone struct {
	name  string
	rgb   color.RGBA
	tone  float64
	codec string
}

// tilesShow checks that pic shows each named participant's colour at the
// centre of its tile in the room's layout.
func tilesShow(c *peer.Client, info mcu.RoomInfo, want []colourTone) error {
	img := c.Picture()
	if img == nil {
		return errors.New("no picture yet")
	}
	if img.Rect.Dx() != 640 || img.Rect.Dy() != 360 {
		return fmt.Errorf("picture is %v, want 640x360", img.Rect)
	}
	for _, w := range want {
		found := false
		for _, tl := range info.Layout {
			if tl.Name != w.name {
				continue
			}
			found = true
			r, g, b, err := peer.RGBAt(img, tl.X+tl.W/2, tl.Y+tl.H/2)
			if err != nil {
				return err
			}
			if !mediatest.Near(r, g, b, int(w.rgb.R), int(w.rgb.G), int(w.rgb.B), 60) {
				return fmt.Errorf("%s's tile is %d,%d,%d, want %v", w.name, r, g, b, w.rgb)
			}
		}
		if !found {
			return fmt.Errorf("%s has no tile in %+v", w.name, info.Layout)
		}
	}
	return nil
}

// hears checks the last second of c's audio for each tone of want (and the
// absence of absent's).
func hears(c *peer.Client, want []colourTone, absent float64) error {
	a := c.Audio()
	if len(a) < 48000 {
		return fmt.Errorf("only %d audio samples", len(a))
	}
	last := a[len(a)-48000:]
	for _, w := range want {
		if l := mediatest.ToneLevel(last, w.tone, 48000); l < 0.05 {
			return fmt.Errorf("%s's %v Hz tone is missing (level %.4f)", w.name, w.tone, l)
		}
	}
	if absent > 0 {
		if l := mediatest.ToneLevel(last, absent, 48000); l > 0.01 {
			return fmt.Errorf("the %v Hz tone should not be there (level %.4f)", absent, l)
		}
	}
	return nil
}

// TestWHIPWHEP has two pion WHIP publishers (VP8 and H.264) join a pion
// participant of the websocket protocol, and a pion WHEP viewer watch them
// all: the participant's composite shows the publishers' colours and its
// audio their tones; the viewer's shows every colour and hears every tone,
// and is counted as a viewer, not listed. DELETE removes a publisher's
// tile; a room of viewers alone shows the waiting picture. It also checks
// the protocol details: OPTIONS and CORS, content types, PATCH trickle and
// its refusals, and the Authorize hook's 401 and 403.
func TestWHIPWHEP(t *testing.T) {
	srv := startMediaServer(t)
	base := srv.URL()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	red := colourTone{"red", color.RGBA{255, 0, 0, 255}, 440, ""}
	pubs := []colourTone{{"green", color.RGBA{0, 255, 0, 255}, 660, "vp8"}, {"blue", color.RGBA{0, 0, 255, 255}, 880, "h264"}}
	part, err := peer.Dial(ctx, peer.Options{URL: srv.WebsocketURL(), Room: "W", Name: red.name, Colour: &red.rgb, Tone: red.tone, Decode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer part.Close()
	var whips []*peer.Client
	for _, p := range pubs {
		c, err := peer.DialWHIP(ctx, peer.Options{URL: base + "/whip/W", Token: "name:" + p.name, Colour: &p.rgb, Tone: p.tone, VideoCodec: p.codec})
		if err != nil {
			t.Fatalf("WHIP %s: %v", p.name, err)
		}
		defer c.Close()
		if !strings.HasPrefix(c.Resource(), base+"/whip/W/") {
			t.Fatalf("WHIP %s: resource %q, want under %s/whip/W/", p.name, c.Resource(), base)
		}
		// A sendonly offer is answered recvonly: the publisher gets nothing.
		if sdp := c.RemoteSDP(); strings.Count(sdp, "a=recvonly") != 2 || strings.Contains(sdp, "a=sendrecv") {
			t.Fatalf("WHIP %s: answer is not recvonly on both sections:\n%s", p.name, sdp)
		}
		whips = append(whips, c)
	}
	all := append([]colourTone{red}, pubs...)
	layout := func() (mcu.RoomInfo, error) { return mediaRoom(base, "W") }
	eventually(t, 15*time.Second, "participant sees every colour", func() error {
		l, err := layout()
		if err != nil {
			return err
		}
		return tilesShow(part, l, all)
	})
	eventually(t, 5*time.Second, "participant hears both publishers", func() error { return hears(part, pubs, red.tone) })

	before, err := mediaRoom(base, "W")
	if err != nil {
		t.Fatal(err)
	}
	viewer, err := peer.DialWHEP(ctx, peer.Options{URL: base + "/whep/W", Decode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer viewer.Close()
	eventually(t, 10*time.Second, "viewer sees every colour", func() error {
		l, err := layout()
		if err != nil {
			return err
		}
		return tilesShow(viewer, l, all)
	})
	eventually(t, 5*time.Second, "viewer hears every tone", func() error { return hears(viewer, all, 0) })
	info, err := mediaRoom(base, "W")
	if err != nil {
		t.Fatal(err)
	}
	// The viewer's connection asked the room's encoder for a keyframe.
	if info.Keyframes <= before.Keyframes {
		t.Errorf("forced keyframes %d before the viewer, %d after: none for the viewer", before.Keyframes, info.Keyframes)
	}
	if len(info.Participants) != 3 || info.Viewers != 1 {
		t.Fatalf("room lists %d participants and %d viewers, want 3 and 1", len(info.Participants), info.Viewers)
	}
	// Metrics count WHIP publishers and WHEP viewers as participants.
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `mcu_room_participants{room="W"} 4`; !strings.Contains(string(body), want+"\n") {
		t.Errorf("/metrics lacks %q", want)
	}

	t.Run("Protocol", func(t *testing.T) { testMediaProtocol(t, base, whips[0].Resource()) })

	// DELETE: green's tile goes.
	if err := whips[0].Leave(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "green's tile removed", func() error {
		info, err := mediaRoom(base, "W")
		if err != nil {
			return err
		}
		if len(info.Layout) != 2 || len(info.Participants) != 2 {
			return fmt.Errorf("layout %+v, %d participants; want red and blue only", info.Layout, len(info.Participants))
		}
		return nil
	})
	resp = do(t, http.MethodDelete, whips[0].Resource(), "", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("second DELETE: %s, want 404", resp.Status)
	}

	// A room with only a viewer shows the waiting picture, not black.
	lone, err := peer.DialWHEP(ctx, peer.Options{URL: base + "/whep/empty", Decode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer lone.Close()
	eventually(t, 10*time.Second, "waiting picture", func() error {
		r, g, b, err := peer.RGBAt(lone.Picture(), 20, 20)
		if err != nil {
			return err
		}
		if !mediatest.Near(r, g, b, 44, 48, 58, 20) {
			return fmt.Errorf("corner is %d,%d,%d, want the placeholder colour 44,48,58", r, g, b)
		}
		return nil
	})
	if info, err := mediaRoom(base, "empty"); err != nil || info.Viewers != 1 || len(info.Participants) != 0 {
		t.Fatalf("room of one viewer: %+v, %v", info, err)
	}
}

func do(t *testing.T, method, url, ctype string, body io.Reader, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func testMediaProtocol(t *testing.T, base, resource string) {
	resp := do(t, http.MethodOptions, base+"/whip/W", "", nil, "Origin", "https://player.example", "Access-Control-Request-Method", "POST")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Allow") != "OPTIONS, POST" {
		t.Errorf("OPTIONS endpoint: %s, Allow %q", resp.Status, resp.Header.Get("Allow"))
	}
	for h, want := range map[string]string{
		"Access-Control-Allow-Origin":   "*",
		"Access-Control-Expose-Headers": "Location, ETag, Link, Accept-Patch",
		"Access-Control-Allow-Headers":  "Authorization, Content-Type, If-Match",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("OPTIONS %s = %q, want %q", h, got, want)
		}
	}
	resp = do(t, http.MethodOptions, resource, "", nil)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Allow") != "OPTIONS, PATCH, DELETE" {
		t.Errorf("OPTIONS resource: %s, Allow %q", resp.Status, resp.Header.Get("Allow"))
	}
	cases := []struct {
		what, method, url, ctype, body string
		headers                        []string
		status                         int
	}{
		{"offer as JSON", http.MethodPost, base + "/whip/W", "application/json", "{}", nil, http.StatusUnsupportedMediaType},
		{"empty offer", http.MethodPost, base + "/whep/W", "application/sdp", "", nil, http.StatusBadRequest},
		{"garbage offer", http.MethodPost, base + "/whip/W", "application/sdp", "v=0\r\nnonsense\r\n", nil, http.StatusBadRequest},
		{"bad room", http.MethodPost, base + "/whip/a%20b", "application/sdp", "v=0", nil, http.StatusBadRequest},
		{"bad token", http.MethodPost, base + "/whip/W", "application/sdp", "v=0", []string{"Authorization", "Bearer bad"}, http.StatusUnauthorized},
		{"viewer token publishing", http.MethodPost, base + "/whip/W", "application/sdp", "v=0", []string{"Authorization", "Bearer viewer"}, http.StatusForbidden},
		{"unknown session", http.MethodDelete, base + "/whip/W/0123", "", "", nil, http.StatusNotFound},
		{"WHIP session on the WHEP path", http.MethodDelete, strings.Replace(resource, "/whip/", "/whep/", 1), "", "", nil, http.StatusNotFound},
		{"trickle as text", http.MethodPatch, resource, "text/plain", "a=candidate:x", nil, http.StatusUnsupportedMediaType},
		{"stale ETag", http.MethodPatch, resource, "application/trickle-ice-sdpfrag", "a=mid:0\r\n", []string{"If-Match", `"nope"`}, http.StatusPreconditionFailed},
		{"ICE restart", http.MethodPatch, resource, "application/trickle-ice-sdpfrag", "a=ice-ufrag:new1\r\na=ice-pwd:newpasswordnewpassword12\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n", nil, http.StatusUnprocessableEntity},
		{"trickled candidate", http.MethodPatch, resource, "application/trickle-ice-sdpfrag", "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\na=end-of-candidates\r\n", []string{"If-Match", "*"}, http.StatusNoContent},
	}
	for _, c := range cases {
		resp := do(t, c.method, c.url, c.ctype, strings.NewReader(c.body), c.headers...)
		if resp.StatusCode != c.status {
			t.Errorf("%s: %s %s: %s, want %d", c.what, c.method, c.url, resp.Status, c.status)
		}
		if resp.Header.Get("Access-Control-Allow-Origin") != "*" && resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: no CORS header on the answer", c.what)
		}
	}
}
