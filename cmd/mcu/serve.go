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
	"strconv"
	"strings"
	"time"

	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/signaling"
	"github.com/mcu-dev/mcu/transcode"
	"github.com/mcu-dev/mcu/web"
)

func runServe(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	httpAddr := fs.String("http", envOr("MCU_HTTP", "127.0.0.1:8080"), "HTTP listen address (env MCU_HTTP)")
	quality := fs.String("quality", envOr("MCU_QUALITY", "720p"), "output quality of new rooms: 360p, 480p, 720p (env MCU_QUALITY)")
	fps := fs.Int("fps", envInt("MCU_FPS", 30), "output fps of new rooms: 15 or 30 (env MCU_FPS)")
	udp := fs.String("udp-ports", envOr("MCU_UDP_PORTS", ""), "WebRTC UDP port range MIN-MAX, empty for any (env MCU_UDP_PORTS)")
	publicIP := fs.String("public-ip", envOr("MCU_PUBLIC_IP", ""), "public IP(s) to announce behind 1:1 NAT, comma separated (env MCU_PUBLIC_IP)")
	loopback := fs.Bool("loopback", envBool("MCU_LOOPBACK", true), "offer 127.0.0.1 ICE candidates (env MCU_LOOPBACK)")
	maxPart := fs.Int("max-participants", envInt("MCU_MAX_PARTICIPANTS", 16), "participants per room (env MCU_MAX_PARTICIPANTS)")
	threads := fs.Int("encoder-threads", envInt("MCU_ENCODER_THREADS", 1), "threads per room video encoder (env MCU_ENCODER_THREADS)")
	recDir := fs.String("recordings", envOr("MCU_RECORDINGS", "recordings"), "directory of recordings (env MCU_RECORDINGS)")
	verbose := fs.Bool("v", envBool("MCU_VERBOSE", false), "debug logging (env MCU_VERBOSE)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	transcode.SetLogger(log)

	q, err := transcode.ParseQuality(*quality)
	if err != nil {
		fmt.Fprintf(stderr, "mcu serve: -quality %q: allowed values are 360p, 480p, 720p\n", *quality)
		return 2
	}
	if err := transcode.CheckFPS(*fps); err != nil {
		fmt.Fprintf(stderr, "mcu serve: -fps %d: allowed values are 15, 30\n", *fps)
		return 2
	}
	cfg := mcu.Config{Quality: q, FPS: *fps, MaxParticipants: *maxPart, IncludeLoopback: *loopback, EncoderThreads: *threads, Log: log}
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
	rooms, err := mcu.NewServer(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "mcu serve: %v\n", err)
		return 2
	}
	recorder, err := mcu.NewRecorder(*recDir, rooms, log)
	if err != nil {
		fmt.Fprintf(stderr, "mcu serve: %v\n", err)
		return 1
	}
	sig := signaling.NewServer(rooms, log, signaling.Options{})
	handler := web.NewHandler(web.Options{Rooms: rooms, Recorder: recorder, Signaling: sig, Log: log})

	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		fmt.Fprintf(stderr, "mcu serve: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	log.Info("serving", "url", "http://"+ln.Addr().String(), "quality", q, "fps", *fps)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
			return 1
		}
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sig.Close()
	_ = srv.Shutdown(sctx)
	recorder.Close()
	if err := rooms.Close(sctx); err != nil {
		log.Warn("closing rooms", "err", err)
	}
	return 0
}
