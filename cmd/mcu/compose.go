package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/output"
)

func runCompose(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("compose", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output file; the container follows the extension (.webm: VP8+Opus, .mp4: H.264+AAC)")
	quality := fs.String("quality", "720p", "output size: "+output.AllowedQualities())
	fps := fs.Int("fps", 30, "output frame rate: 15 or 30")
	threads := fs.Int("threads", 1, "video encoder threads")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: mcu compose -o OUT [-quality 360p|480p|720p] [-fps 15|30] INPUT[@SECONDS]...")
		fmt.Fprintln(stderr, "Merges recordings into one grid file as long as the latest input; INPUT@SECONDS starts an input that late.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" {
		fmt.Fprintln(stderr, "mcu compose: -o OUT is required")
		return 2
	}
	q, err := output.ParseQuality(*quality)
	if err != nil {
		fmt.Fprintf(stderr, "mcu compose: -quality: %v\n", err)
		return 2
	}
	if _, err := output.ParseFPS(*fps); err != nil {
		fmt.Fprintf(stderr, "mcu compose: -fps: %v\n", err)
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "mcu compose: no input files")
		fs.Usage()
		return 2
	}
	var inputs []mcu.ComposeInput
	for _, a := range fs.Args() {
		in, err := mcu.ParseComposeInput(a)
		if err != nil {
			fmt.Fprintf(stderr, "mcu compose: %v\n", err)
			return 2
		}
		inputs = append(inputs, in)
	}
	opts := mcu.ComposeOptions{Output: *out, Quality: q, FPS: *fps, Inputs: inputs, Threads: *threads}
	tty := isTerminal(stderr)
	if tty {
		opts.Progress = func(p mcu.ComposeProgress) {
			fmt.Fprintf(stderr, "\r%s", progressLine(p))
		}
	}
	res, err := mcu.Compose(ctx, opts)
	if tty {
		fmt.Fprint(stderr, "\r\033[K")
	}
	if err != nil {
		fmt.Fprintf(stderr, "mcu compose: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "composed %d inputs into %s: %s %dfps, %.2fs, %s, in %s (%.1fx realtime)\n",
		len(inputs), res.Output, q, *fps, res.Duration, humanBytes(res.Size), res.Elapsed.Round(time.Millisecond),
		res.Duration/max(res.Elapsed.Seconds(), 1e-3))
	return 0
}

func progressLine(p mcu.ComposeProgress) string {
	pct := 0.0
	if p.Total > 0 {
		pct = min(100, 100*p.Done/p.Total)
	}
	speed := p.Done / max(p.Elapsed.Seconds(), 1e-3)
	eta := "?"
	if speed > 0 && p.Total > p.Done {
		eta = (time.Duration((p.Total - p.Done) / speed * float64(time.Second))).Round(time.Second).String()
	} else if p.Total <= p.Done {
		eta = "0s"
	}
	return fmt.Sprintf("composing %5.1f%%  %s / %s  speed %.2fx  ETA %s ", pct,
		fmtSeconds(p.Done), fmtSeconds(p.Total), speed, eta)
}

func fmtSeconds(s float64) string {
	d := time.Duration(s * float64(time.Second)).Round(time.Second)
	return strings.TrimSuffix(d.String(), "0s")
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
