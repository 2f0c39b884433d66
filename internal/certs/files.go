package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// fileCert serves a certificate from files and reloads it when either file
// changes. Checking the files' modification times on each handshake costs
// two stat calls, far less than the handshake; it needs no watcher
// goroutine and notices a renewal (certbot, cert-manager) at once.
type fileCert struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp // of the files the current certificate came from
	badSeen [2]fileStamp // last stamps that failed to load, logged once
}

type fileStamp struct {
	mod  time.Time
	size int64
}

func newFileCert(certFile, keyFile string, log *slog.Logger) (*fileCert, error) {
	f := &fileCert{certFile: certFile, keyFile: keyFile, log: log}
	st, err := f.stamps()
	if err != nil {
		return nil, err
	}
	if err := f.load(st); err != nil {
		return nil, err
	}
	log.Info("TLS certificate from files", "cert", certFile, "key", keyFile, "subject", f.cert.Leaf.Subject.String(), "expires", f.cert.Leaf.NotAfter.Format(time.DateOnly))
	return f, nil
}

func (f *fileCert) stamps() ([2]fileStamp, error) {
	var st [2]fileStamp
	for i, name := range []string{f.certFile, f.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return st, fmt.Errorf("certs: %w", err)
		}
		st[i] = fileStamp{mod: fi.ModTime(), size: fi.Size()}
	}
	return st, nil
}

func (f *fileCert) load(st [2]fileStamp) error {
	c, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err != nil {
		return fmt.Errorf("certs: loading %s and %s: %w", f.certFile, f.keyFile, err)
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return fmt.Errorf("certs: parsing %s: %w", f.certFile, err)
		}
	}
	f.cert, f.stamp = &c, st
	return nil
}

// get is tls.Config.GetCertificate. While the files are being rewritten
// (one before the other) the pair may not match: the old certificate is
// served until both load together.
func (f *fileCert) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := f.stamps()
	if err != nil || st == f.stamp || st == f.badSeen {
		return f.cert, nil
	}
	if err := f.load(st); err != nil {
		f.badSeen = st
		f.log.Warn("TLS certificate files changed but do not load; serving the previous certificate", "err", err)
		return f.cert, nil
	}
	f.log.Info("TLS certificate reloaded", "cert", f.certFile, "subject", f.cert.Leaf.Subject.String(), "expires", f.cert.Leaf.NotAfter.Format(time.DateOnly))
	return f.cert, nil
}
