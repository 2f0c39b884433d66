package server_test

import (
	"context"
	"image/color"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/mcu-dev/mcu/auth"
	"github.com/mcu-dev/mcu/internal/peer"
	"github.com/mcu-dev/mcu/server"
	"github.com/mcu-dev/mcu/signaling"
)

// TestICETCPOnlyClientReceivesComposite connects a client that offers only
// TCP candidates (its UDP is "blocked") and checks that it receives the
// composite with its own tile in it, and that the joined message carries
// the configured ICE servers.
func TestICETCPOnlyClientReceivesComposite(t *testing.T) {
	turn := webrtc.ICEServer{URLs: []string{"turn:turn.example.org:3478?transport=udp"}, Username: "u", Credential: "p"}
	s := startAuth(t, "", func(c *server.Config) {
		c.ICE = server.ICE{TCPAddr: "127.0.0.1:0", Servers: []webrtc.ICEServer{turn}}
	})
	if s.ICETCPAddr() == "" {
		t.Fatal("no ICE-TCP listener")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	green := color.RGBA{0, 200, 0, 255}
	c, err := peer.Dial(ctx, peer.Options{
		URL: s.WebsocketURL(), Room: "tcp", Name: "t", Colour: &green, Tone: 500, Decode: true,
		Token:        s.mint(t, "tcp-client", auth.VideoGrant{Room: "tcp", RoomJoin: true}),
		NetworkTypes: []webrtc.NetworkType{webrtc.NetworkTypeTCP4},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var joined signaling.Message
	for _, m := range c.Events() {
		if m.Type == signaling.TypeJoined {
			joined = m
		}
	}
	if len(joined.ICEServers) != 1 || joined.ICEServers[0].URLs[0] != turn.URLs[0] || joined.ICEServers[0].Username != "u" {
		t.Errorf("joined carries ICE servers %+v", joined.ICEServers)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if img := c.Picture(); img != nil {
			b := img.Bounds()
			r, g, bl, err := peer.RGBAt(img, b.Dx()/2, b.Dy()/2)
			if err == nil && g > 150 && r < 80 && bl < 80 {
				return // our own green tile fills the one-person composite
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no composite with the green tile over ICE-TCP (picture %v)", c.Picture() != nil)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
