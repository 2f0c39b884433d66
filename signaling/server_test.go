package signaling

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
)

// fakeBackend admits everyone except room "full" and announces each join.
type fakeBackend struct {
	mu       sync.Mutex
	n        int
	sessions chan *fakeSession
}

func newFakeBackend() *fakeBackend {
	return &fakeBackend{sessions: make(chan *fakeSession, 16)}
}

func (b *fakeBackend) Join(room, name string, opts JoinOptions, out Sender) (Session, error) {
	if room == "full" {
		return nil, fmt.Errorf("fake: joining %s: %w", room, &Error{Code: CodeRoomFull, Message: "room is full"})
	}
	b.mu.Lock()
	b.n++
	id := fmt.Sprintf("p%d", b.n)
	b.mu.Unlock()
	s := &fakeSession{id: id, room: room, name: name, opts: opts, out: out, left: make(chan struct{})}
	out.Send(Message{
		Type: TypeJoined, ParticipantID: id, Room: room,
		Participants: []Participant{{ID: id, Name: name}},
		Quality:      "720p", FPS: 30,
	})
	b.sessions <- s
	return s, nil
}

// nextSession returns the session of the latest join.
func (b *fakeBackend) nextSession(t *testing.T) *fakeSession {
	t.Helper()
	select {
	case s := <-b.sessions:
		return s
	case <-time.After(2 * time.Second):
		t.Fatal("no session joined")
		return nil
	}
}

type fakeSession struct {
	id, room, name string
	opts           JoinOptions
	out            Sender

	mu         sync.Mutex
	answers    []string
	candidates []webrtc.ICECandidateInit
	settings   []string
	mutes      []string

	leaves atomic.Int32
	left   chan struct{} // closed by the first Leave
}

func (s *fakeSession) ID() string { return s.id }

func (s *fakeSession) Offer(sdp string) (string, error) {
	switch sdp {
	case "boom":
		return "", errors.New("boom")
	case "coded":
		return "", fmt.Errorf("fake: %w", &Error{Code: CodeBadRequest, Message: "no video"})
	}
	return "answer-to-" + sdp, nil
}

func (s *fakeSession) Answer(sdp string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers = append(s.answers, sdp)
	return nil
}

func (s *fakeSession) AddCandidate(c webrtc.ICECandidateInit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.candidates = append(s.candidates, c)
	return nil
}

func (s *fakeSession) SetSettings(quality string, fps int) error {
	s.mu.Lock()
	s.settings = append(s.settings, fmt.Sprintf("%s/%d", quality, fps))
	s.mu.Unlock()
	s.out.Send(Message{Type: TypeSettings, Quality: quality, FPS: fps})
	return nil
}

func (s *fakeSession) SetScreen(bool) error { return nil }

func (s *fakeSession) SetView(string, *string) error { return nil }

func (s *fakeSession) SetMuted(video, audio *bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mutes = append(s.mutes, fmt.Sprintf("video=%v audio=%v", deref(video), deref(audio)))
	return nil
}

func deref(b *bool) string {
	if b == nil {
		return "-"
	}
	return fmt.Sprint(*b)
}

func (s *fakeSession) Leave() {
	if s.leaves.Add(1) == 1 {
		close(s.left)
	}
}

func (s *fakeSession) waitLeft(t *testing.T) {
	t.Helper()
	select {
	case <-s.left:
	case <-time.After(3 * time.Second):
		t.Fatal("session did not leave")
	}
}

type testEnv struct {
	backend *fakeBackend
	srv     *Server
	http    *httptest.Server
	url     string
}

func testOptions() Options {
	return Options{PingInterval: time.Second, PongWait: 5 * time.Second, WriteWait: 300 * time.Millisecond}
}

func start(t *testing.T, opts Options) *testEnv {
	t.Helper()
	b := newFakeBackend()
	srv := NewServer(b, nil, opts)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
	})
	return &testEnv{backend: b, srv: srv, http: hs, url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"}
}

type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func (e *testEnv) dial(t *testing.T) *client {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(e.url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	t.Cleanup(func() { ws.Close() })
	return &client{t: t, ws: ws}
}

func (c *client) send(m Message) {
	c.t.Helper()
	if err := c.ws.WriteJSON(m); err != nil {
		c.t.Fatalf("send %s: %v", m.Type, err)
	}
}

func (c *client) sendRaw(s string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("send raw: %v", err)
	}
}

func (c *client) recv() (Message, error) {
	var m Message
	c.ws.SetReadDeadline(time.Now().Add(2 * time.Second))
	err := c.ws.ReadJSON(&m)
	return m, err
}

func (c *client) expect(typ string) Message {
	c.t.Helper()
	m, err := c.recv()
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", typ, err)
	}
	if m.Type != typ {
		c.t.Fatalf("got %+v, want type %s", m, typ)
	}
	return m
}

func (c *client) expectError(code string) Message {
	c.t.Helper()
	m := c.expect(TypeError)
	if m.Code != code {
		c.t.Fatalf("got error %s (%s), want %s", m.Code, m.Message, code)
	}
	return m
}

// roundTrip pings and waits for the pong; messages are handled in order, so
// everything sent before has been handled by then.
func (c *client) roundTrip() {
	c.t.Helper()
	c.send(Message{Type: TypePing})
	c.expect(TypePong)
}

// expectClose reads until the connection ends and checks the close status.
func (c *client) expectClose(code int) {
	c.t.Helper()
	for {
		_, _, err := c.ws.ReadMessage()
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, code) {
			c.t.Fatalf("connection ended with %v, want close status %d", err, code)
		}
		return
	}
}

func (c *client) join(e *testEnv, room, name string) (*fakeSession, Message) {
	c.t.Helper()
	c.send(Message{Type: TypeJoin, Room: room, Name: name})
	m := c.expect(TypeJoined)
	return e.backend.nextSession(c.t), m
}

func TestJoinOfferAnswer(t *testing.T) {
	e := start(t, testOptions())
	c := e.dial(t)
	s, joined := c.join(e, "room-1", "  Alice ")
	if s.room != "room-1" || s.name != "Alice" {
		t.Errorf("Join(%q, %q), want room-1, Alice", s.room, s.name)
	}
	if joined.ParticipantID != s.id || joined.Room != "room-1" || len(joined.Participants) != 1 {
		t.Errorf("joined = %+v", joined)
	}

	c.send(Message{Type: TypeOffer, SDP: "v=0 client"})
	if a := c.expect(TypeAnswer); a.SDP != "answer-to-v=0 client" {
		t.Errorf("answer sdp = %q", a.SDP)
	}

	// Renegotiation started by the server.
	s.out.Send(Message{Type: TypeOffer, SDP: "v=0 server"})
	c.expect(TypeOffer)
	c.send(Message{Type: TypeAnswer, SDP: "v=0 reply"})
	c.roundTrip()
	s.mu.Lock()
	answers := s.answers
	s.mu.Unlock()
	if len(answers) != 1 || answers[0] != "v=0 reply" {
		t.Errorf("answers = %q", answers)
	}
}

func TestCandidatesBothWays(t *testing.T) {
	e := start(t, testOptions())
	c := e.dial(t)
	s, _ := c.join(e, "r", "a")

	mid, idx := "0", uint16(0)
	in := webrtc.ICECandidateInit{Candidate: "candidate:1 1 udp 2122260223 192.0.2.1 5000 typ host", SDPMid: &mid, SDPMLineIndex: &idx}
	c.send(Message{Type: TypeCandidate, Candidate: &in})
	c.send(Message{Type: TypeCandidate})
	c.expectError(CodeBadMessage)
	c.roundTrip()
	s.mu.Lock()
	got := s.candidates
	s.mu.Unlock()
	if len(got) != 1 || got[0].Candidate != in.Candidate || *got[0].SDPMid != "0" || *got[0].SDPMLineIndex != 0 {
		t.Errorf("candidates = %+v", got)
	}

	out := webrtc.ICECandidateInit{Candidate: "candidate:2 1 udp 1 198.51.100.7 6000 typ host", SDPMid: &mid}
	s.out.Send(Message{Type: TypeCandidate, Candidate: &out})
	m := c.expect(TypeCandidate)
	if m.Candidate == nil || m.Candidate.Candidate != out.Candidate {
		t.Errorf("candidate = %+v", m.Candidate)
	}
}

func TestProtocolErrors(t *testing.T) {
	e := start(t, testOptions())
	c := e.dial(t)

	c.sendRaw(`{"type":`)
	c.expectError(CodeBadMessage)
	c.sendRaw(`{"type":"join","fps":"thirty"}`)
	c.expectError(CodeBadMessage)
	c.sendRaw(`{}`)
	c.expectError(CodeBadMessage)
	if err := c.ws.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	c.expectError(CodeBadMessage)
	c.send(Message{Type: "dance"})
	c.expectError(CodeUnknownType)
	for _, typ := range []string{TypeOffer, TypeAnswer, TypeCandidate, TypeSettings, TypeLeave} {
		c.send(Message{Type: typ, SDP: "x"})
		c.expectError(CodeNotJoined)
	}
	c.roundTrip() // still usable

	c.join(e, "r", "a")
	c.send(Message{Type: TypeJoin, Room: "r", Name: "b"})
	c.expectError(CodeAlreadyJoined)
	c.send(Message{Type: TypeOffer})
	c.expectError(CodeBadMessage)
	c.send(Message{Type: TypeAnswer})
	c.expectError(CodeBadMessage)
	c.roundTrip()
}

func TestJoinValidation(t *testing.T) {
	e := start(t, testOptions())
	c := e.dial(t)
	tests := []struct {
		room, name, field string
	}{
		{"", "a", "room"},
		{"a b", "a", "room"},
		{"../etc", "a", "room"},
		{"é", "a", "room"},
		{strings.Repeat("r", 65), "a", "room"},
		{"r", "", "name"},
		{"r", "   ", "name"},
		{"r", strings.Repeat("é", 65), "name"},
		{"r", "a\x00b", "name"},
	}
	for _, tt := range tests {
		c.send(Message{Type: TypeJoin, Room: tt.room, Name: tt.name})
		m := c.expectError(CodeBadRequest)
		if !strings.HasPrefix(m.Message, tt.field+":") {
			t.Errorf("join(%q, %q): message %q does not name %s", tt.room, tt.name, m.Message, tt.field)
		}
	}
	c.send(Message{Type: TypeJoin, Room: "full", Name: "a"})
	c.expectError(CodeRoomFull)
	c.join(e, strings.Repeat("R_-9", 16), strings.Repeat("é", 64))
}

func TestBackendErrors(t *testing.T) {
	e := start(t, testOptions())
	c := e.dial(t)
	c.join(e, "r", "a")
	c.send(Message{Type: TypeOffer, SDP: "coded"})
	if m := c.expectError(CodeBadRequest); m.Message != "no video" {
		t.Errorf("message = %q", m.Message)
	}
	c.send(Message{Type: TypeOffer, SDP: "boom"})
	if m := c.expectError(CodeInternal); !strings.Contains(m.Message, "boom") {
		t.Errorf("message = %q", m.Message)
	}
}

func TestSettings(t *testing.T) {
	e := start(t, testOptions())
	c := e.dial(t)
	s, _ := c.join(e, "r", "a")
	bad := []struct {
		m    Message
		code string
	}{
		{Message{Type: TypeSettings}, CodeBadMessage},
		{Message{Type: TypeSettings, Quality: "1080p"}, CodeBadRequest},
		{Message{Type: TypeSettings, FPS: 25}, CodeBadRequest},
		{Message{Type: TypeSettings, Quality: "720p", FPS: -1}, CodeBadRequest},
	}
	for _, tt := range bad {
		c.send(tt.m)
		c.expectError(tt.code)
	}
	c.send(Message{Type: TypeSettings, Quality: "480p"})
	if m := c.expect(TypeSettings); m.Quality != "480p" {
		t.Errorf("settings event = %+v", m)
	}
	c.send(Message{Type: TypeSettings, Quality: "360p", FPS: 15})
	c.expect(TypeSettings)
	s.mu.Lock()
	got := strings.Join(s.settings, " ")
	s.mu.Unlock()
	if got != "480p/0 360p/15" {
		t.Errorf("SetSettings calls = %q", got)
	}
}

func TestMute(t *testing.T) {
	e := start(t, testOptions())
	c := e.dial(t)
	c.send(Message{Type: TypeMute, Video: new(bool)})
	c.expectError(CodeNotJoined)
	s, _ := c.join(e, "r", "a")
	c.send(Message{Type: TypeMute})
	c.expectError(CodeBadMessage)
	on, off := false, true
	c.send(Message{Type: TypeMute, Video: &off})
	c.send(Message{Type: TypeMute, Audio: &off, Video: &on})
	c.send(Message{Type: TypePing})
	c.expect(TypePong)
	s.mu.Lock()
	got := strings.Join(s.mutes, "; ")
	s.mu.Unlock()
	if got != "video=true audio=-; video=false audio=true" {
		t.Errorf("SetMuted calls = %q", got)
	}
}

func TestOversizeMessage(t *testing.T) {
	opts := testOptions()
	opts.MaxMessageBytes = 1024
	e := start(t, opts)
	c := e.dial(t)
	s, _ := c.join(e, "r", "a")
	c.send(Message{Type: TypePing, Name: strings.Repeat("x", 990)}) // 1018 bytes: just under
	c.expect(TypePong)
	c.send(Message{Type: TypeOffer, SDP: strings.Repeat("x", 4096)})
	c.expectError(CodeTooLarge)
	c.expectClose(websocket.CloseMessageTooBig)
	s.waitLeft(t)
}

func TestLeaveExactlyOnce(t *testing.T) {
	e := start(t, testOptions())

	byMessage := e.dial(t)
	s1, _ := byMessage.join(e, "r", "a")
	byMessage.send(Message{Type: TypeLeave})
	byMessage.expectClose(websocket.CloseNormalClosure)

	byClose := e.dial(t)
	s2, _ := byClose.join(e, "r", "b")
	byClose.ws.Close()

	s1.waitLeft(t)
	s2.waitLeft(t)
	e.srv.Close() // waits for both connections to finish
	for _, s := range []*fakeSession{s1, s2} {
		if n := s.leaves.Load(); n != 1 {
			t.Errorf("%s: Leave called %d times", s.id, n)
		}
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	b := newFakeBackend()
	srv := NewServer(b, nil, testOptions())
	hs := httptest.NewServer(srv)
	e := &testEnv{backend: b, srv: srv, http: hs, url: "ws" + strings.TrimPrefix(hs.URL, "http")}

	var clients []*client
	var sessions []*fakeSession
	for i := range 3 {
		c := e.dial(t)
		s, _ := c.join(e, "r", fmt.Sprint("p", i))
		clients = append(clients, c)
		sessions = append(sessions, s)
	}
	// Clients keep reading so that they answer the close handshake.
	var wg sync.WaitGroup
	errs := make([]error, len(clients))
	for i, c := range clients {
		wg.Go(func() {
			for {
				if _, _, err := c.ws.ReadMessage(); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	srv.Close()
	srv.Close() // idempotent
	wg.Wait()
	for i, err := range errs {
		if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Errorf("client %d ended with %v, want going away", i, err)
		}
		if n := sessions[i].leaves.Load(); n != 1 {
			t.Errorf("client %d: Leave called %d times", i, n)
		}
	}

	resp, err := http.Get(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("after Close: status %d, want 503", resp.StatusCode)
	}

	for _, c := range clients {
		c.ws.Close()
	}
	hs.Close()
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSlowConsumerClosed(t *testing.T) {
	opts := testOptions()
	opts.SendQueue = 2
	opts.WriteWait = 200 * time.Millisecond
	e := start(t, opts)
	c := e.dial(t)
	s, _ := c.join(e, "r", "a")

	// The client stops reading; the server's queue fills up.
	big := strings.Repeat("x", 32<<10)
	for range 4000 {
		s.out.Send(Message{Type: TypeOffer, SDP: big})
		select {
		case <-s.left:
		default:
			continue
		}
		break
	}
	s.waitLeft(t)
	for {
		_, _, err := c.ws.ReadMessage()
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
			t.Errorf("connection ended with %v, want close status %d", err, websocket.ClosePolicyViolation)
		}
		break
	}
	s.out.Send(Message{Type: TypePong}) // no-op on a closed connection
}

func TestKeepalive(t *testing.T) {
	opts := testOptions()
	opts.PingInterval = 30 * time.Millisecond
	opts.PongWait = 300 * time.Millisecond
	e := start(t, opts)

	// A reading client answers pings and stays connected past PongWait.
	alive := e.dial(t)
	var pings atomic.Int32
	alive.ws.SetPingHandler(func(data string) error {
		pings.Add(1)
		return alive.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	sAlive, _ := alive.join(e, "r", "alive")

	// A client that never reads never answers pings and is dropped.
	dead := e.dial(t)
	dead.send(Message{Type: TypeJoin, Room: "r", Name: "dead"})
	sDead := e.backend.nextSession(t)

	alive.ws.SetReadDeadline(time.Now().Add(600 * time.Millisecond))
	_, _, err := alive.ws.ReadMessage()
	if ne, ok := err.(interface{ Timeout() bool }); !ok || !ne.Timeout() {
		t.Fatalf("alive client: %v, want read timeout", err)
	}
	if pings.Load() < 3 {
		t.Errorf("%d pings received, want several", pings.Load())
	}
	sDead.waitLeft(t)
	if sAlive.leaves.Load() != 0 {
		t.Error("responsive client was dropped")
	}
}

func TestCheckOrigin(t *testing.T) {
	tests := []struct {
		host, origin string
		ok           bool
	}{
		{"mcu.example:8080", "", true},
		{"mcu.example:8080", "https://mcu.example:8080", true},
		{"mcu.example:8080", "https://MCU.example:8080", true},
		{"mcu.example:8080", "http://localhost:3000", false},
		{"mcu.example:8080", "http://127.0.0.1:3000", false},
		{"mcu.example:8080", "https://app.example:8443", true},
		{"mcu.example:8080", "HTTPS://APP.example:8443", true},
		{"mcu.example:8080", "http://app.example:8443", false},
		{"mcu.example:8080", "https://evil.example", false},
		{"mcu.example:8080", "https://mcu.example:9090", false},
		{"mcu.example:8080", "null", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "http://"+tt.host+"/ws", nil)
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		if got := AllowOrigins([]string{"https://app.example:8443/"})(r); got != tt.ok {
			t.Errorf("host %s origin %q: got %v, want %v", tt.host, tt.origin, got, tt.ok)
		}
	}

	e := start(t, testOptions())
	_, resp, err := websocket.DefaultDialer.Dial(e.url, http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("foreign origin: err %v, response %v; want 403", err, resp)
	}
	if resp != nil {
		resp.Body.Close()
	}
}

// TestStateEventsCoalesce: a reader that is slower than the events others
// cause keeps its connection, because state messages replace their queued
// older version; the last state is what it finally reads.
func TestStateEventsCoalesce(t *testing.T) {
	opts := testOptions()
	opts.SendQueue = 4
	e := start(t, opts)
	c := e.dial(t)
	s, _ := c.join(e, "r", "a")
	for i := range 5000 {
		s.out.Send(Message{Type: TypeParticipantUpdated, Participant: &Participant{ID: "p9", Name: "flooder", Video: i%2 == 0}})
		s.out.Send(Message{Type: TypeSettings, Quality: []string{"360p", "720p"}[i%2], FPS: 30})
		s.out.Send(Message{Type: TypeLayout, Layout: []Tile{{ParticipantID: "p9", W: i + 1}}})
		s.out.Send(Message{Type: TypeRecording, Recording: json.RawMessage(fmt.Sprintf(`{"id":"r1","n":%d}`, i))})
	}
	s.out.Send(Message{Type: TypePong}) // an event after the flood
	select {
	case <-s.left:
		t.Fatal("reader closed as a slow consumer by state events")
	default:
	}
	var last Message
	seen := map[string]Message{}
	for last.Type != TypePong {
		m, err := c.recv()
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		seen[m.Type], last = m, m
	}
	if m := seen[TypeParticipantUpdated]; m.Participant == nil || m.Participant.Video {
		t.Errorf("last participant state %+v, want video off (the 5000th update)", m.Participant)
	}
	if m := seen[TypeLayout]; len(m.Layout) != 1 || m.Layout[0].W != 5000 {
		t.Errorf("last layout %+v, want the 5000th", m.Layout)
	}
	if m := seen[TypeRecording]; !strings.Contains(string(m.Recording), `"n":4999`) {
		t.Errorf("last recording %s, want the 5000th", m.Recording)
	}
}

// TestMessageRateLimit: a client that sends faster than allowed gets a
// rate_limited error and is disconnected; one within the limit is not.
func TestMessageRateLimit(t *testing.T) {
	opts := testOptions()
	opts.MaxMessagesPerSecond, opts.MessageBurst = 10, 20
	e := start(t, opts)
	calm := e.dial(t)
	calm.join(e, "r", "calm")
	for range 10 {
		calm.send(Message{Type: TypePing})
		calm.expect(TypePong)
		time.Sleep(110 * time.Millisecond)
	}
	flood := e.dial(t)
	s, _ := flood.join(e, "r", "flood")
	for range 100 {
		if err := flood.ws.WriteJSON(Message{Type: TypeMute, Video: new(true)}); err != nil {
			break
		}
	}
	s.waitLeft(t)
	gotError := false
	for {
		m, err := flood.recv()
		if err != nil {
			if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
				t.Errorf("flooder's connection ended with %v, want close %d", err, websocket.ClosePolicyViolation)
			}
			break
		}
		if m.Type == TypeError && m.Code == CodeRateLimited && strings.Contains(m.Message, "10 messages per second") {
			gotError = true
		}
	}
	if !gotError {
		t.Error("flooder got no rate_limited error")
	}
	calm.send(Message{Type: TypePing})
	calm.expect(TypePong)
}

// TestJoinWithoutOfferDropped: a joined connection that never offers is
// told why and closed, and leaves its room.
func TestJoinWithoutOfferDropped(t *testing.T) {
	opts := testOptions()
	opts.OfferTimeout = 300 * time.Millisecond
	e := start(t, opts)
	idle := e.dial(t)
	sIdle, _ := idle.join(e, "r", "idle")
	busy := e.dial(t)
	sBusy, _ := busy.join(e, "r", "busy")
	busy.send(Message{Type: TypeOffer, SDP: "v=0 ok"})
	busy.expect(TypeAnswer)
	m := idle.expect(TypeError)
	if m.Code != CodeTimeout || !strings.Contains(m.Message, "no offer within 300ms") {
		t.Errorf("idle connection got %+v", m)
	}
	sIdle.waitLeft(t)
	time.Sleep(400 * time.Millisecond)
	if sBusy.leaves.Load() != 0 {
		t.Error("a connection that offered was dropped too")
	}
}

// TestJoinsPerAddressLimited: joins beyond the per-minute budget of an
// address are refused without reaching the room layer.
func TestJoinsPerAddressLimited(t *testing.T) {
	opts := testOptions()
	opts.JoinsPerMinute = 3
	e := start(t, opts)
	for i := range 3 {
		c := e.dial(t)
		c.join(e, "r", fmt.Sprintf("p%d", i))
	}
	c := e.dial(t)
	c.send(Message{Type: TypeJoin, Room: "r", Name: "one too many"})
	if m := c.expect(TypeError); m.Code != CodeRateLimited || !strings.Contains(m.Message, "3 joins per minute") {
		t.Errorf("fourth join answered %+v", m)
	}
	select {
	case s := <-e.backend.sessions:
		t.Errorf("fourth join reached the backend as %s", s.name)
	default:
	}
}
