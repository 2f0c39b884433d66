package signaling

import (
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
