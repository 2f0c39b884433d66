package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"testing"

	"github.com/pion/webrtc/v4"
)

// fuzzBackend admits every join and answers like a room layer would,
// failing on a few inputs to exercise the error paths. It never blocks.
type fuzzBackend struct{}

func (fuzzBackend) Join(room, name string, _ JoinOptions, out Sender) (Session, error) {
	if room == "full" {
		return nil, &Error{Code: CodeRoomFull, Message: "room is full"}
	}
	out.Send(Message{Type: TypeJoined, ParticipantID: "p1", Room: room, Participants: []Participant{{ID: "p1", Name: name}}})
	return &fuzzSession{out: out}, nil
}

type fuzzSession struct {
	out    Sender
	leaves int
}

func (s *fuzzSession) ID() string { return "p1" }
func (s *fuzzSession) Offer(sdp string) (string, error) {
	if len(sdp) < 4 {
		return "", &Error{Code: CodeBadRequest, Message: "invalid offer"}
	}
	return "answer", nil
}
func (s *fuzzSession) Answer(string) error { return nil }
func (s *fuzzSession) AddCandidate(c webrtc.ICECandidateInit) error {
	if c.Candidate == "" {
		return errors.New("empty candidate")
	}
	return nil
}
func (s *fuzzSession) SetSettings(q string, fps int) error {
	s.out.Send(Message{Type: TypeSettings, Quality: q, FPS: fps})
	return nil
}
func (s *fuzzSession) SetMuted(video, audio *bool) error { return nil }
func (s *fuzzSession) SetScreen(bool) error              { return nil }
func (s *fuzzSession) SetView(string, *string) error     { return nil }
func (s *fuzzSession) Leave()                            { s.leaves++ }

var knownCodes = []string{CodeBadMessage, CodeUnknownType, CodeNotJoined, CodeAlreadyJoined, CodeBadRequest,
	CodeRoomFull, CodeTooLarge, CodeInternal}

// FuzzHandleMessages feeds a connection a sequence of client messages,
// one per line, as its read loop does, without a network. Every reply
// must be a well-formed protocol message; errors carry a known code and a
// text; nothing but a join (or a ping) is served before joining; a
// session leaves at most once.
func FuzzHandleMessages(f *testing.F) {
	for _, seed := range []string{
		`{"type":"join","room":"r1","name":"Alice"}` + "\n" + `{"type":"offer","sdp":"v=0..."}`,
		`{"type":"ping"}`,
		`{"type":"offer","sdp":"x"}`,
		`{"type":"join","room":"../etc","name":"x"}`,
		`{"type":"join","room":"r","name":"` + "\u0007" + `"}`,
		`{"type":"join","room":"full","name":"Bob"}`,
		`{"type":"join","room":"r","name":"a"}` + "\n" + `{"type":"join","room":"r","name":"a"}`,
		`{"type":"join","room":"r","name":"a"}` + "\n" + `{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0"}}`,
		`{"type":"join","room":"r","name":"a"}` + "\n" + `{"type":"settings","quality":"480p","fps":15}` + "\n" + `{"type":"settings","fps":25}`,
		`{"type":"join","room":"r","name":"a"}` + "\n" + `{"type":"mute","video":true}` + "\n" + `{"type":"mute"}`,
		`{"type":"join","room":"r","name":"a"}` + "\n" + `{"type":"leave"}` + "\n" + `{"type":"offer","sdp":"late"}`,
		`{"type":"answer","sdp":""}`,
		`{"type":"nope"}`,
		`{"type":1}`,
		`[]`,
		`{`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		srv := NewServer(fuzzBackend{}, nil, Options{})
		c := newConn(srv, nil, slog.New(slog.DiscardHandler))
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			if c.stopping() {
				break // the read loop discards everything after a close
			}
			var in struct {
				Type string `json:"type"`
			}
			_ = json.Unmarshal(line, &in)
			joinedBefore := c.session != nil
			c.handle(line)
			replies := drain(c)
			for _, m := range replies {
				if m.Type == "" {
					t.Fatalf("reply without a type to %q", line)
				}
				if _, err := json.Marshal(m); err != nil {
					t.Fatalf("reply does not encode: %v", err)
				}
				if m.Type == TypeError && (!slices.Contains(knownCodes, m.Code) || m.Message == "") {
					t.Fatalf("error reply %+v to %q", m, line)
				}
			}
			if !joinedBefore && in.Type != TypeJoin && in.Type != TypePing {
				for _, m := range replies {
					if m.Type != TypeError {
						t.Fatalf("%q before joining answered with %s", line, m.Type)
					}
				}
			}
		}
		c.stop(1000, "", false)
		c.leave()
		if s, ok := c.session.(*fuzzSession); ok && s.leaves != 1 {
			t.Fatalf("session left %d times", s.leaves)
		}
	})
}

func drain(c *conn) []Message { return c.out.take(nil) }
