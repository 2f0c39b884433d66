package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/color"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/mcu-dev/mcu/auth"
	"github.com/mcu-dev/mcu/internal/peer"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/metrics"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/server"
	"github.com/mcu-dev/mcu/signaling"
)

const (
	testKey    = "APIserver"
	testSecret = "server-test-secret-0123456789abcdefghijkl"
)

type authServer struct {
	*server.Server
	keys *auth.Keys
	dir  string // recordings
}

func startAuth(t *testing.T, dir string, mod func(*server.Config)) *authServer {
	t.Helper()
	keys, err := auth.NewKeys(testKey, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{
		Rooms:         mcu.Config{Quality: output.Q360, FPS: 15, IncludeLoopback: true},
		RecordingsDir: dir,
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
		Keys:          keys,
		// The tests fail on purpose many times from one address.
		Limiter: &auth.Limiter{Free: 1000, Base: time.Millisecond, Max: time.Millisecond, Forget: time.Minute},
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})
	return &authServer{Server: srv, keys: keys, dir: dir}
}

func (s *authServer) mint(t *testing.T, identity string, g auth.VideoGrant) string {
	t.Helper()
	tok, err := s.keys.Mint(auth.NewClaims(identity, identity, g, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// call makes a request with an optional bearer token and returns the
// status, the body and the headers.
func (s *authServer) call(t *testing.T, method, path, token string) (int, string, http.Header) {
	t.Helper()
	var body io.Reader
	if method == "PUT" {
		body = strings.NewReader(`{"quality":"480p"}`)
	}
	req, err := http.NewRequest(method, s.URL()+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// badTokens are the tokens every endpoint must answer with 401.
func badTokens(t *testing.T) map[string]string {
	t.Helper()
	join := jwt.MapClaims{"iss": testKey, "sub": "eve", "name": "Eve", "exp": time.Now().Add(time.Hour).Unix(),
		"video": map[string]any{"room": "a", "roomJoin": true, "roomAdmin": true, "roomRecord": true, "roomList": true}}
	with := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{}
		for k, v := range join {
			c[k] = v
		}
		mod(c)
		return c
	}
	sign := func(m jwt.SigningMethod, c jwt.MapClaims, key any) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	none := sign(jwt.SigningMethodNone, join, jwt.UnsafeAllowNoneSignatureType)
	return map[string]string{
		"no token":     "",
		"malformed":    "this-is-not-a-jwt",
		"expired":      sign(jwt.SigningMethodHS256, with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-5 * time.Minute).Unix() }), []byte(testSecret)),
		"missing exp":  sign(jwt.SigningMethodHS256, with(func(c jwt.MapClaims) { delete(c, "exp") }), []byte(testSecret)),
		"wrong secret": sign(jwt.SigningMethodHS256, join, []byte("another-secret-0123456789abcdefghijklmnop")),
		"unknown key":  sign(jwt.SigningMethodHS256, with(func(c jwt.MapClaims) { c["iss"] = "APIstranger" }), []byte(testSecret)),
		"alg none":     none,
		"HS512":        sign(jwt.SigningMethodHS512, join, []byte(testSecret)),
	}
}

// endpoints are every API call, on room "a" and recording id.
func endpoints(id string) [][2]string {
	return [][2]string{
		{"GET", "/api/rooms"},
		{"GET", "/api/rooms/a"},
		{"PUT", "/api/rooms/a"},
		{"POST", "/api/rooms/a/recordings"},
		{"GET", "/api/recordings"},
		{"GET", "/api/recordings/" + id},
		{"POST", "/api/recordings/" + id + "/stop"},
		{"GET", "/api/recordings/" + id + "/download"},
		{"DELETE", "/api/recordings/" + id},
	}
}

// expectNothingCreated checks that no room is open and no recording file
// exists.
func (s *authServer) expectNothingCreated(t *testing.T) {
	t.Helper()
	if rooms := s.Rooms.List(); len(rooms) != 0 {
		t.Fatalf("a refused request left %d rooms open", len(rooms))
	}
	entries, _ := os.ReadDir(s.dir)
	if len(entries) != 0 {
		t.Fatalf("a refused request left files: %v", entries)
	}
}

// wsRefused dials /ws with token, sends a join for room and expects an
// error with code, then the close.
func (s *authServer) wsRefused(t *testing.T, token, room, code string) {
	t.Helper()
	u := s.WebsocketURL()
	if token != "" {
		u += "?access_token=" + url.QueryEscape(token)
	}
	ws, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	defer ws.Close()
	_ = ws.WriteJSON(signaling.Message{Type: signaling.TypeJoin, Room: room, Name: "x"})
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	var m signaling.Message
	if err := ws.ReadJSON(&m); err != nil {
		t.Fatalf("no error message: %v", err)
	}
	if m.Type != signaling.TypeError || m.Code != code {
		t.Fatalf("got %+v, want error %s", m, code)
	}
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
				t.Fatalf("ended with %v, want close 1008", err)
			}
			return
		}
	}
}

func TestTokenMatrixRefusesAndCreatesNothing(t *testing.T) {
	s := startAuth(t, t.TempDir(), nil)
	for name, tok := range badTokens(t) {
		t.Run(name, func(t *testing.T) {
			for _, e := range endpoints("0123456789abcdef") {
				status, body, hdr := s.call(t, e[0], e[1], tok)
				if status != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") || !strings.Contains(body, `"error"`) {
					t.Errorf("%s %s: %d %q (WWW-Authenticate %q)", e[0], e[1], status, body, hdr.Get("WWW-Authenticate"))
				}
			}
			s.wsRefused(t, tok, "a", signaling.CodeUnauthorized)
			s.expectNothingCreated(t)
		})
	}
	// The download link's own parameter is refused the same way.
	if status, _, _ := s.call(t, "GET", "/api/recordings/0123456789abcdef/download?access_token=garbage", ""); status != http.StatusUnauthorized {
		t.Errorf("download with a malformed access_token: %d", status)
	}

	// Valid tokens without the grant: 403 naming it.
	joinA := s.mint(t, "joiner", auth.VideoGrant{Room: "a", RoomJoin: true})
	joinB := s.mint(t, "other", auth.VideoGrant{Room: "b", RoomJoin: true, RoomAdmin: true, RoomRecord: true})
	for _, c := range []struct {
		token, method, path, grant string
	}{
		{joinA, "GET", "/api/rooms", "roomList"},
		{joinA, "GET", "/api/rooms/a", "roomAdmin"},
		{joinA, "PUT", "/api/rooms/a", "roomAdmin"},
		{joinA, "POST", "/api/rooms/a/recordings", "roomRecord"},
		{joinB, "PUT", "/api/rooms/a", "roomAdmin"},
		{joinB, "POST", "/api/rooms/a/recordings", "roomRecord"},
		{joinB, "GET", "/api/rooms/a", "roomAdmin"},
	} {
		status, body, _ := s.call(t, c.method, c.path, c.token)
		if status != http.StatusForbidden || !strings.Contains(body, c.grant) {
			t.Errorf("%s %s: %d %q, want 403 naming %s", c.method, c.path, status, body, c.grant)
		}
	}
	s.wsRefused(t, joinB, "a", signaling.CodeForbidden)
	s.expectNothingCreated(t)
	if status, body, _ := s.call(t, "GET", "/api/recordings", joinA); status != http.StatusOK || !strings.Contains(body, `"recordings":[]`) {
		t.Errorf("recordings list for a join-only token: %d %q", status, body)
	}
}

func TestTokenRightsOnLiveRoomAndRecordings(t *testing.T) {
	s := startAuth(t, t.TempDir(), nil)
	joinA := s.mint(t, "alice", auth.VideoGrant{Room: "a", RoomJoin: true})
	adminA := s.mint(t, "host", auth.VideoGrant{Room: "a", RoomJoin: true, RoomAdmin: true})
	recordA := s.mint(t, "rec", auth.VideoGrant{Room: "a", RoomRecord: true})
	recordB := s.mint(t, "recb", auth.VideoGrant{Room: "b", RoomRecord: true, RoomAdmin: true})
	list := s.mint(t, "ops", auth.VideoGrant{RoomList: true})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	red := color.RGBA{255, 0, 0, 255}
	alice, err := peer.Dial(ctx, peer.Options{URL: s.WebsocketURL(), Room: "a", Name: "ignored", Token: joinA, Colour: &red, Tone: 440})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	// The name shown is the token's.
	if info, _ := json.Marshal(s.Rooms.List()[0].Info()); !strings.Contains(string(info), `"name":"alice"`) {
		t.Errorf("room info %s does not show the token's name", info)
	}

	// A join-only participant may not change the output over the
	// websocket: refused and disconnected; alice stays.
	bob, err := peer.Dial(ctx, peer.Options{URL: s.WebsocketURL(), Room: "a", Name: "bob", Token: s.mint(t, "bob", auth.VideoGrant{Room: "a", RoomJoin: true})})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	if err := bob.Send(signaling.Message{Type: signaling.TypeSettings, Quality: "480p"}); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, bob, func(m signaling.Message) bool {
		return m.Type == signaling.TypeError && m.Code == signaling.CodeForbidden
	})
	if q := s.Rooms.List()[0].Info().Settings.Quality; q != output.Q360 {
		t.Errorf("quality changed to %s by a join-only token", q)
	}

	// Admin: settings and room details.
	if status, body, _ := s.call(t, "PUT", "/api/rooms/a", adminA); status != http.StatusOK {
		t.Fatalf("admin PUT: %d %s", status, body)
	}
	if status, _, _ := s.call(t, "GET", "/api/rooms/a", list); status != http.StatusOK {
		t.Errorf("roomList GET room: %d", status)
	}
	if status, _, _ := s.call(t, "GET", "/api/rooms", list); status != http.StatusOK {
		t.Errorf("roomList GET rooms: %d", status)
	}

	// A recording of a, started with the record grant.
	status, body, _ := s.call(t, "POST", "/api/rooms/a/recordings", recordA)
	if status != http.StatusCreated {
		t.Fatalf("start recording: %d %s", status, body)
	}
	var rec mcu.Recording
	if err := json.Unmarshal([]byte(body), &rec); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(rec.DownloadURL)
	if err != nil || u.Query().Get("access_token") == "" {
		t.Fatalf("download_url %q carries no token", rec.DownloadURL)
	}
	// The link's token is for this recording only, for 10 minutes.
	linkClaims, err := s.keys.Verify(u.Query().Get("access_token"))
	if err != nil || linkClaims.Recording != rec.ID || time.Until(linkClaims.ExpiresAt.Time) > 10*time.Minute+time.Second {
		t.Fatalf("link token %+v %v", linkClaims, err)
	}
	time.Sleep(1500 * time.Millisecond) // let the file grow past its header

	id := rec.ID
	for _, c := range []struct {
		token, method, path string
		want                int
	}{
		{joinA, "GET", "/api/recordings/" + id, 403},
		{joinA, "GET", "/api/recordings/" + id + "/download", 403},
		{joinA, "POST", "/api/recordings/" + id + "/stop", 403},
		{joinA, "DELETE", "/api/recordings/" + id, 403},
		{recordB, "GET", "/api/recordings/" + id, 403},
		{recordB, "GET", "/api/recordings/" + id + "/download", 403},
		{recordB, "POST", "/api/recordings/" + id + "/stop", 403},
		{recordB, "DELETE", "/api/recordings/" + id, 403},
		{recordA, "GET", "/api/recordings/" + id, 200},
		{adminA, "GET", "/api/recordings/" + id, 200},
		{list, "GET", "/api/recordings/" + id, 403},
	} {
		status, body, _ := s.call(t, c.method, c.path, c.token)
		if status != c.want {
			t.Errorf("%s %s: %d %q, want %d", c.method, c.path, status, body, c.want)
		}
		if c.want == 403 && !strings.Contains(body, "roomRecord") {
			t.Errorf("%s %s: %q does not name roomRecord", c.method, c.path, body)
		}
	}
	// The lists: b's recorder sees nothing of a, roomList sees all.
	if _, body, _ := s.call(t, "GET", "/api/recordings", recordB); strings.Contains(body, id) {
		t.Errorf("b's token lists a's recording: %s", body)
	}
	if _, body, _ := s.call(t, "GET", "/api/recordings", list); !strings.Contains(body, id) {
		t.Errorf("roomList does not list the recording: %s", body)
	}
	// The link works without a header (a plain <a href>)...
	if status, _, _ := s.call(t, "GET", rec.DownloadURL, ""); status != http.StatusOK {
		t.Errorf("download link: %d", status)
	}
	// ...but not for another recording, nor once expired.
	if status, _, _ := s.call(t, "GET", "/api/recordings/ffffffffffffffff/download?access_token="+u.Query().Get("access_token"), ""); status != http.StatusNotFound && status != http.StatusForbidden {
		t.Errorf("link for another id: %d", status)
	}
	expired, err := auth.Sign(testKey, testSecret, auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: "download", ExpiresAt: jwt.NewNumericDate(time.Now().Add(-2 * time.Minute))},
		Recording:        id,
	})
	if err != nil {
		t.Fatal(err)
	}
	if status, _, hdr := s.call(t, "GET", "/api/recordings/"+id+"/download?access_token="+expired, ""); status != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") == "" {
		t.Errorf("expired link: %d", status)
	}
	// A download link is no key to anything else.
	linkTok := u.Query().Get("access_token")
	for _, e := range [][2]string{{"GET", "/api/recordings/" + id}, {"DELETE", "/api/recordings/" + id}, {"PUT", "/api/rooms/a"}} {
		if status, _, _ := s.call(t, e[0], e[1], linkTok); status != http.StatusForbidden {
			t.Errorf("download token on %s %s: %d", e[0], e[1], status)
		}
	}
	// Still one recording, still running.
	if recs := s.Recorder.List(); len(recs) != 1 || recs[0].State != mcu.StateRecording {
		t.Fatalf("recordings after refused calls: %+v", recs)
	}
	if status, body, _ := s.call(t, "POST", "/api/recordings/"+id+"/stop", recordA); status != http.StatusOK {
		t.Fatalf("stop: %d %s", status, body)
	}
	if status, _, _ := s.call(t, "DELETE", "/api/recordings/"+id, adminA); status != http.StatusNoContent {
		t.Fatalf("admin delete: %d", status)
	}
}

func waitEvent(t *testing.T, c *peer.Client, match func(signaling.Message) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range c.Events() {
			if match(m) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("event not seen; events: %+v", c.Events())
}

func TestRecordingPathSafety(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "recordings")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	canary := filepath.Join(root, "canary.webm")
	if err := os.WriteFile(canary, []byte("canary"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Planted metadata: a recording whose file lies outside, one whose id
	// is a path, and a symlink to the canary.
	plant := func(id, file string) {
		b, _ := json.Marshal(map[string]any{"id": id, "room": "a", "name": id, "format": "webm", "state": "finished",
			"started_at": time.Now(), "file": file, "download_url": "/api/recordings/" + id + "/download"})
		name := id
		if strings.ContainsAny(name, `/.`) {
			name = "planted-id"
		}
		if err := os.WriteFile(filepath.Join(dir, name+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	plant("outside", "../canary.webm")
	plant("absolute", canary)
	plant("../canary", "x.webm")
	// A well-formed recording whose file is a symlink to the canary.
	const linked = "00000000000000aa"
	plant(linked, linked+".webm")
	if err := os.Symlink(canary, filepath.Join(dir, linked+".webm")); err != nil {
		t.Fatal(err)
	}
	s := startAuth(t, dir, nil)
	admin := s.mint(t, "host", auth.VideoGrant{Room: "a", RoomAdmin: true, RoomRecord: true, RoomList: true})
	for _, id := range []string{"outside", "absolute", linked, "..%2fcanary", "%2e%2e%2fcanary", "%2e%2e", "..%2F..%2Fcanary.webm",
		url.PathEscape(canary), "%2Fetc%2Fpasswd"} {
		for _, method := range []string{"GET", "DELETE"} {
			path := "/api/recordings/" + id
			if method == "GET" {
				path += "/download"
			}
			status, body, _ := s.call(t, method, path, admin)
			if strings.Contains(body, "canary") && status == http.StatusOK {
				t.Errorf("%s %s served the canary", method, path)
			}
			if status < 400 {
				t.Errorf("%s %s: %d %q", method, path, status, body)
			}
		}
	}
	if b, err := os.ReadFile(canary); err != nil || !bytes.Equal(b, []byte("canary")) {
		t.Fatalf("the canary outside the recordings directory was harmed: %q %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, linked+".webm")); err != nil {
		t.Errorf("the symlink was removed: %v", err)
	}
}

// TestMetricsNeedRoomList: /metrics on the main listener says which rooms
// exist and who is in them, so it needs roomList when tokens are on.
func TestMetricsNeedRoomList(t *testing.T) {
	s := startAuth(t, "", func(c *server.Config) { c.Ops.Metrics = metrics.New() })
	for _, c := range []struct {
		token string
		want  int
	}{
		{"", http.StatusUnauthorized},
		{"garbage", http.StatusUnauthorized},
		{s.mint(t, "p", auth.VideoGrant{Room: "a", RoomJoin: true, RoomAdmin: true}), http.StatusForbidden},
		{s.mint(t, "ops", auth.VideoGrant{RoomList: true}), http.StatusOK},
	} {
		if status, body, _ := s.call(t, "GET", "/metrics", c.token); status != c.want {
			t.Errorf("GET /metrics: %d %.80q, want %d", status, body, c.want)
		}
	}
}
