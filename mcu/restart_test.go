package mcu_test

import (
	"context"
	"image/color"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/internal/peer"
)

// An offer with new ICE credentials (an ICE restart over the websocket)
// makes the participant's receiver ignore loss for a while; the first
// offer does not.
func TestICERestartIgnoresTheMovesLoss(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	red := color.RGBA{255, 0, 0, 255}
	c, err := peer.Dial(ctx, peer.Options{URL: s.ws, Room: "restart", Name: "mover", Colour: &red, Tone: 440})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	room, err := s.Rooms.Room("restart")
	if err != nil {
		t.Fatal(err)
	}
	ps := room.Participants()
	if len(ps) != 1 {
		t.Fatalf("%d participants, want 1", len(ps))
	}
	if ps[0].LossIgnored() {
		t.Fatal("loss ignored after the first offer: only a restart changes the path")
	}
	if err := c.RestartICENow(ctx); err != nil {
		t.Fatal(err)
	}
	if !ps[0].LossIgnored() {
		t.Fatal("loss still counts right after an ICE restart")
	}
}
