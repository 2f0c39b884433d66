package config

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite docs/config.md")

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsValidate(t *testing.T) {
	c, err := Load("serve", nil, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP != "127.0.0.1:8080" || c.Quality != "720p" || c.FPS != 30 || c.Recordings.Dir != "recordings" || c.Origin("fps") != "default" {
		t.Errorf("defaults: %+v", c)
	}
	if c.MuxUDPPort() != 0 || c.ICETCPPort() != 0 {
		t.Errorf("loopback: mux port %d, tcp %d; want none", c.MuxUDPPort(), c.ICETCPPort())
	}
	c.HTTP = "0.0.0.0:443"
	if c.MuxUDPPort() != 7882 || c.ICETCPPort() != 7881 {
		t.Errorf("beyond loopback: mux port %d, tcp %d; want 7882, 7881", c.MuxUDPPort(), c.ICETCPPort())
	}
}

func TestExampleParses(t *testing.T) {
	keys := writeFile(t, "keys.yaml", "APIexample: 0123456789abcdef0123456789abcdef\n")
	c, err := Load("serve", []string{"-config", "../mcu.example.yaml", "-keys-file", keys}, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP != "0.0.0.0:443" || c.ACMEDomain != "mcu.example.org" || c.UDPPort != 7882 || c.Loopback {
		t.Errorf("top level: %+v", c)
	}
	if len(c.ICEServers) != 2 || len(c.ICEServers[1].URLs) != 2 || c.ICEServers[1].Credential != "change-me" {
		t.Errorf("ice_servers: %+v", c.ICEServers)
	}
	if c.Recordings.MinFree != 2<<30 || c.Recordings.RetentionDays != 30 || c.Limits.MaxRooms != 50 {
		t.Errorf("recordings/limits: %+v %+v", c.Recordings, c.Limits)
	}
	if c.Webhook.APIKey != "APIexample" || len(c.Webhook.URLs) != 1 || c.Keys["APIexample"] == "" {
		t.Errorf("webhook: %+v keys %d", c.Webhook, len(c.Keys))
	}
	if c.Metrics.Addr != "127.0.0.1:9090" || c.DrainGrace != 30*time.Second {
		t.Errorf("metrics/drain: %+v %v", c.Metrics, c.DrainGrace)
	}
	if !strings.HasSuffix(c.Origin("fps"), "mcu.example.yaml:23") {
		t.Errorf("origin of fps: %q", c.Origin("fps"))
	}
}

// TestPrecedence: defaults < file < env < flag, and origins say which won.
func TestPrecedence(t *testing.T) {
	file := writeFile(t, "mcu.yaml", "quality: 360p\nfps: 15\nrecordings:\n  dir: /from/file\n  min_free: 1GB\nlimits:\n  max_rooms: 3\n")
	env := []string{"MCU_FPS=30", "MCU_RECORDINGS=/from/env", "MCU_MAX_ROOMS=4", "MCU_PUBLIC_IP=192.0.2.1, 192.0.2.2", "MCU_LOOPBACK=false"}
	c, err := Load("serve", []string{"-config", file, "-recordings", "/from/flag", "-loopback"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key, got, want, origin string
	}{
		{"quality", c.Quality, "360p", file + ":1"},
		{"fps", itoa(c.FPS), "30", "env MCU_FPS"},
		{"recordings.dir", c.Recordings.Dir, "/from/flag", "flag -recordings"},
		{"recordings.min_free", itoa(int(c.Recordings.MinFree)), "1000000000", file + ":5"},
		{"limits.max_rooms", itoa(c.Limits.MaxRooms), "4", "env MCU_MAX_ROOMS"},
		{"public_ip", strings.Join(c.PublicIP, "|"), "192.0.2.1|192.0.2.2", "env MCU_PUBLIC_IP"},
		{"loopback", boolText(c.Loopback), "true", "flag -loopback"},
		{"http", c.HTTP, "127.0.0.1:8080", "default"},
	} {
		if tc.got != tc.want || c.Origin(tc.key) != tc.origin {
			t.Errorf("%s = %q from %q; want %q from %q", tc.key, tc.got, c.Origin(tc.key), tc.want, tc.origin)
		}
	}
	// MCU_CONFIG names the file when -config is absent.
	c, err = Load("serve", nil, []string{"MCU_CONFIG=" + file}, io.Discard)
	if err != nil || c.Quality != "360p" {
		t.Errorf("MCU_CONFIG: %v %+v", err, c)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// TestErrors: each source with an unknown key, a value outside the allowed
// ones and a malformed value gives an error naming the key, variable or
// flag and what is allowed.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		env  []string
		args []string
		kind error
		want []string
	}{
		{name: "file unknown key", file: "http: :8080\nframes: 30\n", kind: ErrUnknownKey,
			want: []string{`mcu.yaml:2: unknown key "frames"`, "allowed keys: http, verbose,", "fps", "webhook"}},
		{name: "file unknown nested key", file: "webhook:\n  apikey: k\n", kind: ErrUnknownKey,
			want: []string{`mcu.yaml:2: unknown key "webhook.apikey"`, "allowed keys under webhook: api_key, urls"}},
		{name: "file unknown ice server key", file: "ice_servers:\n  - url: stun:x\n", kind: ErrBadValue,
			want: []string{`mcu.yaml:2: ice_servers: unknown key "url"`, "allowed keys: urls, username, credential"}},
		{name: "file bad quality", file: "quality: 4k\n", kind: ErrBadValue,
			want: []string{`quality (from `, `mcu.yaml:1): unknown quality "4k" (allowed: 360p, 480p, 720p)`}},
		{name: "file bad fps", file: "fps: 25\n", kind: ErrBadValue,
			want: []string{`fps (from `, `mcu.yaml:1): unsupported fps 25 (allowed: 15, 30)`}},
		{name: "file malformed fps", file: "fps: fast\n", kind: ErrBadValue,
			want: []string{`mcu.yaml:1: fps: "fast": want an integer`}},
		{name: "file malformed duration", file: "drain_grace: 30\n", kind: ErrBadValue,
			want: []string{`mcu.yaml:1: drain_grace: "30": want a duration such as 30s or 2m`}},
		{name: "file group not a mapping", file: "limits: 3\n", kind: ErrBadValue,
			want: []string{`mcu.yaml:1: limits: want a mapping of max_rooms, max_participants, max_viewers, max_recordings, messages_per_second`}},
		{name: "file not yaml", file: "fps: [\n", want: []string{"mcu.yaml: yaml:"}},
		{name: "env bad quality", env: []string{"MCU_QUALITY=1080p"}, kind: ErrBadValue,
			want: []string{`quality (from env MCU_QUALITY): unknown quality "1080p" (allowed: 360p, 480p, 720p)`}},
		{name: "env bad fps", env: []string{"MCU_FPS=60"}, kind: ErrBadValue,
			want: []string{`fps (from env MCU_FPS): unsupported fps 60 (allowed: 15, 30)`}},
		{name: "env malformed int", env: []string{"MCU_FPS=thirty"}, kind: ErrBadValue,
			want: []string{`env MCU_FPS="thirty" (key fps): want an integer`}},
		{name: "env malformed bool", env: []string{"MCU_LOOPBACK=maybe"}, kind: ErrBadValue,
			want: []string{`env MCU_LOOPBACK="maybe" (key loopback): want true or false`}},
		{name: "env malformed size", env: []string{"MCU_RECORDINGS_MIN_FREE=lots"}, kind: ErrBadValue,
			want: []string{`env MCU_RECORDINGS_MIN_FREE="lots" (key recordings.min_free): want a size such as 512MB or 2GiB`}},
		{name: "env malformed keys, secret not shown", env: []string{"MCU_KEYS=k1 s3cr3tvalue"}, kind: ErrBadValue,
			want: []string{`env MCU_KEYS="********" (key keys): malformed keys: an entry is not key: secret`}},
		{name: "flag unknown", args: []string{"-frames", "30"}, want: []string{"flag provided but not defined: -frames"}},
		{name: "flag bad value", args: []string{"-quality", "4k"}, kind: ErrBadValue,
			want: []string{`quality (from flag -quality): unknown quality "4k" (allowed: 360p, 480p, 720p)`}},
		{name: "flag malformed", args: []string{"-fps", "x"}, want: []string{`invalid value "x" for flag -fps: want an integer`}},
		{name: "flag stray argument", args: []string{"serve2"}, want: []string{`unexpected argument "serve2"`}},
		{name: "redis without node url", args: []string{"-redis", "redis://127.0.0.1:6379/0"}, kind: ErrBadValue,
			want: []string{`cluster.node_url "" (from default): with cluster.redis, want this node's http:// or https:// URL`}},
		{name: "redis not a redis url", args: []string{"-redis", "http://x:1", "-node-url", "http://10.0.0.2:8080"}, kind: ErrBadValue,
			want: []string{`cluster.redis "http://x:1" (from flag -redis): want redis://host:port`}},
		{name: "max cpu out of range", env: []string{"MCU_MAX_CPU=150"}, kind: ErrBadValue,
			want: []string{`cluster.max_cpu 150 (from env MCU_MAX_CPU): want a percentage from 1 to 100`}},
		{name: "udp range", args: []string{"-udp-ports", "9-1"}, kind: ErrBadValue,
			want: []string{`udp_ports "9-1" (from flag -udp-ports): want MIN-MAX`}},
		{name: "webhook without key", args: []string{"-webhook-urls", "http://127.0.0.1:1/h"}, kind: ErrBadValue,
			want: []string{`webhook.api_key "" (from default): webhook.urls need webhook.api_key`}},
		{name: "webhook key not in keys", env: []string{"MCU_KEYS=a: b", "MCU_WEBHOOK_API_KEY=c", "MCU_WEBHOOK_URLS=https://x/h"}, kind: ErrBadValue,
			want: []string{`webhook.api_key "c" (from env MCU_WEBHOOK_API_KEY): want one of the keys`}},
		{name: "webhook bad url", env: []string{"MCU_KEYS=a: b", "MCU_WEBHOOK_API_KEY=a", "MCU_WEBHOOK_URLS=ftp://x/h"}, kind: ErrBadValue,
			want: []string{`webhook.urls "ftp://x/h" (from env MCU_WEBHOOK_URLS): want http:// or https:// URLs`}},
		{name: "turn without credential", file: "ice_servers:\n  - urls: turn:t:3478\n", kind: ErrBadValue,
			want: []string{`ice_servers "turn:t:3478"`, "a TURN server needs username and credential"}},
		{name: "two problems at once", args: []string{"-fps", "20", "-quality", "1p"}, kind: ErrBadValue,
			want: []string{"unsupported fps 20", `unknown quality "1p"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append([]string{"-config", writeFile(t, "mcu.yaml", tc.file)}, args...)
			}
			_, err := Load("serve", args, tc.env, io.Discard)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if tc.kind != nil && !errors.Is(err, tc.kind) {
				t.Errorf("error %q is not %v", err, tc.kind)
			}
		})
	}
}

func TestUnknownEnvWarns(t *testing.T) {
	c, err := Load("serve", nil, []string{"MCU_QUALTY=360p", "MCU_CONFIG=", "HOME=/root"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "MCU_QUALTY is not a setting") {
		t.Errorf("warnings %q", w)
	}
}

func TestKeys(t *testing.T) {
	keys, err := ParseKeys("k1: s1, k2:s2\nk3: s:3")
	if err != nil || len(keys) != 3 || keys["k2"] != "s2" || keys["k3"] != "s:3" {
		t.Errorf("ParseKeys: %v %v", keys, err)
	}
	file := writeFile(t, "keys.yaml", "fromfile: filesecret\n")
	c, err := Load("serve", []string{"-keys-file", file}, []string{"MCU_KEYS=fromenv: envsecret"}, io.Discard)
	if err != nil || c.Keys["fromfile"] != "filesecret" || c.Keys["fromenv"] != "envsecret" {
		t.Fatalf("keys: %v %v", c.Keys, err)
	}
	bad := writeFile(t, "bad.yaml", "- a\n- b\n")
	if _, err := Load("serve", []string{"-keys-file", bad}, nil, io.Discard); err == nil || !strings.Contains(err.Error(), "keys_file "+bad) {
		t.Errorf("bad keys file: %v", err)
	}
}

// TestPrintMasksSecrets: mcu config output hides secrets and reads back
// to the same configuration.
func TestPrintMasksSecrets(t *testing.T) {
	env := []string{"MCU_KEYS=APIa: topsecret-value-1, APIb: topsecret-value-2", "MCU_ICE_SERVERS=stun:s:3478,user:turnpass@turn:t:3478", "MCU_WEBHOOK_API_KEY=APIa", "MCU_WEBHOOK_URLS=https://h/1,https://h/2", "MCU_REDIS=redis://:redispass@10.0.0.1:6379/0", "MCU_NODE_URL=http://10.0.0.2:8080"}
	c, err := Load("serve", []string{"-fps", "15", "-min-free", "1GiB", "-drain-grace", "1m"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := c.WriteYAML(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, secret := range []string{"topsecret", "turnpass", "redispass"} {
		if strings.Contains(out, secret) {
			t.Errorf("printed config shows a secret %q:\n%s", secret, out)
		}
	}
	for _, w := range []string{"fps: 15\n", "APIa: '********'", "min_free: 1GiB", "drain_grace: 1m0s", "- https://h/2", "username: user", "redis: redis://:xxxxx@10.0.0.1:6379/0", "# Output frame rate of new rooms: 15 or 30.\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("printed config lacks %q:\n%s", w, out)
		}
	}
	// The printed file is valid input (masked secrets are just strings).
	back := Default()
	if err := back.ApplyYAML("printed", buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if back.FPS != 15 || back.Recordings.MinFree != 1<<30 || back.DrainGrace != time.Minute || len(back.ICEServers) != 2 || back.Keys["APIa"] != mask {
		t.Errorf("read back: %+v", back)
	}
}

func TestSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Size
	}{{"0", 0}, {"512MB", 512e6}, {"2GiB", 2 << 30}, {"1.5 KiB", 1536}, {"100", 100}, {"7b", 7}} {
		if got, err := ParseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "GB", "-1MB", "12 parsecs"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q): no error", in)
		}
	}
}

// TestDocs keeps docs/config.md equal to what the struct tags say, so
// every key is documented.
func TestDocs(t *testing.T) {
	want := Markdown()
	path := "../docs/config.md"
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("docs/config.md is out of date; run go test ./config -run TestDocs -update")
	}
	for _, f := range fields {
		if f.usage == "" {
			t.Errorf("key %s has no usage text", f.key)
		}
		if !strings.Contains(string(got), "`"+f.key+"`") {
			t.Errorf("docs/config.md lacks key %s", f.key)
		}
	}
}
