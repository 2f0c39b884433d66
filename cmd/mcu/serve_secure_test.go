package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/auth"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeRefusesUnsafeSetups(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		keys string
		args []string
		want string
	}{
		{"", []string{"serve", "-http", "0.0.0.0:0", "-recordings", dir}, "needs access keys: set MCU_KEYS"},
		{"k: short", []string{"serve", "-http", "0.0.0.0:0", "-recordings", dir}, "at least 32"},
		{cmdTestKeys, []string{"serve", "-http", "0.0.0.0:0", "-tls", "off", "-recordings", dir}, "only served on loopback"},
		{cmdTestKeys, []string{"serve", "-http", "127.0.0.1:0", "-tls", "maybe", "-recordings", dir}, `want auto or off`},
		{cmdTestKeys, []string{"serve", "-http", "127.0.0.1:0", "-ice-servers", "http://x", "-recordings", dir}, "stun:"},
		{"broken", []string{"serve", "-http", "127.0.0.1:0", "-recordings", dir}, "MCU_KEYS"},
	} {
		t.Setenv("MCU_KEYS", tc.keys)
		t.Setenv("MCU_KEYS_FILE", "")
		var stderr syncBuffer
		if code := run(context.Background(), tc.args, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("MCU_KEYS=%q mcu %v: exit %d, %q; want exit 2 and %q", tc.keys, tc.args, code, stderr.String(), tc.want)
		}
	}
}

// serveInBackground runs "mcu serve" with args until the test ends and
// returns its stderr once want appears in it.
func serveInBackground(t *testing.T, want *regexp.Regexp, args ...string) (*syncBuffer, []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"serve"}, args...), stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop")
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := want.FindStringSubmatch(stderr.String()); m != nil {
			return stderr, m
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve never printed %v: %s", want, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServeDevModeLinks(t *testing.T) {
	t.Setenv("MCU_KEYS", "")
	t.Setenv("MCU_KEYS_FILE", "")
	_, m := serveInBackground(t, regexp.MustCompile(`participant: (\S+)\n\s+operator:\s+(\S+)\n`),
		"-http", "127.0.0.1:0", "-recordings", t.TempDir(), "-quality", "360p", "-fps", "15")
	participant, err := url.Parse(m[1])
	if err != nil || participant.Scheme != "http" || participant.Query().Get("room") == "" {
		t.Fatalf("participant link %q", m[1])
	}
	operator, _ := url.Parse(m[2])
	base := participant.Scheme + "://" + participant.Host
	get := func(token string) int {
		req, _ := http.NewRequest("GET", base+"/api/rooms", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(""); got != http.StatusUnauthorized {
		t.Errorf("dev mode without a token: %d, want 401", got)
	}
	if got := get(participant.Query().Get("token")); got != http.StatusForbidden {
		t.Errorf("participant token listing rooms: %d, want 403", got)
	}
	if got := get(operator.Query().Get("token")); got != http.StatusOK {
		t.Errorf("operator token listing rooms: %d, want 200", got)
	}
}

func TestServeTLSAuto(t *testing.T) {
	t.Setenv("MCU_KEYS", cmdTestKeys)
	t.Setenv("MCU_KEYS_FILE", "")
	data := t.TempDir()
	stderr, m := serveInBackground(t, regexp.MustCompile(`msg=serving url=(https://\S+)`),
		"-http", "127.0.0.1:0", "-tls", "auto", "-data", data, "-recordings", t.TempDir(), "-quality", "360p", "-fps", "15")
	if !strings.Contains(stderr.String(), "sha256=") {
		t.Errorf("no fingerprint logged: %s", stderr.String())
	}
	keys, _ := auth.ParseKeys(cmdTestKeys)
	tok, _ := keys.Mint(auth.NewClaims("ops", "ops", auth.VideoGrant{RoomList: true}, time.Hour))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	req, _ := http.NewRequest("GET", m[1]+"/api/rooms", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || !strings.Contains(string(body), `"rooms"`) {
		t.Fatalf("https API: %d %s", resp.StatusCode, body)
	}
}
