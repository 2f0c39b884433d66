package mcu_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/signaling"
)

type nowhere struct{}

func (nowhere) Send(signaling.Message) {}

// TestViewerLimits: publishers and receive-only viewers have limits of
// their own, so a room full of viewers still admits its speakers; the room
// API counts viewers apart and lists publishers only.
func TestViewerLimits(t *testing.T) {
	rooms, err := mcu.NewRooms(mcu.Config{MaxParticipants: 1, MaxViewers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rooms.Close(context.Background()) }()
	join := func(name string, viewer bool) error {
		_, err := rooms.Join("v", name, signaling.JoinOptions{ReceiveOnly: viewer}, nowhere{})
		return err
	}
	for _, name := range []string{"viewer 1", "viewer 2"} {
		if err := join(name, true); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	var se *signaling.Error
	if err := join("viewer 3", true); !errors.As(err, &se) || se.Code != signaling.CodeRoomFull || !strings.Contains(se.Message, "maximum of 2 viewers") {
		t.Fatalf("third viewer: %v, want room_full about 2 viewers", err)
	}
	if err := join("speaker", false); err != nil {
		t.Fatalf("publisher beside two viewers: %v", err)
	}
	if err := join("second speaker", false); !errors.As(err, &se) || se.Code != signaling.CodeRoomFull || !strings.Contains(se.Message, "(1 participants)") {
		t.Fatalf("second publisher: %v, want room_full about 1 participant", err)
	}
	r, err := rooms.Room("v")
	if err != nil {
		t.Fatal(err)
	}
	info := r.Info()
	if info.Viewers != 2 || len(info.Participants) != 1 || info.Participants[0].Name != "speaker" || len(info.Layout) != 1 {
		t.Fatalf("room info: %d viewers, participants %+v, layout %+v; want 2 viewers and the speaker's tile only", info.Viewers, info.Participants, info.Layout)
	}
}
