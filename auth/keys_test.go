package auth

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseKeys(t *testing.T) {
	cases := []struct {
		in    string
		names []string
		err   string
	}{
		{"", nil, ""},
		{"k1: s1", []string{"k1"}, ""},
		{"k1: s1\nk2: s2\n", []string{"k1", "k2"}, ""},
		{"k1: s1, k2: s2", []string{"k1", "k2"}, ""},
		{"  k1:s1 \r\n# comment\n\nk2 :  s:2  ", []string{"k1", "k2"}, ""},
		{"k1 s1", nil, "want \"key: secret\""},
		{"k1:", nil, "has no secret"},
		{": s1", nil, "empty"},
		{"k1: a, k1: b", nil, "twice"},
	}
	for _, tc := range cases {
		k, err := ParseKeys(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if !slices.Equal(k.Names(), tc.names) {
			t.Errorf("%q: keys %v, want %v", tc.in, k.Names(), tc.names)
		}
	}
	k, _ := ParseKeys("k2: s:2")
	if s, _ := k.Secret("k2"); s != "s:2" {
		t.Errorf("secret with a colon: %q", s)
	}
	if _, err := ParseKeys("nocolonsecretvalue"); err == nil || strings.Contains(err.Error(), "secretvalue") {
		t.Errorf("error leaks the secret or is missing: %v", err)
	}
}

func TestLoadKeysFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.yaml")
	if err := os.WriteFile(path, []byte("# keys\nzeta: first-secret\nalpha: \"second: secret\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadKeysFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if key, secret, _ := k.First(); key != "zeta" || secret != "first-secret" {
		t.Fatalf("first key %q %q: the file's order must be kept", key, secret)
	}
	if s, _ := k.Secret("alpha"); s != "second: secret" {
		t.Fatalf("alpha secret %q", s)
	}
	for name, body := range map[string]string{"list.yaml": "- a\n- b\n", "nested.yaml": "a:\n  b: c\n", "bad.yaml": "a: [\n"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o600)
		if _, err := LoadKeysFile(p); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := LoadKeysFile(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("missing file accepted")
	}
	env, _ := ParseKeys("env: env-secret")
	m, err := env.Merge(k)
	if err != nil || !slices.Equal(m.Names(), []string{"env", "zeta", "alpha"}) {
		t.Fatalf("merge: %v %v", m.Names(), err)
	}
	if _, err := k.Merge(k); err == nil {
		t.Fatal("merge with duplicates accepted")
	}
}

func TestValidateAndGenerate(t *testing.T) {
	short, _ := ParseKeys("k: short")
	if err := short.Validate(false); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("short secret outside dev mode: %v", err)
	}
	if err := short.Validate(true); err != nil {
		t.Fatalf("dev mode: %v", err)
	}
	if err := (&Keys{}).Validate(true); err == nil || !strings.Contains(err.Error(), "MCU_KEYS") {
		t.Fatalf("empty set: %v", err)
	}
	var nilKeys *Keys
	if nilKeys.Len() != 0 || nilKeys.Validate(true) == nil {
		t.Fatal("nil set")
	}
	seen := map[string]bool{}
	for range 50 {
		key, secret := GenerateKey()
		if !strings.HasPrefix(key, "API") || len(key) != 15 || len(secret) < MinSecretLen {
			t.Fatalf("generated %q %q", key, secret)
		}
		if strings.Trim(secret, alphabet) != "" {
			t.Fatalf("secret %q outside base62", secret)
		}
		if seen[secret] {
			t.Fatal("secret repeated")
		}
		seen[secret] = true
		k, err := ParseKeys(key + ": " + secret)
		if err != nil || k.Validate(false) != nil {
			t.Fatalf("generated key does not parse or validate: %v", err)
		}
	}
}
