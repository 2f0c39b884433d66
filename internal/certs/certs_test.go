package certs

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// serve runs an HTTPS server with cfg on 127.0.0.1:0 and returns its
// address.
func serve(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello over "+r.Proto) })}
	go srv.Serve(tls.NewListener(ln, cfg))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// peerCert connects to addr and returns the certificate it presents.
func peerCert(t *testing.T, addr string) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// writePair writes a fresh self-signed pair for name and moves both files'
// times to mod, so that a change is seen even on coarse clocks.
func writePair(t *testing.T, certFile, keyFile, name string, mod time.Time) *x509.Certificate {
	t.Helper()
	certPEM, keyPEM, err := makeSelfSigned([]string{name}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for path, data := range map[string][]byte{certFile: certPEM, keyFile: keyPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	block, _ := pem.Decode(certPEM)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFilesReloadOnChange(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	t0 := time.Now().Add(-time.Hour)
	first := writePair(t, certFile, keyFile, "first.test", t0)
	var logs bytes.Buffer
	src, err := New(Options{CertFile: certFile, KeyFile: keyFile, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, src.TLSConfig())
	if got := peerCert(t, addr); !got.Equal(first) {
		t.Fatalf("serving %v, want the first certificate", got.DNSNames)
	}

	second := writePair(t, certFile, keyFile, "second.test", t0.Add(time.Minute))
	if got := peerCert(t, addr); !got.Equal(second) {
		t.Fatalf("after the files changed, serving %v, want the second certificate", got.DNSNames)
	}
	if !strings.Contains(logs.String(), "TLS certificate reloaded") {
		t.Errorf("reload not logged: %s", logs.String())
	}

	// A half-written renewal (a key that is not the certificate's) keeps
	// the previous certificate in service.
	third := t0.Add(2 * time.Minute)
	otherKey := filepath.Join(dir, "other.key")
	writePair(t, filepath.Join(dir, "other.crt"), otherKey, "third.test", third)
	keyPEM, _ := os.ReadFile(otherKey)
	os.WriteFile(keyFile, keyPEM, 0o600)
	os.Chtimes(keyFile, third, third)
	if got := peerCert(t, addr); !got.Equal(second) {
		t.Fatalf("a mismatched pair replaced the certificate: %v", got.DNSNames)
	}
	if !strings.Contains(logs.String(), "do not load") {
		t.Errorf("failed reload not logged: %s", logs.String())
	}
	// The server still works over plain HTTP/1.1 with the right protocol.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello over HTTP/1.1" {
		t.Fatalf("body %q", body)
	}
}

func TestFilesErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := New(Options{CertFile: filepath.Join(dir, "none.crt"), KeyFile: filepath.Join(dir, "none.key")}); err == nil {
		t.Error("missing files accepted")
	}
	if _, err := New(Options{CertFile: "a.crt"}); err == nil || !strings.Contains(err.Error(), "key file") {
		t.Errorf("certificate without key: %v", err)
	}
	if _, err := New(Options{}); err == nil {
		t.Error("no source accepted")
	}
	if _, err := New(Options{SelfSigned: true, Dir: dir, ACMEDomains: []string{"a.test"}}); err == nil {
		t.Error("two sources accepted")
	}
	if _, err := New(Options{SelfSigned: true}); err == nil {
		t.Error("self-signed without a directory accepted")
	}
}

func TestSelfSignedReusedAcrossStarts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	a, err := New(Options{SelfSigned: true, Dir: dir, Hosts: []string{"mcu.lan", "0.0.0.0"}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	fp := a.Fingerprint()
	if len(fp) != 32*3-1 || !strings.Contains(logs.String(), fp) || !strings.Contains(logs.String(), "made self-signed") {
		t.Fatalf("fingerprint %q not logged: %s", fp, logs.String())
	}
	host, _ := os.Hostname()
	for _, n := range []string{"localhost", "127.0.0.1", "::1", "mcu.lan", host} {
		if !slices.Contains(a.Names(), n) {
			t.Errorf("certificate names %v lack %q", a.Names(), n)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, selfSignedKey)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", st.Mode(), err)
	}

	// A second start reuses it.
	logs.Reset()
	b, err := New(Options{SelfSigned: true, Dir: dir, Hosts: []string{"mcu.lan"}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if b.Fingerprint() != fp || !strings.Contains(logs.String(), "reusing") {
		t.Fatalf("second start: fingerprint %s, want %s; log %s", b.Fingerprint(), fp, logs.String())
	}

	// A client that trusts exactly this certificate verifies it for
	// localhost and 127.0.0.1, over a real listener.
	addr := serve(t, b.TLSConfig())
	pemBytes, _ := os.ReadFile(filepath.Join(dir, selfSignedCert))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	for _, name := range []string{"localhost", "127.0.0.1"} {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: name})
		if err != nil {
			t.Fatalf("verifying as %s: %v", name, err)
		}
		if got := Fingerprint(conn.ConnectionState().PeerCertificates[0]); got != fp {
			t.Errorf("served %s, logged %s", got, fp)
		}
		conn.Close()
	}

	// A new name makes a new certificate that covers it.
	c, err := New(Options{SelfSigned: true, Dir: dir, Hosts: []string{"other.lan"}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if c.Fingerprint() == fp || !slices.Contains(c.Names(), "other.lan") {
		t.Fatalf("a missing name did not renew the certificate: %v", c.Names())
	}
}

func TestSelfSignedRenewedNearExpiry(t *testing.T) {
	dir := t.TempDir()
	names := wantedNames(nil)
	certPEM, keyPEM, err := makeSelfSigned(names, time.Now().Add(-selfSignedValidity+10*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, selfSignedCert), certPEM, 0o644)
	os.WriteFile(filepath.Join(dir, selfSignedKey), keyPEM, 0o600)
	old, _ := tls.X509KeyPair(certPEM, keyPEM)
	src, err := New(Options{SelfSigned: true, Dir: dir, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if src.Fingerprint() == Fingerprint(old.Leaf) {
		t.Fatal("a certificate 10 days from its end was reused")
	}
}

func TestACMEManager(t *testing.T) {
	src, err := New(Options{ACMEDomains: []string{"mcu.example.org"}, ACMECacheDir: t.TempDir(), ACMEEmail: "ops@example.org", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := src.TLSConfig()
	if !src.ACME() || cfg.GetCertificate == nil || !slices.Contains(cfg.NextProtos, "acme-tls/1") {
		t.Fatalf("ACME config: %+v", cfg)
	}
	// The host policy refuses other names before any request to the CA.
	if _, err := cfg.GetCertificate(&tls.ClientHelloInfo{ServerName: "evil.example.com"}); err == nil || !strings.Contains(err.Error(), "not configured") {
		t.Fatalf("certificate for a foreign name: %v", err)
	}
	// Port 80: challenges are answered by the manager, the rest redirects.
	h := src.HTTPHandler(nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://mcu.example.org/room?x=1", nil))
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "https://mcu.example.org/room?x=1" {
		t.Fatalf("redirect: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://mcu.example.org/.well-known/acme-challenge/unknown-token", nil))
	if rec.Code != http.StatusForbidden && rec.Code != http.StatusNotFound {
		t.Fatalf("unknown challenge token answered %d", rec.Code)
	}
	if _, err := New(Options{ACMEDomains: []string{"a.test"}}); err == nil {
		t.Fatal("ACME without a cache directory accepted")
	}
}

func TestRedirectWithoutACME(t *testing.T) {
	src, err := New(Options{SelfSigned: true, Dir: t.TempDir(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	src.HTTPHandler(nil).ServeHTTP(rec, httptest.NewRequest("GET", "http://192.168.1.20:8080/a?b=c", nil))
	if rec.Header().Get("Location") != "https://192.168.1.20/a?b=c" {
		t.Fatalf("redirect to %q", rec.Header().Get("Location"))
	}
}
