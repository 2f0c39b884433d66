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
	// Log receives every component's logs (default: slog.Default()).
	Log *slog.Logger
}

// Server is a running MCU.
type Server struct {
	Rooms     *mcu.Rooms
	Recorder  *mcu.Recorder // nil when recording is off
	Signaling *signaling.Server
	Handler   http.Handler

	log  *slog.Logger
	http *http.Server
	ln   net.Listener
	errc chan error
}

// New builds the server's parts. It listens nowhere until Serve.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	transcode.SetLogger(cfg.Log)
	cfg.Rooms.Log = cfg.Log
	s := &Server{log: cfg.Log}
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
	s.Signaling = signaling.NewServer(s.Rooms, cfg.Log, cfg.Signaling)
	s.Handler = web.NewHandler(web.Options{Rooms: s.Rooms, Recorder: s.Recorder, Signaling: s.Signaling, Log: cfg.Log})
	return s, nil
}

// Serve answers HTTP on ln in the background; Close stops it.
func (s *Server) Serve(ln net.Listener) {
	s.ln = ln
	s.http = &http.Server{Handler: s.Handler, ReadHeaderTimeout: 10 * time.Second}
	s.errc = make(chan error, 1)
	go func() { s.errc <- s.http.Serve(ln) }()
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
	return errors.Join(errs...)
}
