package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mcu-dev/mcu/internal/load"
	"github.com/mcu-dev/mcu/internal/peer"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/server"
	"github.com/mcu-dev/mcu/transcode"
)

func runLoadtest(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: mcu loadtest [flags]
Fills R rooms of a running server with N clients each that publish
pre-encoded VP8 and Opus (encoded once, replayed) and count the composite
they receive, then reports server CPU, output fps and frame-interval jitter
at the receivers, downlink per receiver and the rooms' own server-added
latency. Run the server as a separate process (bench/live.sh does) and give
its pid; -spawn runs it in this process, whose CPU then includes the clients.`)
		fs.PrintDefaults()
	}
	wsURL := fs.String("url", "ws://127.0.0.1:8080/ws", "server websocket URL")
	rooms := fs.Int("rooms", 1, "rooms R")
	perRoom := fs.Int("per-room", 4, "participants N per room (each publishes and receives)")
	duration := fs.Duration("duration", 30*time.Second, "measured window")
	warmup := fs.Duration("warmup", 5*time.Second, "wait after everyone joined and the settings are applied, before measuring")
	quality := fs.String("quality", "", "set the rooms' output quality before measuring: "+output.AllowedQualities()+" (empty: server default)")
	fps := fs.Int("fps", 0, "set the rooms' output fps before measuring: 15 or 30 (0: server default)")
	pid := fs.Int("server-pid", 0, "pid of the server process, to read its CPU from /proc/PID/stat")
	spawn := fs.Bool("spawn", false, "run the server in this process on a free loopback port (its CPU then includes the load generator)")
	prefix := fs.String("room-prefix", "load-", "rooms are named PREFIX1 ... PREFIXR")
	pubSize := fs.String("publish-size", "640x360", "publishers' picture size WxH")
	pubFPS := fs.Int("publish-fps", 30, "publishers' frame rate")
	pubRate := fs.Int("publish-kbps", 500, "publishers' video bitrate in kb/s")
	viewers := fs.Int("viewers", 0, "WHEP viewers per room besides the participants (they only count what they receive)")
	watchers := fs.Int("watch", 1, "receivers that decode the composite to time pictures end to end, one in each of the first rooms (0: none)")
	record := fs.String("record", "", `start a recording with these JSON options in every room before the warm-up, e.g. '{"format":"webm"}' (empty: none)`)
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	tsvOut := fs.Bool("tsv", false, "print the report as a header line and one tab-separated line (for bench/live.sh)")
	verbose := fs.Bool("v", false, "log progress to stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "mcu loadtest: unexpected arguments %q\n", fs.Args())
		return 2
	}
	w, h, err := parseSize(*pubSize)
	if err != nil {
		fmt.Fprintf(stderr, "mcu loadtest: -publish-size: %v\n", err)
		return 2
	}
	if *spawn && *pid != 0 {
		fmt.Fprintln(stderr, "mcu loadtest: -spawn and -server-pid exclude each other")
		return 2
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	transcode.SetLogger(log)
	cfg := load.Config{
		URL: *wsURL, Rooms: *rooms, PerRoom: *perRoom, RoomPrefix: *prefix,
		Warmup: *warmup, Duration: *duration, Quality: *quality, FPS: *fps, ServerPID: *pid, Watchers: *watchers, Viewers: *viewers, Record: *record,
		Publish: peer.ClipOptions{Width: w, Height: h, FPS: *pubFPS, Bitrate: *pubRate * 1000},
		Log:     log,
	}
	// Against a server that checks tokens, every client signs its own from
	// MCU_KEYS (and -keys-file), like any backend would.
	if cfg.Keys, err = loadKeys(os.Getenv("MCU_KEYS_FILE")); err != nil {
		fmt.Fprintf(stderr, "mcu loadtest: %v\n", err)
		return 2
	}
	if *spawn {
		url, stop, err := spawnServer(*perRoom, log)
		if err != nil {
			fmt.Fprintf(stderr, "mcu loadtest: %v\n", err)
			return 1
		}
		defer stop()
		cfg.URL, cfg.ServerPID, cfg.InProcess = url, os.Getpid(), true
	}
	rep, err := load.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "mcu loadtest: %v\n", err)
		return 1
	}
	switch {
	case *jsonOut:
		err = rep.WriteJSON(os.Stdout)
	case *tsvOut:
		fmt.Println(load.TSVHeader)
		err = rep.WriteTSV(os.Stdout)
	default:
		err = rep.WriteText(os.Stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mcu loadtest: %v\n", err)
		return 1
	}
	return 0
}

func parseSize(s string) (w, h int, err error) {
	a, b, ok := strings.Cut(s, "x")
	w, err1 := strconv.Atoi(a)
	h, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || w <= 0 || h <= 0 || w%2 != 0 || h%2 != 0 {
		return 0, 0, fmt.Errorf("%q: want even WxH, e.g. 640x360", s)
	}
	return w, h, nil
}

// spawnServer runs the server in this process on a free loopback port with
// the defaults of "mcu serve", and returns its websocket URL.
func spawnServer(perRoom int, log *slog.Logger) (string, func(), error) {
	srv, err := server.New(server.Config{
		Rooms: mcu.Config{Quality: output.Q720, FPS: 30, MaxParticipants: max(16, perRoom), IncludeLoopback: true, EncoderThreads: 1},
		Log:   log,
	})
	if err != nil {
		return "", nil, err
	}
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		_ = srv.Close(context.Background())
		return "", nil, err
	}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	}
	return srv.WebsocketURL(), stop, nil
}
