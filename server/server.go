// Package server wires the MCU's parts together: the room registry, the
// recorder, the websocket signaling and the HTTP handler. New builds them
// in dependency order and Close shuts them down in the reverse one, so that
// "mcu serve", the load generator and the tests run the same server.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"

	"github.com/mcu-dev/mcu/auth"
	"github.com/mcu-dev/mcu/cluster"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/signaling"
	"github.com/mcu-dev/mcu/transcode"
	"github.com/mcu-dev/mcu/web"
)

// Config is everything the server needs.
type Config struct {
	// Rooms configures the rooms and the WebRTC stack.
	Rooms mcu.Config
	// RecordingsDir holds recordings and their metadata; empty disables
	// recording.
	RecordingsDir string
	// Signaling tunes the websocket protocol.
	Signaling signaling.Options
	// Hosts are the host names served besides loopback names and IP
	// addresses; Origins are the web origins allowed besides the server's
	// own (for the websocket and state-changing API requests).
	Hosts   []string
	Origins []string
	// ReadTimeout bounds reading a whole HTTP request, body included
	// (default 30 s).
	ReadTimeout time.Duration
	// Log receives every component's logs (default: slog.Default()).
	Log *slog.Logger

	// Keys turn on access tokens for /ws and the API (docs/security.md);
	// nil lets everyone do everything.
	Keys *auth.Keys
	// Limiter answers failed authentications from an address more and
	// more slowly (default auth.NewLimiter()).
	Limiter *auth.Limiter
	// TLS, when set, makes Serve speak HTTPS and WSS.
	TLS *tls.Config
	// ICE shapes how media reaches the server through firewalls.
	ICE ICE
	// Ops adds metrics, webhooks, health, the disk guard and limits.
	Ops Ops
	// Authorize checks WHIP publishers' and WHEP viewers' bearer tokens;
	// nil admits everyone (as the websocket does without authentication).
	Authorize web.Authorize
	// Cluster, with a Redis URL, shares rooms and recordings with other
	// nodes (docs/cluster.md).
	Cluster Cluster
}

// ICE configures the media transports.
type ICE struct {
	// UDPPort, when not 0, carries all WebRTC UDP on this one port on every
	// interface (ICE UDP mux) instead of one port per participant.
	UDPPort int
	// TCPAddr, when set ("0.0.0.0:7881"), accepts ICE over TCP there, the
	// fallback for clients whose network blocks UDP.
	TCPAddr string
	// Servers (STUN/TURN URLs with credentials) are handed to browsers in
	// the joined message.
	Servers []webrtc.ICEServer
}

// Server is a running MCU.
type Server struct {
	Rooms     *mcu.Rooms
	Recorder  *mcu.Recorder // nil when recording is off
	Signaling *signaling.Server
	Handler   http.Handler

	log         *slog.Logger
	ops         *ops
	readTimeout time.Duration
	tls         *tls.Config
	http        *http.Server
	ln          net.Listener
	errc        chan error
	udpMux      ice.UDPMux
	tcpMux      ice.TCPMux
	tcpLn       net.Listener
	node        *cluster.Node // nil unless in a cluster
	nodeCancel  context.CancelFunc
}

// New builds the server's parts. It listens nowhere until Serve.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	transcode.SetLogger(cfg.Log)
	cfg.Rooms.Log = cfg.Log
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 30 * time.Second
	}
	limiter := cfg.Limiter
	if limiter == nil {
		limiter = auth.NewLimiter()
	}
	if cfg.Keys != nil && cfg.Ops.MetricsAuth == nil {
		// /metrics on the main listener tells who is where: roomList.
		cfg.Ops.MetricsAuth = auth.Require(cfg.Keys, limiter, (*auth.Claims).List)
	}
	s := &Server{log: cfg.Log, readTimeout: cfg.ReadTimeout, tls: cfg.TLS, ops: newOps(cfg.Ops, cfg.RecordingsDir, cfg.Log)}
	s.ops.configure(&cfg.Rooms)
	if err := s.openICE(cfg.ICE, &cfg.Rooms); err != nil {
		s.closeICE()
		return nil, err
	}
	var err error
	if s.Rooms, err = mcu.NewRooms(cfg.Rooms); err != nil {
		s.closeICE()
		return nil, err
	}
	if cfg.RecordingsDir != "" {
		if s.Recorder, err = mcu.NewRecorder(cfg.RecordingsDir, s.Rooms, cfg.Log); err != nil {
			_ = s.Rooms.Close(context.Background())
			s.closeICE()
			return nil, err
		}
	}
	checkOrigin := signaling.AllowOrigins(cfg.Origins)
	backend := s.ops.backend(s.Rooms)
	var wc web.Cluster
	if cfg.Cluster.RedisURL != "" {
		if err := s.joinCluster(cfg.Cluster); err != nil {
			if s.Recorder != nil {
				s.Recorder.Close()
			}
			_ = s.Rooms.Close(context.Background())
			s.closeICE()
			return nil, err
		}
		backend = clusterBackend{node: s.node, rooms: s.Rooms, next: backend}
		wc = webCluster{node: s.node}
		// A page from one node joins the room on another: the nodes'
		// origins are the server's own.
		own, node := checkOrigin, s.node
		checkOrigin = func(r *http.Request) bool { return own(r) || node.NodeOrigin(r.Header.Get("Origin")) }
	}
	sigOpts := cfg.Signaling
	sigOpts.CheckOrigin = checkOrigin
	sigOpts.Keys, sigOpts.Limiter = cfg.Keys, limiter
	if len(cfg.ICE.Servers) > 0 {
		sigOpts.ICEServers = cfg.ICE.Servers
	}
	s.Signaling = signaling.NewServer(backend, cfg.Log, sigOpts)
	authorize := cfg.Authorize
	if authorize == nil && cfg.Keys != nil {
		authorize = tokenAuthorize(cfg.Keys, limiter)
	}
	s.Handler = s.ops.handler(web.NewHandler(web.Options{
		Rooms: s.Rooms, Recorder: s.Recorder, Signaling: s.Signaling,
		Hosts: cfg.Hosts, CheckOrigin: checkOrigin, Log: cfg.Log,
		Backend: backend, Authorize: authorize, ICEServers: cfg.ICE.Servers,
		Keys: cfg.Keys, Limiter: limiter, Cluster: wc,
	}))
	s.ops.attach(s)
	return s, nil
}

// openICE opens the shared UDP socket and the ICE-TCP listener and hands
// them to the rooms' WebRTC stack.
func (s *Server) openICE(o ICE, rooms *mcu.Config) error {
	if o.UDPPort != 0 {
		opts := []ice.UDPMuxFromPortOption{ice.UDPMuxFromPortWithLogger(quietLogger("udpmux"))}
		if rooms.IncludeLoopback {
			opts = append(opts, ice.UDPMuxFromPortWithLoopback())
		}
		m, err := ice.NewMultiUDPMuxFromPort(o.UDPPort, opts...)
		if err != nil {
			return fmt.Errorf("server: UDP port %d for media: %w", o.UDPPort, err)
		}
		s.udpMux, rooms.ICEUDPMux = m, m
		s.log.Info("WebRTC media on one UDP port", "port", o.UDPPort)
	}
	if o.TCPAddr != "" {
		ln, err := net.Listen("tcp", o.TCPAddr)
		if err != nil {
			return fmt.Errorf("server: ICE-TCP listener: %w", err)
		}
		s.tcpLn = ln
		m := webrtc.NewICETCPMux(quietLogger("tcpmux"), ln, 64)
		s.tcpMux, rooms.ICETCPMux = m, m
		s.log.Info("WebRTC media over TCP", "addr", ln.Addr().String())
	}
	return nil
}

func (s *Server) closeICE() {
	if s.tcpMux != nil {
		_ = s.tcpMux.Close()
	} else if s.tcpLn != nil {
		_ = s.tcpLn.Close()
	}
	if s.udpMux != nil {
		_ = s.udpMux.Close()
	}
}

// ICETCPAddr is where ICE-TCP is accepted; empty when it is off.
func (s *Server) ICETCPAddr() string {
	if s.tcpLn == nil {
		return ""
	}
	return s.tcpLn.Addr().String()
}

func quietLogger(scope string) logging.LeveledLogger {
	f := logging.NewDefaultLoggerFactory()
	f.DefaultLogLevel = logging.LogLevelError
	return f.NewLogger(scope)
}

// Serve answers HTTP on ln in the background; Close stops it.
func (s *Server) Serve(ln net.Listener) {
	s.ln = ln
	// ReadTimeout bounds the whole request, body included: a body trickled
	// a byte at a time cannot hold a connection. Downloads may take long,
	// so writes have no overall bound; websockets set their own deadlines.
	s.http = &http.Server{Handler: s.Handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: s.readTimeout, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)} // TLS handshakes refused by browsers are routine
	s.errc = make(chan error, 1)
	if s.tls != nil {
		// HTTP/1.1 only (the TLS config offers no h2): websockets upgrade
		// over it.
		ln = tls.NewListener(ln, s.tls)
	}
	go func() { s.errc <- s.http.Serve(ln) }()
	if err := s.ops.serveMetrics(); err != nil {
		s.log.Error("metrics", "err", err)
	}
	if s.node != nil && s.nodeCancel == nil {
		// Registered only once it answers: other nodes send clients here.
		ctx, cancel := context.WithCancel(context.Background())
		s.nodeCancel = cancel
		go s.node.Run(ctx)
	}
}

// Listen listens on addr ("127.0.0.1:0" for a free port) and serves.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.Serve(ln)
	return nil
}

// Addr is the address Serve listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL is the server's base URL: https:// with TLS, else http://.
func (s *Server) URL() string {
	if s.tls != nil {
		return "https://" + s.Addr()
	}
	return "http://" + s.Addr()
}

// WebsocketURL is the signaling endpoint's URL: wss:// with TLS, else ws://.
func (s *Server) WebsocketURL() string {
	if s.tls != nil {
		return "wss://" + s.Addr() + "/ws"
	}
	return "ws://" + s.Addr() + "/ws"
}

// Err reports the HTTP server's failure, if it stops on its own.
func (s *Server) Err() <-chan error { return s.errc }

// Close shuts the server down in order: no new connections or joins, then
// every recording finalized, then every room closed. It waits for all of it
// up to ctx's deadline.
func (s *Server) Close(ctx context.Context) error {
	var errs []error
	s.Signaling.Close()
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("server: http: %w", err))
		}
	}
	if s.Recorder != nil {
		s.Recorder.Close()
	}
	if err := s.Rooms.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("server: rooms: %w", err))
	}
	if s.node != nil {
		// After the rooms: their leases are released first.
		if s.nodeCancel != nil {
			s.nodeCancel()
		}
		if err := s.node.Close(); err != nil {
			errs = append(errs, fmt.Errorf("server: cluster: %w", err))
		}
	}
	if err := s.ops.close(ctx); err != nil {
		errs = append(errs, err)
	}
	s.closeICE()
	return errors.Join(errs...)
}

// tokenAuthorize checks WHIP and WHEP requests with the same access tokens
// as the rest of the server: roomJoin for the room, and canPublish (WHIP)
// or canSubscribe (WHEP). The token's display name names the publisher.
func tokenAuthorize(keys *auth.Keys, limiter *auth.Limiter) web.Authorize {
	return func(r *http.Request, room string, access web.Access) (string, error) {
		tok := auth.BearerToken(r)
		if tok == "" {
			return "", errors.New("a bearer token is required")
		}
		c, err := keys.Verify(tok)
		if err != nil {
			if limiter != nil {
				limiter.Fail(r.RemoteAddr)
			}
			return "", err
		}
		if err := c.Join(room); err != nil {
			return "", fmt.Errorf("%w: %v", web.ErrForbidden, err)
		}
		if access == web.Publish && !c.CanPublish() {
			return "", fmt.Errorf("%w: the token does not grant canPublish", web.ErrForbidden)
		}
		if access == web.Subscribe && !c.CanSubscribe() {
			return "", fmt.Errorf("%w: the token does not grant canSubscribe", web.ErrForbidden)
		}
		if c.Name != "" {
			return c.Name, nil
		}
		return c.Identity(), nil
	}
}
