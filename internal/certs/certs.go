// Package certs provides the server's TLS certificates from one of three
// sources: certificate and key files (reloaded when they change, so a
// renewed certificate needs no restart), a self-signed certificate for the
// machine's own names and addresses (kept on disk and reused, for LAN use
// without a domain), or an ACME CA through autocert.
//
// Serve with tls.NewListener(ln, src.TLSConfig()) and http.Server.Serve:
// the configuration offers HTTP/1.1 only, because websockets upgrade over
// HTTP/1.1.
package certs

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// Options chooses the certificate source: CertFile and KeyFile, or
// SelfSigned, or ACMEDomains. Exactly one must be set.
type Options struct {
	// CertFile and KeyFile are PEM files, reloaded when either changes.
	CertFile, KeyFile string
	// SelfSigned makes (or reuses) a self-signed certificate in Dir for
	// the machine's host names and IP addresses plus Hosts.
	SelfSigned bool
	// Dir keeps the self-signed certificate across restarts.
	Dir string
	// Hosts are extra DNS names or IP addresses for the self-signed
	// certificate (the listen address, a name in /etc/hosts...).
	Hosts []string
	// ACMEDomains are the names to obtain certificates for from an ACME CA.
	ACMEDomains []string
	// ACMECacheDir keeps the ACME account and certificates.
	ACMECacheDir string
	// ACMEEmail is the contact address given to the CA (optional).
	ACMEEmail string
	// ACMEDirectoryURL is the CA's directory (default Let's Encrypt).
	ACMEDirectoryURL string
	// Log receives reloads and the self-signed fingerprint; nil logs to
	// slog.Default().
	Log *slog.Logger
}

// Source holds the configured certificates.
type Source struct {
	cfg         *tls.Config
	acme        *autocert.Manager
	fingerprint string   // of the self-signed certificate
	names       []string // of the self-signed certificate
}

// New prepares the certificates: files are loaded once to fail early, a
// self-signed certificate is reused or made, an ACME manager is set up
// (certificates are then fetched on the first handshake).
func New(o Options) (*Source, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	sources := 0
	if o.CertFile != "" || o.KeyFile != "" {
		sources++
	}
	if o.SelfSigned {
		sources++
	}
	if len(o.ACMEDomains) > 0 {
		sources++
	}
	if sources != 1 {
		return nil, errors.New("certs: choose one of a certificate and key file, a self-signed certificate, or ACME domains")
	}
	s := &Source{}
	switch {
	case o.CertFile != "" || o.KeyFile != "":
		if o.CertFile == "" || o.KeyFile == "" {
			return nil, errors.New("certs: a certificate file needs its key file and the other way round")
		}
		fc, err := newFileCert(o.CertFile, o.KeyFile, o.Log)
		if err != nil {
			return nil, err
		}
		s.cfg = baseConfig()
		s.cfg.GetCertificate = fc.get
	case o.SelfSigned:
		if o.Dir == "" {
			return nil, errors.New("certs: a self-signed certificate needs a directory to keep it in")
		}
		cert, names, reused, err := selfSigned(o.Dir, o.Hosts)
		if err != nil {
			return nil, err
		}
		s.fingerprint = Fingerprint(cert.Leaf)
		s.names = names
		verb := "made"
		if reused {
			verb = "reusing"
		}
		o.Log.Info(verb+" self-signed TLS certificate: browsers ask to accept it once; compare this fingerprint",
			"sha256", s.fingerprint, "names", strings.Join(names, ","), "dir", o.Dir)
		s.cfg = baseConfig()
		s.cfg.Certificates = []tls.Certificate{cert}
	default:
		if o.ACMECacheDir == "" {
			return nil, errors.New("certs: ACME needs a cache directory for its account and certificates")
		}
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			HostPolicy: autocert.HostWhitelist(o.ACMEDomains...),
			Cache:      autocert.DirCache(o.ACMECacheDir),
			Email:      o.ACMEEmail,
		}
		if o.ACMEDirectoryURL != "" {
			m.Client = &acme.Client{DirectoryURL: o.ACMEDirectoryURL}
		}
		s.acme = m
		s.cfg = baseConfig()
		s.cfg.GetCertificate = m.GetCertificate
		s.cfg.NextProtos = append(s.cfg.NextProtos, acme.ALPNProto) // TLS-ALPN-01 as well
		o.Log.Info("TLS certificates from ACME", "domains", strings.Join(o.ACMEDomains, ","), "cache", o.ACMECacheDir)
	}
	return s, nil
}

func baseConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
}

// TLSConfig returns the server configuration; each call gets a copy.
func (s *Source) TLSConfig() *tls.Config { return s.cfg.Clone() }

// Fingerprint is the self-signed certificate's SHA-256 fingerprint
// ("AB:CD:..."), empty for other sources.
func (s *Source) Fingerprint() string { return s.fingerprint }

// Names are the DNS names and IP addresses of the self-signed
// certificate, empty for other sources.
func (s *Source) Names() []string { return append([]string(nil), s.names...) }

// ACME reports whether certificates come from an ACME CA; serve
// HTTPHandler on port 80 then.
func (s *Source) ACME() bool { return s.acme != nil }

// HTTPHandler answers ACME HTTP-01 challenges and passes everything else
// to fallback; a nil fallback redirects to https. Without ACME it is
// fallback (or the redirect).
func (s *Source) HTTPHandler(fallback http.Handler) http.Handler {
	if s.acme != nil {
		return s.acme.HTTPHandler(fallback)
	}
	if fallback != nil {
		return fallback
	}
	return http.HandlerFunc(redirectHTTPS)
}

func redirectHTTPS(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, ok := strings.Cut(host, ":"); ok && !strings.HasPrefix(host, "[") {
		host = h
	}
	http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusFound)
}

// Fingerprint formats the SHA-256 of a certificate's DER bytes as browsers
// show it: upper-case hex pairs separated by colons.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	var b strings.Builder
	for i, x := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}
