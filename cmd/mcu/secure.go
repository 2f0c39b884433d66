package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/mcu-dev/mcu/auth"
	"github.com/mcu-dev/mcu/config"
	"github.com/mcu-dev/mcu/internal/certs"
	"github.com/mcu-dev/mcu/server"
)

// secured is what secure decided, for what happens after Listen.
type secured struct {
	devKeys bool // keys made up for this run: print links
	noAuth  bool // insecure_no_auth: warn every minute
	certs   *certs.Source
}

// secure applies the configuration's authentication, TLS and media
// transports to cfg. Its errors are the operator's to fix (exit 2).
func secure(c *config.Config, cfg *server.Config, log *slog.Logger) (*secured, error) {
	s := &secured{}
	beyond := c.BeyondLoopback()

	// Keys: given, made up on loopback (dev mode), or refused beyond it.
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range c.Keys {
			if !yield(k) {
				return
			}
		}
	})
	var pairs []string
	for _, k := range names {
		pairs = append(pairs, k, c.Keys[k])
	}
	keys, err := auth.NewKeys(pairs...)
	if err != nil {
		return nil, err
	}
	switch {
	case keys.Len() > 0:
		if err := keys.Validate(!beyond); err != nil {
			return nil, err
		}
		cfg.Keys = keys
		log.Info("access tokens required", "keys", strings.Join(keys.Names(), ","))
	case c.InsecureNoAuth:
		s.noAuth = true
	case !beyond:
		key, secret := auth.GenerateKey()
		cfg.Keys, _ = auth.NewKeys(key, secret)
		s.devKeys = true
	default:
		return nil, fmt.Errorf("http %s listens beyond loopback and needs access keys: set MCU_KEYS=\"key: secret\" (\"mcu keys\" makes one), keys or keys_file; or listen on 127.0.0.1; insecure_no_auth lets anyone in", c.HTTP)
	}

	// TLS: certificate files, ACME, a self-signed certificate, or plain
	// HTTP on loopback only.
	co := certs.Options{Log: log.With("component", "tls")}
	host, _, _ := net.SplitHostPort(c.HTTP)
	switch {
	case c.TLS == "off":
		if beyond {
			return nil, errors.New("tls: off: plain HTTP is served on loopback only (beyond it browsers open the camera only over https); use tls: auto, tls_cert/tls_key or acme_domain")
		}
	case c.TLSCert != "":
		co.CertFile, co.KeyFile = c.TLSCert, c.TLSKey
	case c.ACMEDomain != "":
		co.ACMEDomains = []string{c.ACMEDomain}
		co.ACMECacheDir, co.ACMEEmail = c.ACMECacheDir, c.ACMEEmail
		if co.ACMECacheDir == "" {
			co.ACMECacheDir = filepath.Join(c.DataDir, "acme")
		}
		cfg.Hosts = append(cfg.Hosts, c.ACMEDomain)
	case beyond:
		co.SelfSigned, co.Dir = true, filepath.Join(c.DataDir, "tls")
		co.Hosts = append(co.Hosts, host)
		co.Hosts = append(co.Hosts, c.PublicIP...)
		if u, err := url.Parse(c.PublicURL); err == nil && u.Hostname() != "" {
			co.Hosts = append(co.Hosts, u.Hostname())
		}
	}
	if co.CertFile != "" || co.SelfSigned || len(co.ACMEDomains) > 0 {
		if s.certs, err = certs.New(co); err != nil {
			return nil, err
		}
		cfg.TLS = s.certs.TLSConfig()
		// The certificate's names (the host name...) are names the server
		// answers to.
		for _, n := range s.certs.Names() {
			if net.ParseIP(n) == nil && n != "localhost" {
				cfg.Hosts = append(cfg.Hosts, n)
			}
		}
	}

	// Media: one UDP port and ICE-TCP (beyond loopback by default).
	cfg.ICE.UDPPort = c.MuxUDPPort()
	if p := c.ICETCPPort(); p > 0 {
		cfg.ICE.TCPAddr = net.JoinHostPort(host, strconv.Itoa(p))
	}
	for _, srv := range c.ICEServers {
		cfg.ICE.Servers = append(cfg.ICE.Servers, webrtc.ICEServer{URLs: srv.URLs, Username: srv.Username, Credential: srv.Credential})
	}
	return s, nil
}

// afterListen prints the dev links, serves ACME challenges on :80 and
// keeps warning while authentication is off. The returned stop ends what
// it started.
func (s *secured) afterListen(ctx context.Context, srv *server.Server, keys *auth.Keys, log *slog.Logger, out io.Writer) func() {
	var stops []func()
	if s.devKeys {
		printDevLinks(out, srv.URL(), keys)
	}
	if s.certs != nil && s.certs.ACME() {
		h := &http.Server{Addr: ":80", Handler: s.certs.HTTPHandler(nil), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := h.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("ACME HTTP-01 listener on :80", "err", err)
			}
		}()
		stops = append(stops, func() { _ = h.Close() })
	}
	if s.noAuth {
		warn := func() {
			log.Warn("INSECURE: insecure_no_auth: anyone who reaches this server may join any room and read, start or delete every recording")
		}
		warn()
		wctx, cancel := context.WithCancel(ctx)
		go func() {
			t := time.NewTicker(time.Minute)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					warn()
				case <-wctx.Done():
					return
				}
			}
		}()
		stops = append(stops, cancel)
	}
	return func() {
		for _, f := range stops {
			f()
		}
	}
}

// printDevLinks prints a participant and an operator link for a demo room,
// signed with this run's dev key.
func printDevLinks(out io.Writer, base string, keys *auth.Keys) {
	const room = "demo"
	participant, _ := keys.Mint(auth.NewClaims("guest", "Guest", auth.VideoGrant{Room: room, RoomJoin: true}, 24*time.Hour))
	operator, _ := keys.Mint(auth.NewClaims("operator", "Operator", auth.VideoGrant{Room: room, RoomJoin: true, RoomAdmin: true, RoomRecord: true, RoomList: true}, 24*time.Hour))
	link := func(tok string) string {
		return base + "/?" + url.Values{"room": {room}, "token": {tok}}.Encode()
	}
	k, secret, _ := keys.First()
	fmt.Fprintf(out, `
Development mode: loopback only, with a key made up for this run (set MCU_KEYS to keep one).
  participant: %s
  operator:    %s
More tokens: MCU_KEYS="%s: %s" mcu token -room R -identity I [-admin] [-record]

`, link(participant), link(operator), k, secret)
}
