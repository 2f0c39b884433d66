package web_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/server"
)

func startGuarded(t *testing.T, dir string) *server.Server {
	t.Helper()
	srv, err := server.New(server.Config{
		Rooms:         mcu.Config{Quality: output.Q360, FPS: 15, IncludeLoopback: true},
		RecordingsDir: dir,
		Hosts:         []string{"mcu.example"},
		Origins:       []string{"https://app.example"},
		ReadTimeout:   2 * time.Second,
		Log:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
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
	return srv
}

// TestCrossSiteRequestsRefused: DNS rebinding (a foreign Host), a
// cross-site form post (text/plain) and a foreign Origin, on the API and
// the websocket, are refused; the same requests done properly are not.
func TestCrossSiteRequestsRefused(t *testing.T) {
	srv := startGuarded(t, t.TempDir())
	do := func(method, path, host, origin, ctype, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL()+path, strings.NewReader(body))
		if host != "" {
			req.Host = host
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		what                                 string
		method, path, host, origin, ct, body string
		status                               int
		contains                             string
	}{
		{"rebinding host", "GET", "/api/rooms", "evil.example:8080", "", "", "", 421, "not served here"},
		{"rebinding host on the page", "GET", "/", "attacker.example", "", "", "", 421, "not served here"},
		{"configured host", "GET", "/api/rooms", "MCU.example:443", "", "", "", 200, `"rooms"`},
		{"localhost", "GET", "/api/rooms", "localhost:8080", "", "", "", 200, `"rooms"`},
		{"text/plain post", "POST", "/api/rooms/r/recordings", "", "", "text/plain", `{"format":"webm"}`, 415, "application/json"},
		{"form post", "PUT", "/api/rooms/r", "", "", "application/x-www-form-urlencoded", `quality=360p`, 415, "application/json"},
		{"foreign origin", "POST", "/api/recordings/0123456789abcdef/stop", "", "https://evil.example", "", "", 403, "not allowed"},
		{"foreign origin with JSON", "PUT", "/api/rooms/r", "", "https://evil.example", "application/json", `{"fps":15}`, 403, "not allowed"},
		{"allowed origin", "PUT", "/api/rooms/r", "", "https://app.example", "application/json", `{"fps":15}`, 404, "room r not found"},
		{"same origin", "PUT", "/api/rooms/r", "", "http://" + srv.Addr(), "application/json; charset=utf-8", `{"fps":15}`, 404, "room r not found"},
	}
	for _, c := range cases {
		code, body := do(c.method, c.path, c.host, c.origin, c.ct, c.body)
		if code != c.status || !strings.Contains(body, c.contains) {
			t.Errorf("%s: %d %s, want %d containing %q", c.what, code, body, c.status, c.contains)
		}
	}
	if got := len(srv.Rooms.List()); got != 0 {
		t.Errorf("%d rooms exist after refused requests", got)
	}

	for _, c := range []struct {
		host, origin string
		ok           bool
	}{
		{"", "https://evil.example", false},
		{"evil.example", "http://evil.example", false}, // rebinding: Host equals Origin
		{"", "https://app.example", true},
		{"", "", true},
	} {
		hdr := http.Header{}
		if c.origin != "" {
			hdr.Set("Origin", c.origin)
		}
		d := websocket.Dialer{NetDial: func(network, _ string) (net.Conn, error) { return net.Dial(network, srv.Addr()) }}
		host := srv.Addr()
		if c.host != "" {
			host = c.host
		}
		ws, resp, err := d.Dial("ws://"+host+"/ws", hdr)
		if resp != nil {
			resp.Body.Close()
		}
		if (err == nil) != c.ok {
			t.Errorf("websocket with Host %q Origin %q: err %v, want allowed %v", c.host, c.origin, err, c.ok)
		}
		if ws != nil {
			ws.Close()
		}
	}
}

// TestSlowBodyCutOff: a request body trickled a byte at a time holds its
// connection no longer than the read timeout.
func TestSlowBodyCutOff(t *testing.T) {
	srv := startGuarded(t, t.TempDir())
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	_, _ = io.WriteString(conn, "PUT /api/rooms/r HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	closed := make(chan time.Duration, 1)
	go func() {
		_, _ = io.Copy(io.Discard, conn)
		closed <- time.Since(start)
	}()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case d := <-closed:
			if d > 5*time.Second {
				t.Errorf("connection held %v by a trickled body, read timeout 2 s", d)
			}
			return
		case <-tick.C:
			_, _ = conn.Write([]byte(" "))
		case <-time.After(10 * time.Second):
			t.Fatal("connection still open after 10 s of trickled body")
		}
	}
}

// TestMetadataCannotPointOutside: a hand-edited metadata file that names a
// file outside the recordings directory, or another recording's id, never
// makes download or delete touch anything outside.
func TestMetadataCannotPointOutside(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "recordings")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	canary := filepath.Join(root, "canary.webm")
	if err := os.WriteFile(canary, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := "0123456789abcdef"
	meta := `{"id":"` + id + `","room":"r","name":"x","format":"webm","quality":"360p","fps":15,"state":"finished","file":"../canary.webm","started_at":"2026-01-01T00:00:00Z"}`
	if err := os.WriteFile(filepath.Join(dir, id+".json"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := `{"id":"../../x","room":"r","format":"webm","state":"finished","file":"../canary.webm"}`
	if err := os.WriteFile(filepath.Join(dir, "fedcba9876543210.json"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startGuarded(t, dir)
	rec, err := srv.Recorder.Get(id)
	if err != nil || rec.File != id+".webm" {
		t.Fatalf("recording %+v %v, want its file derived from the id", rec, err)
	}
	if _, err := srv.Recorder.Get("fedcba9876543210"); err == nil {
		t.Error("metadata whose id does not match its file name was loaded")
	}
	for _, m := range []string{"GET", "DELETE"} {
		req, _ := http.NewRequest(m, srv.URL()+"/api/recordings/"+id+map[string]string{"GET": "/download", "DELETE": ""}[m], nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(b, []byte("keep me")) {
			t.Errorf("%s served the file outside the recordings directory", m)
		}
	}
	if b, err := os.ReadFile(canary); err != nil || string(b) != "keep me" {
		t.Errorf("canary outside the recordings directory: %q %v", b, err)
	}
}
