package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/auth"
	"github.com/mcu-dev/mcu/config"
	"github.com/mcu-dev/mcu/internal/certs"
	"github.com/mcu-dev/mcu/server"
)

// testToken signs claims for grant with the first key of cmdTestKeys.
func testToken(t *testing.T, grant auth.VideoGrant) string {
	t.Helper()
	keys, err := auth.ParseKeys(cmdTestKeys)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := keys.Mint(auth.NewClaims("test", "test", grant, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

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
		{cmdTestKeys, []string{"serve", "-http", "0.0.0.0:0", "-tls", "off", "-recordings", dir}, "served on loopback only"},
		{cmdTestKeys, []string{"serve", "-http", "127.0.0.1:0", "-tls", "maybe", "-recordings", dir}, `allowed values are auto, off`},
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

// TestServeTLSFiles serves the API over HTTPS from certificate files on
// loopback.
func TestServeTLSFiles(t *testing.T) {
	t.Setenv("MCU_KEYS", cmdTestKeys)
	t.Setenv("MCU_KEYS_FILE", "")
	dir := filepath.Join(t.TempDir(), "tls")
	if _, err := certs.New(certs.Options{SelfSigned: true, Dir: dir, Log: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	_, m := serveInBackground(t, regexp.MustCompile(`msg=serving url=(https://\S+)`),
		"-http", "127.0.0.1:0", "-tls-cert", filepath.Join(dir, "self-signed.crt"), "-tls-key", filepath.Join(dir, "self-signed.key"),
		"-recordings", t.TempDir(), "-quality", "360p", "-fps", "15")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	req, _ := http.NewRequest("GET", m[1]+"/api/rooms", nil)
	req.Header.Set("Authorization", "Bearer "+testToken(t, auth.VideoGrant{RoomList: true}))
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

// TestSecureBeyondLoopback checks what serving beyond loopback turns on,
// without listening there: a self-signed certificate kept in data_dir,
// the single UDP port and ICE-TCP, the configured ICE servers, and the
// keys.
func TestSecureBeyondLoopback(t *testing.T) {
	c := config.Default()
	c.HTTP = "0.0.0.0:8443"
	c.DataDir = t.TempDir()
	keys, _ := config.ParseKeys(cmdTestKeys)
	c.Keys = keys
	c.ICEServers = []config.ICEServer{{URLs: []string{"turn:turn.example.org:3478"}, Username: "u", Credential: "p"}}
	var logs syncBuffer
	var scfg server.Config
	s, err := secure(c, &scfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if scfg.TLS == nil || s.certs == nil || s.certs.Fingerprint() == "" || !strings.Contains(logs.String(), s.certs.Fingerprint()) {
		t.Fatalf("no self-signed certificate, or its fingerprint not logged: %s", logs.String())
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, "tls", "self-signed.crt")); err != nil {
		t.Errorf("certificate not kept in data_dir: %v", err)
	}
	if scfg.ICE.UDPPort != config.DefaultUDPPort || scfg.ICE.TCPAddr != "0.0.0.0:7881" {
		t.Errorf("media: %+v", scfg.ICE)
	}
	if len(scfg.ICE.Servers) != 1 || scfg.ICE.Servers[0].Username != "u" {
		t.Errorf("ICE servers %+v", scfg.ICE.Servers)
	}
	if scfg.Keys.Len() != 2 || s.devKeys || s.noAuth {
		t.Errorf("keys %v dev %v noauth %v", scfg.Keys.Names(), s.devKeys, s.noAuth)
	}
	// Without keys, only insecure_no_auth lets it start.
	c.Keys = nil
	if _, err := secure(c, &server.Config{}, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "MCU_KEYS") {
		t.Errorf("no keys beyond loopback: %v", err)
	}
	c.InsecureNoAuth = true
	s, err = secure(c, &server.Config{}, slog.New(slog.DiscardHandler))
	if err != nil || !s.noAuth {
		t.Errorf("insecure_no_auth: %v", err)
	}
}
