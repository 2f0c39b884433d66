package main

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/auth"
)

const cmdTestKeys = "APIfirst: first-secret-0123456789abcdefghijklmnop, APIsecond: second-secret-0123456789abcdefghijklm"

// runCapture runs the command line and returns its exit code, stdout and
// stderr.
func runCapture(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	old := stdout
	stdout = &out
	defer func() { stdout = old }()
	code := run(context.Background(), args, &errOut)
	return code, out.String(), errOut.String()
}

func TestTokenCommand(t *testing.T) {
	t.Setenv("MCU_KEYS", cmdTestKeys)
	t.Setenv("MCU_KEYS_FILE", "")
	keys, err := auth.ParseKeys(cmdTestKeys)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCapture(t, "token", "-room", "standup", "-identity", "alice", "-name", "Alice A", "-admin", "-record", "-valid-for", "2h")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	c, err := keys.Verify(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("printed token does not verify: %v (%q)", err, out)
	}
	if c.Key() != "APIfirst" {
		t.Errorf("signed with %q, want the first key of MCU_KEYS", c.Key())
	}
	if c.Identity() != "alice" || c.Name != "Alice A" || c.Join("standup") != nil || c.Admin("standup") != nil || c.Record("standup") != nil {
		t.Errorf("claims %+v grant %+v", c, c.Video)
	}
	if c.List() == nil {
		t.Error("roomList granted without -list")
	}
	if left := time.Until(c.ExpiresAt.Time); left < 119*time.Minute || left > 121*time.Minute {
		t.Errorf("valid for %v, want 2h", left)
	}

	// A plain participant: join only, name defaults to the identity.
	_, out, _ = runCapture(t, "token", "-room", "r", "-identity", "bob", "-receive-only", "-url", "https://mcu.example.org/")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want a token and a link, got %q", out)
	}
	c, err = keys.Verify(lines[0])
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "bob" || c.Admin("r") == nil || c.Record("r") == nil || c.CanPublish() || !c.CanSubscribe() {
		t.Errorf("participant token claims %+v grant %+v", c, c.Video)
	}
	u, err := url.Parse(lines[1])
	if err != nil || u.Host != "mcu.example.org" || u.Query().Get("token") != lines[0] || u.Query().Get("room") != "r" {
		t.Errorf("link %q", lines[1])
	}

	// A server-wide operator token.
	_, out, errOut = runCapture(t, "token", "-identity", "ops", "-list", "-record", "-no-join")
	if c, err = keys.Verify(strings.TrimSpace(out)); err != nil || c.List() != nil || c.Record("any") != nil || !errors.Is(c.Join(""), auth.ErrForbidden) {
		t.Errorf("operator token: %v %+v %s", err, c, errOut)
	}
}

func TestTokenCommandKeysFile(t *testing.T) {
	t.Setenv("MCU_KEYS", "")
	path := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(path, []byte("APIfile: file-secret-0123456789abcdefghijklmnopq\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCapture(t, "token", "-keys-file", path, "-room", "r", "-identity", "i")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	keys, _ := auth.LoadKeysFile(path)
	if _, err := keys.Verify(strings.TrimSpace(out)); err != nil {
		t.Fatal(err)
	}
}

func TestTokenCommandErrors(t *testing.T) {
	t.Setenv("MCU_KEYS_FILE", "")
	for _, tc := range []struct {
		keys string
		args []string
		code int
		want string
	}{
		{cmdTestKeys, []string{"token", "-room", "r"}, 2, "-identity is required"},
		{cmdTestKeys, []string{"token", "-identity", "i"}, 2, "-room is required"},
		{cmdTestKeys, []string{"token", "-identity", "i", "-room", "r", "-valid-for", "-1h"}, 2, "-valid-for must be positive"},
		{cmdTestKeys, []string{"token", "-identity", "i", "-room", "r", "extra"}, 2, `unexpected argument "extra"`},
		{"", []string{"token", "-identity", "i", "-room", "r"}, 1, "set MCU_KEYS"},
		{"broken", []string{"token", "-identity", "i", "-room", "r"}, 1, "MCU_KEYS"},
		{cmdTestKeys, []string{"token", "-identity", "i", "-room", "r", "-keys-file", "/nonexistent/keys.yaml"}, 1, "reading keys file"},
		{"", []string{"keys", "extra"}, 2, "unexpected argument"},
	} {
		t.Setenv("MCU_KEYS", tc.keys)
		code, out, errOut := runCapture(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) || out != "" {
			t.Errorf("mcu %v: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, code, out, errOut, tc.code, tc.want)
		}
	}
}

func TestKeysCommand(t *testing.T) {
	code, out, errOut := runCapture(t, "keys")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	keys, err := auth.ParseKeys(out)
	if err != nil {
		t.Fatalf("output %q does not parse as MCU_KEYS: %v", out, err)
	}
	if err := keys.Validate(false); err != nil {
		t.Fatalf("generated secret refused outside dev mode: %v", err)
	}
	_, out2, _ := runCapture(t, "keys")
	if out == out2 {
		t.Fatal("two runs printed the same key")
	}
}
