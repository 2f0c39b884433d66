package mcu_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"image/color"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/mcu-dev/mcu/internal/peer"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/signaling"
)

func readUntil(t *testing.T, ws *websocket.Conn, typ string) signaling.Message {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var m signaling.Message
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		if m.Type == typ {
			return m
		}
	}
}

// TestRoomSurvivesBadInput sends an invalid offer and then garbage in place
// of VP8 pictures: the offender gets an error and a placeholder tile, the
// others keep their picture, and the room keeps admitting people.
func TestRoomSurvivesBadInput(t *testing.T) {
	s := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	red := color.RGBA{255, 0, 0, 255}
	good, err := peer.Dial(ctx, peer.Options{URL: s.ws, Room: "bad", Name: "good", Colour: &red, Decode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()

	ws := joinBare(t, s.ws, "bad", "garbage")
	if err := ws.WriteJSON(signaling.Message{Type: signaling.TypeOffer, SDP: "v=0 this is not SDP"}); err != nil {
		t.Fatal(err)
	}
	if m := readUntil(t, ws, signaling.TypeError); m.Code != signaling.CodeBadRequest || !strings.Contains(m.Message, "offer") {
		t.Errorf("bad offer answered %+v", m)
	}

	// The same connection then negotiates properly and sends garbage pictures.
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "garbage")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
		t.Fatal(err)
	}
	negotiate(t, ws, pc)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(time.Second / 15)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			junk := make([]byte, 800)
			_, _ = rand.Read(junk)
			junk[0] &^= 1 // claim to be a keyframe, so the decoder tries it
			_ = track.WriteSample(media.Sample{Data: junk, Duration: time.Second / 15})
		}
	}()

	eventually(t, 10*time.Second, "decode errors counted and PLIs sent for garbage", func() error {
		resp, err := http.Get(s.URL() + "/api/rooms/bad")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var info mcu.RoomInfo
		if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
			return err
		}
		for _, p := range info.Participants {
			if p.Name == "garbage" && p.DecodeErrors > 0 && p.PLIsSent > 0 {
				return nil
			}
		}
		return fmt.Errorf("no decode errors yet: %+v", info.Participants)
	})
	// Good keeps its colour; garbage has a placeholder (left/right at 360p).
	eventually(t, 5*time.Second, "picture with the good tile and a placeholder", func() error {
		return checkTiles(good, 640, 360,
			tileWant{160, 180, 255, 0, 0, "good tile"},
			tileWant{480, 180, placeholder[0], placeholder[1], placeholder[2], "garbage placeholder"})
	})
	// The room still admits people.
	blue := color.RGBA{0, 0, 255, 255}
	late, err := peer.Dial(ctx, peer.Options{URL: s.ws, Room: "bad", Name: "late", Colour: &blue, Decode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	eventually(t, 10*time.Second, "late joiner gets the composite", func() error {
		return checkTiles(late, 640, 360, tileWant{160, 90, 255, 0, 0, "good tile"})
	})
}
