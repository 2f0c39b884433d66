package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var keys = map[string]string{"APIwebhook": "a-webhook-secret-of-32-characters!"}

func receive(r *http.Request) (*Event, error) {
	e, _, err := Receive(r, func(key string) string { return keys[key] })
	return e, err
}

// receiver is a test webhook endpoint that verifies every request and
// fails the first failFirst attempts.
type receiver struct {
	mu        sync.Mutex
	events    []Event
	attempts  int
	failFirst int
	status    int // answer while failing; 500 by default
	rejected  []error
	block     chan struct{}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rc.block != nil {
		<-rc.block
	}
	e, err := receive(r)
	if ct := r.Header.Get("Content-Type"); err == nil && ct != ContentType {
		err = fmt.Errorf("content type %q", ct)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.attempts++
	if err != nil {
		rc.rejected = append(rc.rejected, err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if rc.attempts <= rc.failFirst {
		status := rc.status
		if status == 0 {
			status = http.StatusInternalServerError
		}
		w.WriteHeader(status)
		return
	}
	rc.events = append(rc.events, *e)
}

func (rc *receiver) names() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, e := range rc.events {
		out = append(out, e.Event)
	}
	return out
}

type counters struct{ delivered, failed, dropped atomic.Int32 }

func (c *counters) WebhookDelivered() { c.delivered.Add(1) }
func (c *counters) WebhookFailed()    { c.failed.Add(1) }
func (c *counters) WebhookDropped()   { c.dropped.Add(1) }

func newNotifier(c *counters, urls ...string) *Notifier {
	return New(Options{
		URLs: urls, APIKey: "APIwebhook", APISecret: keys["APIwebhook"],
		Backoff: 5 * time.Millisecond, Attempts: 4, Counters: c,
		Log: slog.New(slog.DiscardHandler),
	})
}

func lifecycle() []Event {
	room := &Room{SID: "RM_1", Name: "standup", CreationTime: 1700000000, NumParticipants: 1}
	alice := &Participant{SID: "PA_1", Identity: "alice", Name: "Alice", State: StateActive, JoinedAt: 1700000001}
	rec := &Recording{ID: "rec1", Room: "standup", State: "recording", Format: "webm"}
	done := *rec
	done.State, done.File, done.Size, done.Duration, done.DownloadURL = "finished", "standup-rec1.webm", 123456, 12.5, "https://mcu.example.org/api/recordings/rec1/file"
	left := *alice
	left.State = StateDisconnected
	var out []Event
	add := func(name string, f func(*Event)) {
		e := NewEvent(name)
		f(&e)
		out = append(out, e)
	}
	add(RoomStarted, func(e *Event) { e.Room = room })
	add(ParticipantJoined, func(e *Event) { e.Room, e.Participant = room, alice })
	add(RecordingStarted, func(e *Event) { e.Recording = rec })
	add(RecordingFinished, func(e *Event) { e.Recording = &done })
	add(ParticipantLeft, func(e *Event) { e.Room, e.Participant = room, &left })
	add(RoomFinished, func(e *Event) { e.Room = room })
	return out
}

// TestLifecycleInOrder: a receiver that fails twice before accepting still
// gets every event of a room and recording lifecycle, verified as LiveKit
// verifies, in order; a second URL gets them too.
func TestLifecycleInOrder(t *testing.T) {
	flaky := &receiver{failFirst: 2}
	steady := &receiver{}
	s1, s2 := httptest.NewServer(flaky), httptest.NewServer(steady)
	defer s1.Close()
	defer s2.Close()
	var c counters
	n := newNotifier(&c, s1.URL, s2.URL)
	events := lifecycle()
	for _, e := range events {
		n.Notify(e)
	}
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{RoomStarted, ParticipantJoined, RecordingStarted, RecordingFinished, ParticipantLeft, RoomFinished}
	for _, rc := range []*receiver{flaky, steady} {
		if got := rc.names(); !slices.Equal(got, want) {
			t.Errorf("received %v; want %v", got, want)
		}
		if len(rc.rejected) > 0 {
			t.Errorf("signature rejected: %v", rc.rejected)
		}
	}
	if flaky.attempts != len(want)+2 {
		t.Errorf("flaky receiver saw %d attempts; want %d", flaky.attempts, len(want)+2)
	}
	if c.delivered.Load() != 12 || c.failed.Load() != 0 {
		t.Errorf("delivered %d, failed %d; want 12, 0", c.delivered.Load(), c.failed.Load())
	}
	got := flaky.events[3]
	if got.ID != events[3].ID || got.CreatedAt == 0 || got.Recording == nil || got.Recording.File != "standup-rec1.webm" ||
		got.Recording.Size != 123456 || got.Recording.Duration != 12.5 || got.Recording.DownloadURL == "" {
		t.Errorf("recording_finished arrived as %+v / %+v", got, got.Recording)
	}
	if p := flaky.events[1].Participant; p == nil || p.Identity != "alice" || flaky.events[1].Room.Name != "standup" {
		t.Errorf("participant_joined arrived as %+v", flaky.events[1])
	}
}

func TestFailureCountedAndLaterEventsDelivered(t *testing.T) {
	down := &receiver{failFirst: 4} // every attempt of the first event
	srv := httptest.NewServer(down)
	defer srv.Close()
	var c counters
	n := newNotifier(&c, srv.URL)
	failed := NewEvent(RecordingFailed)
	failed.Recording = &Recording{ID: "r", Room: "x", State: "failed", Error: "recording: disk full"}
	n.Notify(failed)
	n.Notify(NewEvent(RoomFinished))
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.failed.Load() != 1 || c.delivered.Load() != 1 {
		t.Errorf("failed %d delivered %d; want 1, 1", c.failed.Load(), c.delivered.Load())
	}
	if got := down.names(); !slices.Equal(got, []string{RoomFinished}) || down.attempts != 5 {
		t.Errorf("received %v in %d attempts", got, down.attempts)
	}
}

// TestClientErrorNotRetried: a 4xx answer (other than 408/429) is final.
func TestClientErrorNotRetried(t *testing.T) {
	rc := &receiver{failFirst: 1, status: http.StatusBadRequest}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	var c counters
	n := newNotifier(&c, srv.URL)
	n.Notify(NewEvent(RoomStarted))
	_ = n.Close(context.Background())
	if rc.attempts != 1 || c.failed.Load() != 1 {
		t.Errorf("attempts %d failed %d; want 1, 1", rc.attempts, c.failed.Load())
	}
}

// TestNeverBlocks: with the receiver stuck, Notify still returns and the
// events beyond the queue are dropped and counted; Close gives up when its
// context ends.
func TestNeverBlocks(t *testing.T) {
	rc := &receiver{block: make(chan struct{})}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	defer close(rc.block)
	var c counters
	n := New(Options{URLs: []string{srv.URL}, APIKey: "APIwebhook", APISecret: keys["APIwebhook"], QueueSize: 2, Counters: &c, Log: slog.New(slog.DiscardHandler)})
	for range 10 {
		n.Notify(NewEvent(ParticipantJoined))
	}
	// One is in flight (or about to be), two are queued.
	if d := c.dropped.Load(); d < 7 || d > 8 {
		t.Errorf("dropped %d of 10 with a queue of 2", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Close with a stuck receiver: %v", err)
	}
	n.Notify(NewEvent(RoomFinished)) // after Close: ignored, no panic
}

func TestNilNotifier(t *testing.T) {
	var n *Notifier
	n.Notify(NewEvent(RoomStarted))
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	New(Options{}).Notify(NewEvent(RoomStarted)) // no URLs: nothing to do
}

// TestSignatureRejected: the receiver logic above is not a rubber stamp.
func TestSignatureRejected(t *testing.T) {
	body := []byte(`{"event":"room_started","id":"EV_1","created_at":1}`)
	for name, mk := range map[string]func() *http.Request{
		"wrong secret": func() *http.Request {
			tok, _ := Sign(body, "APIwebhook", "another-secret", time.Now())
			return req(body, tok)
		},
		"unknown key": func() *http.Request {
			tok, _ := Sign(body, "APIother", keys["APIwebhook"], time.Now())
			return req(body, tok)
		},
		"body changed": func() *http.Request {
			tok, _ := Sign(body, "APIwebhook", keys["APIwebhook"], time.Now())
			return req(append(body, ' '), tok)
		},
		"expired": func() *http.Request {
			tok, _ := Sign(body, "APIwebhook", keys["APIwebhook"], time.Now().Add(-time.Hour))
			return req(body, tok)
		},
	} {
		if _, err := receive(mk()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	tok, _ := Sign(body, "APIwebhook", keys["APIwebhook"], time.Now())
	if _, err := receive(req(body, tok)); err != nil {
		t.Errorf("good signature rejected: %v", err)
	}
}

func req(body []byte, token string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
	r.Header.Set("Content-Type", ContentType)
	r.Header.Set("Authorization", token)
	return r
}

// TestTokenLayout decodes a signature by hand: HS256 JWT, iss = API key,
// sha256 = base64 (standard, padded) SHA-256 of the body, nbf and exp five
// minutes apart; the HMAC is checked with crypto/hmac, not the JWT library.
func TestTokenLayout(t *testing.T) {
	body := []byte(`{"event":"room_started","id":"EV_1","created_at":1700000000}`)
	now := time.Unix(1700000000, 0)
	tok, err := Sign(body, "APIwebhook", keys["APIwebhook"], now)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q", tok)
	}
	var header map[string]any
	var claims map[string]any
	for i, v := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(raw, v) != nil {
			t.Fatalf("part %d: %v", i, err)
		}
	}
	sum := sha256.Sum256(body)
	if header["alg"] != "HS256" || claims["iss"] != "APIwebhook" || claims["sha256"] != base64.StdEncoding.EncodeToString(sum[:]) ||
		claims["nbf"] != float64(1700000000) || claims["exp"] != float64(1700000300) {
		t.Errorf("header %v claims %v", header, claims)
	}
	mac := hmac.New(sha256.New, []byte(keys["APIwebhook"]))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if base64.RawURLEncoding.EncodeToString(mac.Sum(nil)) != parts[2] {
		t.Error("signature is not HMAC-SHA256 of header.payload with the secret")
	}
}
