package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/server"
)

func runServe(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	httpAddr := fs.String("http", envOr("MCU_HTTP", "127.0.0.1:8080"), "HTTP listen address (env MCU_HTTP)")
	quality := fs.String("quality", envOr("MCU_QUALITY", "720p"), "output quality of new rooms: "+output.AllowedQualities()+" (env MCU_QUALITY)")
	fps := fs.Int("fps", envInt("MCU_FPS", 30), "output fps of new rooms: "+output.AllowedFPS()+" (env MCU_FPS)")
	udp := fs.String("udp-ports", envOr("MCU_UDP_PORTS", ""), "WebRTC UDP port range MIN-MAX, empty for any (env MCU_UDP_PORTS)")
	publicIP := fs.String("public-ip", envOr("MCU_PUBLIC_IP", ""), "public IP(s) to announce behind 1:1 NAT, comma separated (env MCU_PUBLIC_IP)")
	loopback := fs.Bool("loopback", envBool("MCU_LOOPBACK", true), "offer 127.0.0.1 ICE candidates (env MCU_LOOPBACK)")
	maxPart := fs.Int("max-participants", envInt("MCU_MAX_PARTICIPANTS", 16), "participants per room (env MCU_MAX_PARTICIPANTS)")
	threads := fs.Int("encoder-threads", envInt("MCU_ENCODER_THREADS", 1), "threads per room video encoder (env MCU_ENCODER_THREADS)")
	recDir := fs.String("recordings", envOr("MCU_RECORDINGS", "recordings"), "directory of recordings (env MCU_RECORDINGS)")
	verbose := fs.Bool("v", envBool("MCU_VERBOSE", false), "debug logging (env MCU_VERBOSE)")
	sec := addSecureFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	q, err := output.ParseQuality(*quality)
	if err != nil {
		fmt.Fprintf(stderr, "mcu serve: -quality: %v\n", err)
		return 2
	}
	if _, err := output.ParseFPS(*fps); err != nil {
		fmt.Fprintf(stderr, "mcu serve: -fps: %v\n", err)
		return 2
	}
	cfg := mcu.Config{Quality: q, FPS: *fps, MaxParticipants: *maxPart, IncludeLoopback: *loopback, EncoderThreads: *threads}
	if *udp != "" {
		lo, hi, ok := strings.Cut(*udp, "-")
		a, err1 := strconv.ParseUint(lo, 10, 16)
		b, err2 := strconv.ParseUint(hi, 10, 16)
		if !ok || err1 != nil || err2 != nil || a == 0 || a > b {
			fmt.Fprintf(stderr, "mcu serve: -udp-ports %q: want MIN-MAX, e.g. 50000-50100\n", *udp)
			return 2
		}
		cfg.UDPPortMin, cfg.UDPPortMax = uint16(a), uint16(b)
	}
	if *publicIP != "" {
		cfg.PublicIPs = strings.Split(*publicIP, ",")
	}
	scfg := server.Config{Rooms: cfg, RecordingsDir: *recDir, Log: log}
	secured, err := sec.setup(*httpAddr, &scfg, *udp != "", log)
	if err != nil {
		fmt.Fprintf(stderr, "mcu serve: %v\n", err)
		return 2
	}
	srv, err := server.New(scfg)
	if err != nil {
		fmt.Fprintf(stderr, "mcu serve: %v\n", err)
		return 2
	}
	if err := srv.Listen(*httpAddr); err != nil {
		fmt.Fprintf(stderr, "mcu serve: %v\n", err)
		_ = srv.Close(context.Background())
		return 1
	}
	log.Info("serving", "url", srv.URL(), "quality", q, "fps", *fps)
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
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Close(sctx); err != nil {
		log.Warn("shutting down", "err", err)
	}
	return code
}
