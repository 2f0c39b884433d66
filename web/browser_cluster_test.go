package web_test

import (
	"context"
	"fmt"
	"image/color"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mcu-dev/mcu/internal/peer"
	"github.com/mcu-dev/mcu/internal/redistest"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/server"
)

// startClusterNode runs an in-process server in cluster mode on a free
// loopback port.
func startClusterNode(t *testing.T, redisURL string) *server.Server {
	t.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(redistest.FreePort(t)))
	s, err := server.New(server.Config{
		Rooms:   mcu.Config{Quality: output.Q360, FPS: 15, IncludeLoopback: true},
		Log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Cluster: server.Cluster{RedisURL: redisURL, NodeURL: "http://" + addr},
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
		_ = s.Close(ctx)
	})
	return s
}

// TestBrowserFollowsClusterRedirect: the page is opened on one node of a
// cluster, the room lives on the other; the web client follows the
// redirect message by itself and shows both participants.
func TestBrowserFollowsClusterRedirect(t *testing.T) {
	needChromium(t)
	rd := redistest.Start(t)
	a, b := startClusterNode(t, rd.URL), startClusterNode(t, rd.URL)

	// The room opens with a red pion participant, on whichever node the
	// cluster places it; the page is opened on the other one.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	redColour := color.RGBA{255, 0, 0, 255}
	red, err := peer.Dial(ctx, peer.Options{URL: b.WebsocketURL(), Room: "CL", Name: "red", Colour: &redColour, Tone: 440})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(red.Close)
	front, owner := a, b
	if _, err := a.Rooms.Room("CL"); err == nil {
		front, owner = b, a
	}

	p := openBrowser(t, "green", fakeCamera(t, t.TempDir(), "green", "0x00FF00"))
	url := fmt.Sprintf("%s/?room=CL&name=green&autojoin=1", front.URL())
	// Both nodes must have beaten once, so that the front knows the owner.
	time.Sleep(2500 * time.Millisecond)
	if err := p.run(10*time.Second, chromedp.Navigate(url)); err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	p.waitJS(20*time.Second, "connected on the owner", `window.mcu && window.mcu.state === 'connected'`)
	p.waitFor(15*time.Second, "#mixed with red and green", func() error {
		return p.checkMixed(640, 360, []tile{{0.25, 0.5, 255, 0, 0, "red tile (left)"}, {0.75, 0.5, 0, 255, 0, "green tile (right)"}})
	})
	room, err := owner.Rooms.Room("CL")
	if err != nil || len(room.Participants()) != 2 {
		t.Fatalf("room on the owner: %v", err)
	}
	if _, err := front.Rooms.Room("CL"); err == nil {
		t.Fatal("the front node opened the room too")
	}
}
