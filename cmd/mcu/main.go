// Command mcu is the MCU compositing server. "mcu serve" (the default) runs
// rooms over WebRTC; "mcu compose" merges recordings into one grid file.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "compose":
		return runCompose(ctx, args, stderr)
	case "serve":
		return runServe(ctx, args, stderr)
	case "loadtest":
		return runLoadtest(ctx, args, stderr)
	case "token":
		return runToken(ctx, args, stderr)
	case "keys":
		return runKeys(ctx, args, stderr)
	case "config":
		return runConfig(args, stderr)
	case "help", "-h", "--help":
		usage(stderr)
		return 0
	}
	fmt.Fprintf(stderr, "mcu: unknown command %q\n", cmd)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, `usage: mcu [serve] [flags]          run the MCU server (default)
       mcu compose -o OUT [flags] INPUT[@SECONDS]...   merge recordings into one grid file
       mcu loadtest [flags]         load a running server with rooms of clients and report
       mcu token -room R -identity I [-admin] [-record] [-list]   print an access token
       mcu keys                     print a new API key and secret for MCU_KEYS
       mcu config [serve flags]     print the effective configuration as YAML, secrets masked
Run "mcu serve -h", "mcu compose -h" or "mcu loadtest -h" for the flags.`)
}
