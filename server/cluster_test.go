package server_test

import (
	"context"
	"image/color"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/mcu-dev/mcu/internal/peer"
	"github.com/mcu-dev/mcu/internal/redistest"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/server"
	"github.com/mcu-dev/mcu/signaling"
)

// startNode runs an in-process server in cluster mode on a free loopback
// port, with a fast heartbeat.
func startNode(t *testing.T, redisURL string) *server.Server {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))
	s, err := server.New(server.Config{
		Rooms: mcu.Config{Quality: "360p", FPS: 15, IncludeLoopback: true},
		Log:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Cluster: server.Cluster{RedisURL: redisURL, NodeURL: "http://" + addr,
			Heartbeat: 200 * time.Millisecond, NodeTTL: time.Second, LeaseTTL: 1500 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return s
}

// wsJoin joins room over a raw websocket and returns the first message the
// server sends back, and the connection.
func wsJoin(t *testing.T, url, room string, header http.Header) (signaling.Message, *websocket.Conn) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, header)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	if err := ws.WriteJSON(signaling.Message{Type: signaling.TypeJoin, Room: room, Name: "n"}); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m signaling.Message
	if err := ws.ReadJSON(&m); err != nil {
		t.Fatal(err)
	}
	return m, ws
}

// TestClusterSendsJoinsToTheRoomsNode: with two nodes, a room opened on
// one is reached through the other: a websocket join gets a redirect to
// the owner's /ws, WHIP a 307 to the owner, the room API is answered by
// the owner through the node asked, the room list holds every node's
// rooms, and a page of one node may open the
// other's websocket.
func TestClusterSendsJoinsToTheRoomsNode(t *testing.T) {
	rd := redistest.Start(t)
	a, b := startNode(t, rd.URL), startNode(t, rd.URL)
	// Both registered: each has beaten once at least.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, _ := rd.Client().HLen(context.Background(), "mcu:nodes").Result()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d nodes registered", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // the origins of both are known

	// The room opens on the node the cluster picks (b, or a by a redirect);
	// call the other one a.
	m, _ := wsJoin(t, b.WebsocketURL(), "r", nil)
	if m.Type == signaling.TypeRedirect && m.URL == a.WebsocketURL() {
		a, b = b, a
		m, _ = wsJoin(t, b.WebsocketURL(), "r", nil)
	}
	if m.Type != signaling.TypeJoined {
		t.Fatalf("join on the room's node: %+v", m)
	}

	m, ws := wsJoin(t, a.WebsocketURL(), "r", nil)
	if m.Type != signaling.TypeRedirect || m.URL != b.WebsocketURL() {
		t.Fatalf("join on a: %+v, want a redirect to %s", m, b.WebsocketURL())
	}
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("after the redirect: %v, want a normal close", err)
	}

	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Post(a.URL()+"/whip/r?name=x", "application/sdp", strings.NewReader("v=0\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTemporaryRedirect || res.Header.Get("Location") != b.URL()+"/whip/r?name=x" {
		t.Fatalf("WHIP on a: %d Location %q, want 307 to b", res.StatusCode, res.Header.Get("Location"))
	}

	// A WHIP publisher that follows the redirect ends up in b's room, with
	// a session resource on b (absolute: clients may resolve it against
	// the URL they first posted to).
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	blue := color.RGBA{0, 0, 255, 255}
	pub, err := peer.DialWHIP(ctx, peer.Options{URL: a.URL() + "/whip/r?name=whip", Name: "whip", Colour: &blue, Tone: 300})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(pub.Resource(), b.URL()+"/whip/r/") {
		t.Fatalf("WHIP resource %q, want one on %s", pub.Resource(), b.URL())
	}
	room, err := b.Rooms.Room("r")
	if err != nil {
		t.Fatal(err)
	}
	waitParticipants := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for len(room.Participants()) != n {
			if time.Now().After(deadline) {
				t.Fatalf("%d participants in r, want %d", len(room.Participants()), n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitParticipants(2)
	if err := pub.Leave(); err != nil { // DELETE of the resource, on b
		t.Fatal(err)
	}
	waitParticipants(1)

	res, err = http.Get(a.URL() + "/api/rooms/r")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"name":"r"`) {
		t.Fatalf("GET /api/rooms/r on a: %d %s", res.StatusCode, body)
	}
	res, err = http.Get(a.URL() + "/api/rooms")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"name":"r"`) {
		t.Fatalf("GET /api/rooms on a does not list b's room: %d %s", res.StatusCode, body)
	}
	res, err = http.Get(a.URL() + "/api/rooms/nowhere")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET of a room nobody has: %d, want 404", res.StatusCode)
	}

	// The page came from a; its websocket goes to b.
	m, _ = wsJoin(t, b.WebsocketURL(), "r", http.Header{"Origin": {a.URL()}})
	if m.Type != signaling.TypeJoined {
		t.Fatalf("join on b from a page of a: %+v", m)
	}
	if _, _, err := websocket.DefaultDialer.Dial(b.WebsocketURL(), http.Header{"Origin": {"http://evil.example"}}); err == nil {
		t.Fatal("a foreign origin opened a websocket")
	}
}
