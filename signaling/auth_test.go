package signaling

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/mcu-dev/mcu/auth"
)

const sigKey, sigSecret = "APIsig", "signaling-test-secret-0123456789abcdef"

func authEnv(t *testing.T) (*testEnv, *auth.Keys, *auth.Limiter) {
	t.Helper()
	keys, err := auth.NewKeys(sigKey, sigSecret)
	if err != nil {
		t.Fatal(err)
	}
	lim := auth.NewLimiter()
	lim.Free, lim.Base, lim.Max = 100, time.Millisecond, time.Millisecond
	opts := testOptions()
	opts.Keys, opts.Limiter = keys, lim
	return start(t, opts), keys, lim
}

func mint(t *testing.T, keys *auth.Keys, identity, name string, g auth.VideoGrant, validFor time.Duration) string {
	t.Helper()
	tok, err := keys.Mint(auth.NewClaims(identity, name, g, validFor))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (e *testEnv) dialToken(t *testing.T, token string, header http.Header) *client {
	t.Helper()
	u := e.url
	if token != "" {
		u += "?access_token=" + url.QueryEscape(token)
	}
	ws, resp, err := websocket.DefaultDialer.Dial(u, header)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	t.Cleanup(func() { ws.Close() })
	return &client{t: t, ws: ws}
}

func (e *testEnv) expectNoSession(t *testing.T) {
	t.Helper()
	select {
	case s := <-e.backend.sessions:
		t.Fatalf("a refused client joined: %+v", s)
	default:
	}
}

func TestTokenRefusedAtConnect(t *testing.T) {
	e, keys, lim := authEnv(t)
	other, _ := auth.NewKeys(sigKey, "some-other-secret-0123456789abcdefghij")
	good := auth.VideoGrant{Room: "r", RoomJoin: true}
	for name, tok := range map[string]string{
		"none":         "",
		"malformed":    "not.a.jwt",
		"expired":      mint(t, keys, "a", "A", good, -5*time.Minute),
		"wrong secret": mint(t, other, "a", "A", good, time.Hour),
	} {
		t.Run(name, func(t *testing.T) {
			before := lim.Failures("127.0.0.1")
			c := e.dialToken(t, tok, nil)
			m := c.expectError(CodeUnauthorized)
			if m.Message == "" || strings.Contains(m.Message, sigSecret) {
				t.Fatalf("message %q", m.Message)
			}
			// Whatever the client sends now is ignored.
			c.ws.WriteJSON(Message{Type: TypeJoin, Room: "r", Name: "x"})
			c.expectClose(websocket.ClosePolicyViolation)
			e.expectNoSession(t)
			if lim.Failures("127.0.0.1") != before+1 {
				t.Fatalf("failure not counted for the address")
			}
		})
	}
}

func TestTokenRoomAndName(t *testing.T) {
	e, keys, _ := authEnv(t)
	tok := mint(t, keys, "alice-1", "Alice", auth.VideoGrant{Room: "r", RoomJoin: true}, time.Hour)

	// Another room: forbidden, closed, nobody joined.
	c := e.dialToken(t, tok, nil)
	c.send(Message{Type: TypeJoin, Room: "other", Name: "Alice"})
	if m := c.expectError(CodeForbidden); !strings.Contains(m.Message, "roomJoin") {
		t.Fatalf("forbidden message %q does not name the grant", m.Message)
	}
	c.expectClose(websocket.ClosePolicyViolation)
	e.expectNoSession(t)

	// The token's room when the message names none; the token's name wins.
	c = e.dialToken(t, tok, nil)
	c.send(Message{Type: TypeJoin, Name: "Mallory"})
	joined := c.expect(TypeJoined)
	s := e.backend.nextSession(t)
	if joined.Room != "r" || s.room != "r" || s.name != "Alice" || s.opts.Identity != "alice-1" || s.opts.ReceiveOnly {
		t.Fatalf("joined %q as %q with %+v", s.room, s.name, s.opts)
	}

	// A join-only participant may not change the room's output.
	c.send(Message{Type: TypeSettings, Quality: "360p"})
	if m := c.expectError(CodeForbidden); !strings.Contains(m.Message, "roomAdmin") {
		t.Fatalf("message %q", m.Message)
	}
	c.expectClose(websocket.ClosePolicyViolation)
	s.waitLeft(t)
	if len(s.settings) != 0 {
		t.Fatalf("settings applied: %v", s.settings)
	}
}

func TestTokenCanPublishFalseJoinsReceiveOnly(t *testing.T) {
	e, keys, _ := authEnv(t)
	no := false
	tok := mint(t, keys, "viewer", "Viewer", auth.VideoGrant{Room: "r", RoomJoin: true, CanPublish: &no}, time.Hour)
	c := e.dialToken(t, tok, nil)
	c.send(Message{Type: TypeJoin, Room: "r"})
	c.expect(TypeJoined)
	if s := e.backend.nextSession(t); !s.opts.ReceiveOnly {
		t.Fatal("canPublish=false did not join receive-only")
	}
}

func TestTokenAdminAndHeader(t *testing.T) {
	e, keys, _ := authEnv(t)
	tok := mint(t, keys, "host", "", auth.VideoGrant{Room: "r", RoomJoin: true, RoomAdmin: true}, time.Hour)
	// Non-browser clients may send the token as a header.
	c := e.dialToken(t, "", http.Header{"Authorization": {"Bearer " + tok}})
	c.send(Message{Type: TypeJoin, Room: "r"})
	c.expect(TypeJoined)
	s := e.backend.nextSession(t)
	if s.name != "host" {
		t.Fatalf("name %q, want the identity when the token has no name", s.name)
	}
	c.send(Message{Type: TypeSettings, Quality: "480p", FPS: 15})
	if m := c.expect(TypeSettings); m.Quality != "480p" {
		t.Fatalf("settings %+v", m)
	}
}

func TestRecordingEventsCarryDownloadTokens(t *testing.T) {
	e, keys, _ := authEnv(t)
	recorder := e.dialToken(t, mint(t, keys, "host", "Host", auth.VideoGrant{Room: "r", RoomJoin: true, RoomRecord: true}, time.Hour), nil)
	viewer := e.dialToken(t, mint(t, keys, "v", "V", auth.VideoGrant{Room: "r", RoomJoin: true}, time.Hour), nil)
	var sessions []*fakeSession
	for _, c := range []*client{recorder, viewer} {
		c.send(Message{Type: TypeJoin, Room: "r"})
		c.expect(TypeJoined)
		sessions = append(sessions, e.backend.nextSession(t))
	}
	event := Message{Type: TypeRecording, Recording: json.RawMessage(`{"id":"0123456789abcdef","room":"r","state":"recording","download_url":"/api/recordings/0123456789abcdef/download"}`)}
	for _, s := range sessions {
		s.out.Send(event)
	}
	link := func(c *client) string {
		m := c.expect(TypeRecording)
		var rec struct {
			DownloadURL string `json:"download_url"`
			State       string `json:"state"`
		}
		if err := json.Unmarshal(m.Recording, &rec); err != nil || rec.State != "recording" {
			t.Fatalf("recording event %s: %v", m.Recording, err)
		}
		return rec.DownloadURL
	}
	u, err := url.Parse(link(recorder))
	if err != nil {
		t.Fatal(err)
	}
	claims, err := keys.Verify(u.Query().Get("access_token"))
	if err != nil || claims.Download("0123456789abcdef", "other") != nil {
		t.Fatalf("the recorder's link carries no download token for the recording: %v %v", u, err)
	}
	if l := link(viewer); strings.Contains(l, "access_token") {
		t.Fatalf("a participant without roomRecord got a download token: %s", l)
	}
}
