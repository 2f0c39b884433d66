package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/mcu-dev/mcu/auth"
	"github.com/mcu-dev/mcu/internal/certs"
	"github.com/mcu-dev/mcu/server"
)

// Ports used beyond loopback unless set otherwise (LiveKit's, which
// firewall rules written for it already open).
const (
	defaultUDPPort = 7882
	defaultTCPPort = 7881
)

// secureFlags are serve's flags for HTTPS, access tokens and media through
// firewalls.
type secureFlags struct {
	tls, tlsCert, tlsKey, tlsHosts         string
	acmeDomain, acmeEmail, acmeCache, data string
	keysFile, iceServers                   string
	udpPort, tcpPort, maxRecordings        int
	insecureNoAuth                         bool
}

func addSecureFlags(fs *flag.FlagSet) *secureFlags {
	f := &secureFlags{}
	fs.StringVar(&f.tls, "tls", envOr("MCU_TLS", ""), `"auto": self-signed certificate kept in -data (the default beyond loopback without a certificate); "off": plain HTTP, loopback only (env MCU_TLS)`)
	fs.StringVar(&f.tlsCert, "tls-cert", envOr("MCU_TLS_CERT", ""), "TLS certificate file (PEM), reloaded when it changes (env MCU_TLS_CERT)")
	fs.StringVar(&f.tlsKey, "tls-key", envOr("MCU_TLS_KEY", ""), "TLS key file (PEM) (env MCU_TLS_KEY)")
	fs.StringVar(&f.tlsHosts, "tls-hosts", envOr("MCU_TLS_HOSTS", ""), "extra names or addresses for the self-signed certificate, comma separated (env MCU_TLS_HOSTS)")
	fs.StringVar(&f.acmeDomain, "acme-domain", envOr("MCU_ACME_DOMAIN", ""), "get certificates for this domain from Let's Encrypt (HTTP-01 on :80) (env MCU_ACME_DOMAIN)")
	fs.StringVar(&f.acmeEmail, "acme-email", envOr("MCU_ACME_EMAIL", ""), "contact address for the ACME account (env MCU_ACME_EMAIL)")
	fs.StringVar(&f.acmeCache, "acme-cache-dir", envOr("MCU_ACME_CACHE_DIR", ""), "ACME account and certificates (default DATA/acme) (env MCU_ACME_CACHE_DIR)")
	fs.StringVar(&f.data, "data", envOr("MCU_DATA", "data"), "directory for the server's own state: self-signed certificate, ACME cache (env MCU_DATA)")
	fs.StringVar(&f.keysFile, "keys-file", envOr("MCU_KEYS_FILE", ""), `YAML file of "key: secret" pairs, besides MCU_KEYS (env MCU_KEYS_FILE)`)
	fs.StringVar(&f.iceServers, "ice-servers", envOr("MCU_ICE_SERVERS", ""), `STUN/TURN servers for browsers, comma separated, each URL[|USER|CREDENTIAL] (env MCU_ICE_SERVERS)`)
	fs.IntVar(&f.udpPort, "udp-port", envInt("MCU_UDP_PORT", -1), "all WebRTC UDP on this one port (default 7882 beyond loopback; 0: a port per participant) (env MCU_UDP_PORT)")
	fs.IntVar(&f.tcpPort, "tcp-port", envInt("MCU_TCP_PORT", -1), "ICE over TCP on this port, for clients whose UDP is blocked (default 7881 beyond loopback; 0: off) (env MCU_TCP_PORT)")
	fs.IntVar(&f.maxRecordings, "max-recordings", envInt("MCU_MAX_RECORDINGS", 8), "recordings running at once (0: no cap) (env MCU_MAX_RECORDINGS)")
	fs.BoolVar(&f.insecureNoAuth, "insecure-no-auth", envBool("MCU_INSECURE_NO_AUTH", false), "no access tokens at all, even beyond loopback (env MCU_INSECURE_NO_AUTH)")
	return f
}

// secured is what setup decided, for what happens after Listen.
type secured struct {
	devKeys  bool // keys made up for this run: print links
	noAuth   bool // -insecure-no-auth: warn every minute
	certs    *certs.Source
	loopback bool
}

// isLoopback reports whether addr listens on loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// setup chooses authentication, TLS and the media transports for serving
// on addr, and fills cfg. Errors are the operator's to fix (exit 2).
func (f *secureFlags) setup(addr string, cfg *server.Config, udpRange bool, log *slog.Logger) (*secured, error) {
	s := &secured{loopback: isLoopback(addr)}

	keys, err := loadKeys(f.keysFile)
	if err != nil {
		return nil, err
	}
	switch {
	case keys.Len() > 0:
		if err := keys.Validate(s.loopback); err != nil {
			return nil, err
		}
		cfg.Keys = keys
		log.Info("access tokens required", "keys", strings.Join(keys.Names(), ","))
	case f.insecureNoAuth:
		s.noAuth = true
	case s.loopback:
		key, secret := auth.GenerateKey()
		cfg.Keys, _ = auth.NewKeys(key, secret)
		s.devKeys = true
	default:
		return nil, fmt.Errorf("listening on %s, beyond loopback, needs access keys: set MCU_KEYS=\"key: secret\" (\"mcu keys\" makes one) or -keys-file, or listen on 127.0.0.1; -insecure-no-auth lets anyone in", addr)
	}

	// TLS: files, ACME, self-signed, or plain HTTP on loopback only.
	log = log.With("component", "tls")
	co := certs.Options{Log: log}
	switch {
	case f.tlsCert != "" || f.tlsKey != "":
		co.CertFile, co.KeyFile = f.tlsCert, f.tlsKey
	case f.acmeDomain != "":
		co.ACMEDomains = strings.Split(f.acmeDomain, ",")
		co.ACMECacheDir, co.ACMEEmail = f.acmeCache, f.acmeEmail
		if co.ACMECacheDir == "" {
			co.ACMECacheDir = filepath.Join(f.data, "acme")
		}
		cfg.Hosts = append(cfg.Hosts, co.ACMEDomains...)
	case f.tls == "auto" || (f.tls == "" && !s.loopback):
		co.SelfSigned, co.Dir = true, filepath.Join(f.data, "tls")
		for _, h := range strings.Split(f.tlsHosts, ",") {
			if h = strings.TrimSpace(h); h != "" {
				co.Hosts = append(co.Hosts, h)
				if net.ParseIP(h) == nil {
					cfg.Hosts = append(cfg.Hosts, h)
				}
			}
		}
		if host, _, err := net.SplitHostPort(addr); err == nil && host != "" {
			co.Hosts = append(co.Hosts, host)
		}
	case f.tls == "" || f.tls == "off":
		if !s.loopback {
			return nil, fmt.Errorf("-tls off: plain HTTP is only served on loopback (browsers allow the camera only over https beyond it); give -tls-cert/-tls-key, -acme-domain or -tls auto")
		}
	default:
		return nil, fmt.Errorf("-tls %q: want auto or off", f.tls)
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

	// Media: one UDP port and ICE-TCP beyond loopback unless told otherwise.
	udp, tcp := f.udpPort, f.tcpPort
	if udp < 0 {
		udp = 0
		if !s.loopback && !udpRange {
			udp = defaultUDPPort
		}
	}
	if tcp < 0 {
		tcp = 0
		if !s.loopback {
			tcp = defaultTCPPort
		}
	}
	cfg.ICE.UDPPort = udp
	if tcp > 0 {
		host, _, _ := net.SplitHostPort(addr)
		cfg.ICE.TCPAddr = net.JoinHostPort(host, strconv.Itoa(tcp))
	}
	if cfg.ICE.Servers, err = parseICEServers(f.iceServers); err != nil {
		return nil, err
	}
	cfg.MaxRecordings = f.maxRecordings
	return s, nil
}

// parseICEServers reads "URL[|USER|CREDENTIAL],...".
func parseICEServers(s string) ([]webrtc.ICEServer, error) {
	var out []webrtc.ICEServer
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.Split(item, "|")
		if len(parts) != 1 && len(parts) != 3 {
			return nil, fmt.Errorf("-ice-servers %q: want URL or URL|USER|CREDENTIAL", item)
		}
		u, err := url.Parse(parts[0])
		if err != nil || (u.Scheme != "stun" && u.Scheme != "stuns" && u.Scheme != "turn" && u.Scheme != "turns") {
			return nil, fmt.Errorf("-ice-servers %q: want a stun:, stuns:, turn: or turns: URL", parts[0])
		}
		srv := webrtc.ICEServer{URLs: []string{parts[0]}}
		if len(parts) == 3 {
			srv.Username, srv.Credential = parts[1], parts[2]
		}
		out = append(out, srv)
	}
	return out, nil
}

// afterListen prints the dev links, serves ACME challenges on :80 and
// keeps warning when authentication is off. The returned stop ends what
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
			log.Warn("INSECURE: -insecure-no-auth: anyone who reaches this server may join any room and read, start or delete every recording")
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
	fmt.Fprintf(out, `
Development mode: loopback only, with a key made up for this run (set MCU_KEYS to keep one).
  participant: %s
  operator:    %s
More tokens: MCU_KEYS="%s" mcu token -room R -identity I [-admin] [-record]

`, link(participant), link(operator), devKeysLine(keys))
}

func devKeysLine(keys *auth.Keys) string {
	k, s, _ := keys.First()
	return k + ": " + s
}
