// Package server wires the MCU's parts together: the room registry, the
// recorder, the websocket signaling and the HTTP handler. New builds them
// in dependency order and Close shuts them down in the reverse one, so that
// "mcu serve", the load generator and the tests run the same server.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

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
	// Ops adds metrics, webhooks, health, the disk guard and limits.
	Ops Ops
	// Authorize checks WHIP publishers' and WHEP viewers' bearer tokens;
	// nil admits everyone (as the websocket does without authentication).
	Authorize web.Authorize
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
	http        *http.Server
	ln          net.Listener
	errc        chan error
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
	s := &Server{log: cfg.Log, readTimeout: cfg.ReadTimeout, ops: newOps(cfg.Ops, cfg.RecordingsDir, cfg.Log)}
	s.ops.configure(&cfg.Rooms)
	var err error
	if s.Rooms, err = mcu.NewRooms(cfg.Rooms); err != nil {
		return nil, err
	}
	if cfg.RecordingsDir != "" {
		if s.Recorder, err = mcu.NewRecorder(cfg.RecordingsDir, s.Rooms, cfg.Log); err != nil {
			_ = s.Rooms.Close(context.Background())
			return nil, err
		}
	}
	checkOrigin := signaling.AllowOrigins(cfg.Origins)
	cfg.Signaling.CheckOrigin = checkOrigin
	backend := s.ops.backend(s.Rooms)
	s.Signaling = signaling.NewServer(backend, cfg.Log, cfg.Signaling)
	s.Handler = s.ops.handler(web.NewHandler(web.Options{
		Rooms: s.Rooms, Recorder: s.Recorder, Signaling: s.Signaling,
		Hosts: cfg.Hosts, CheckOrigin: checkOrigin, Log: cfg.Log,
		Backend: backend, Authorize: cfg.Authorize,
	}))
	s.ops.attach(s)
	return s, nil
}

// Serve answers HTTP on ln in the background; Close stops it.
func (s *Server) Serve(ln net.Listener) {
	s.ln = ln
	// ReadTimeout bounds the whole request, body included: a body trickled
	// a byte at a time cannot hold a connection. Downloads may take long,
	// so writes have no overall bound; websockets set their own deadlines.
	s.http = &http.Server{Handler: s.Handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: s.readTimeout, IdleTimeout: 2 * time.Minute}
	s.errc = make(chan error, 1)
	go func() { s.errc <- s.http.Serve(ln) }()
	if err := s.ops.serveMetrics(); err != nil {
		s.log.Error("metrics", "err", err)
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

// URL is the server's http:// base URL.
func (s *Server) URL() string { return "http://" + s.Addr() }

// WebsocketURL is the signaling endpoint's ws:// URL.
func (s *Server) WebsocketURL() string { return "ws://" + s.Addr() + "/ws" }

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
	if err := s.ops.close(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
