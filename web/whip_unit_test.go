package web_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/mcu-dev/mcu/signaling"
	"github.com/mcu-dev/mcu/web"
)

// fakeBackend admits everyone with sessions that answer "v=0 answer".
type fakeBackend struct {
	joins, left atomic.Int32
	receiveOnly atomic.Int32
}

type fakeSession struct{ b *fakeBackend }

func (b *fakeBackend) Join(room, name string, opts signaling.JoinOptions, out signaling.Sender) (signaling.Session, error) {
	b.joins.Add(1)
	if opts.ReceiveOnly {
		b.receiveOnly.Add(1)
	}
	return fakeSession{b}, nil
}

func (s fakeSession) ID() string                                 { return "p1" }
func (s fakeSession) Offer(string) (string, error)               { return "v=0 answer", nil }
func (s fakeSession) Answer(string) error                        { return nil }
func (s fakeSession) AddCandidate(webrtc.ICECandidateInit) error { return nil }
func (s fakeSession) SetSettings(string, int) error              { return nil }
func (s fakeSession) SetMuted(_, _ *bool) error                  { return nil }
func (s fakeSession) SetScreen(bool) error                       { return nil }
func (s fakeSession) SetView(string, *string) error              { return nil }
func (s fakeSession) Leave()                                     { s.b.left.Add(1) }

// TestMediaSessionLimit: the 201 names the ICE servers in Link headers;
// one address may open MediaSessionsPerMinute
// WHIP/WHEP sessions a minute; the next gets 429 with Retry-After. WHEP
// joins are receive-only, and DELETE leaves.
func TestMediaSessionLimit(t *testing.T) {
	b := &fakeBackend{}
	srv := httptest.NewServer(web.NewHandler(web.Options{Backend: b, MediaSessionsPerMinute: 2, ICEServers: []webrtc.ICEServer{
		{URLs: []string{"stun:stun.example.com:3478"}},
		{URLs: []string{"turn:turn.example.com:3478?transport=udp"}, Username: "u1", Credential: "s3cret"},
	}}))
	defer srv.Close()
	post := func(path string) *http.Response {
		resp, err := http.Post(srv.URL+path, "application/sdp", strings.NewReader("v=0 offer"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	first := post("/whip/r")
	if first.StatusCode != http.StatusCreated || !strings.HasPrefix(first.Header.Get("Location"), "/whip/r/") || first.Header.Get("ETag") == "" {
		t.Fatalf("first POST: %s, Location %q, ETag %q", first.Status, first.Header.Get("Location"), first.Header.Get("ETag"))
	}
	wantLinks := []string{`<stun:stun.example.com:3478>; rel="ice-server"`,
		`<turn:turn.example.com:3478?transport=udp>; rel="ice-server"; username="u1"; credential="s3cret"; credential-type="password"`}
	if got := first.Header.Values("Link"); strings.Join(got, "|") != strings.Join(wantLinks, "|") {
		t.Errorf("Link headers %q, want %q", got, wantLinks)
	}
	if resp := post("/whep/r"); resp.StatusCode != http.StatusCreated || b.receiveOnly.Load() != 1 {
		t.Fatalf("WHEP POST: %s, %d receive-only joins", resp.Status, b.receiveOnly.Load())
	}
	resp := post("/whip/r")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third POST in a minute: %s (Retry-After %q), want 429", resp.Status, resp.Header.Get("Retry-After"))
	}
	if b.joins.Load() != 2 {
		t.Fatalf("%d joins, want 2: the refused POST must not join", b.joins.Load())
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+first.Header.Get("Location"), nil)
	dresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	dresp.Body.Close()
	if dresp.StatusCode != http.StatusOK || b.left.Load() != 1 {
		t.Fatalf("DELETE: %s, %d left", dresp.Status, b.left.Load())
	}
}
