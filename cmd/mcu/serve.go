package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mcu-dev/mcu/config"
	"github.com/mcu-dev/mcu/server"
)

// exit ends the process on a second shutdown signal; tests replace it.
var exit = os.Exit

func runServe(ctx context.Context, args []string, stderr io.Writer) int {
	cfg, err := config.Load("serve", args, os.Environ(), stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "mcu serve: %v\n", err)
		return 2
	}
	level := slog.LevelInfo
	if cfg.Verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
	scfg := server.FromConfig(cfg, log)
	secured, err := secure(cfg, &scfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "mcu serve: %v\n", err)
		return 2
	}
	srv, err := server.New(scfg)
	if err != nil {
		fmt.Fprintf(stderr, "mcu serve: %v\n", err)
		return 2
	}
	if err := srv.Listen(cfg.HTTP); err != nil {
		fmt.Fprintf(stderr, "mcu serve: %v\n", err)
		_ = srv.Close(context.Background())
		return 1
	}
	log.Info("serving", "url", srv.URL(), "quality", cfg.Quality, "fps", cfg.FPS)
	defer secured.afterListen(ctx, srv, scfg.Keys, log, stderr)()
	code := 0
	select {
	case err := <-srv.Err():
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
			code = 1
		}
	case <-ctx.Done():
	}

	// Drain: refuse new work, finalize recordings, let rooms empty within
	// the grace period, keeping a little of it to close. A second signal
	// exits at once: the files are crash-safe.
	again := make(chan os.Signal, 1)
	signal.Notify(again, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	defer func() { signal.Stop(again); close(done) }()
	go func() {
		select {
		case <-again:
			log.Warn("second signal: exiting now")
			exit(1)
		case <-done:
		}
	}()
	reserve := min(5*time.Second, cfg.DrainGrace/4)
	log.Info("draining", "grace", cfg.DrainGrace)
	dctx, cancel := context.WithTimeout(context.Background(), cfg.DrainGrace-reserve)
	if err := srv.Drain(dctx); err != nil {
		log.Warn("drain", "err", err)
	}
	cancel()
	cctx, cancel := context.WithTimeout(context.Background(), reserve)
	defer cancel()
	log.Info("shutting down")
	if err := srv.Close(cctx); err != nil {
		log.Warn("shutting down", "err", err)
	}
	return code
}
