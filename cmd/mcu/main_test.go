package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/internal/mediatest"
)

// TestMain lets tests run the real command in a child process (the test
// binary re-executed with MCU_TEST_MAIN=1), so that it can be signalled
// and killed.
func TestMain(m *testing.M) {
	if os.Getenv("MCU_TEST_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

func TestComposeFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"compose", "-o", "x.webm", "-quality", "1080p", "a.webm"}, 2, "(allowed: 360p, 480p, 720p)"},
		{[]string{"compose", "-o", "x.webm", "-fps", "25", "a.webm"}, 2, "(allowed: 15, 30)"},
		{[]string{"compose", "a.webm"}, 2, "-o OUT is required"},
		{[]string{"compose", "-o", "x.webm"}, 2, "no input files"},
		{[]string{"compose", "-o", "x.webm", "-bogus"}, 2, "flag provided but not defined"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"serve", "-quality", "4k"}, 2, "(allowed: 360p, 480p, 720p)"},
		{[]string{"serve", "-udp-ports", "9-1"}, 2, "want MIN-MAX"},
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), tc.args, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("mcu %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tc.args, " "), code, stderr.String(), tc.code, tc.want)
		}
	}
}

func TestComposeCommand(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.webm")
	mediatest.FFmpeg(t, "-f", "lavfi", "-i", "color=c=red:s=160x120:r=15:d=2", "-f", "lavfi", "-i", "sine=f=440:d=2", "-c:v", "libvpx", "-c:a", "libopus", a)
	out := filepath.Join(dir, "out.mp4")
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"compose", "-o", out, "-quality", "360p", "-fps", "15", a, a + "@1"}, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "composed 2 inputs into "+out) || !strings.Contains(stderr.String(), ", 3.0") {
		t.Errorf("summary line: %q", stderr.String())
	}
	stderr.Reset()
	missing := filepath.Join(dir, "missing.webm")
	out2 := filepath.Join(dir, "out2.webm")
	if code := run(context.Background(), []string{"compose", "-o", out2, a, missing}, &stderr); code != 1 || !strings.Contains(stderr.String(), missing) {
		t.Errorf("missing input: exit %d, %q", code, stderr.String())
	}
	if _, err := os.Stat(out2); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output exists after a failed compose")
	}
}

// TestComposeKilledLeavesPlayableFile kills a compose halfway with SIGKILL
// and checks that the partial file plays up to about where it stopped, and
// that nothing under the final name pretends to be finished.
func TestComposeKilledLeavesPlayableFile(t *testing.T) {
	mediatest.Need(t, "ffmpeg", "ffprobe")
	for _, ext := range []string{"webm", "mp4"} {
		t.Run(ext, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "long.webm")
			mediatest.FFmpeg(t, "-f", "lavfi", "-i", "testsrc2=s=320x240:r=15:d=30", "-f", "lavfi", "-i", "sine=f=440:d=30",
				"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k", "-c:a", "libopus", in)
			out := filepath.Join(dir, "out."+ext)
			cmd := exec.Command(os.Args[0], "compose", "-o", out, "-quality", "360p", "-fps", "15", in, in)
			cmd.Env = append(os.Environ(), "MCU_TEST_MAIN=1")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			part := out + ".part"
			deadline := time.Now().Add(30 * time.Second)
			for {
				if st, err := os.Stat(part); err == nil && st.Size() > 100<<10 {
					break
				}
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatal("compose wrote nothing in 30 s")
				}
				time.Sleep(20 * time.Millisecond)
			}
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("a killed compose left %s under the final name", out)
			}
			p := mediatest.ProbeFile(t, part, true)
			v := p.Video()
			if v == nil {
				t.Fatalf("killed compose left an unplayable file: %+v", p.Streams)
			}
			n, _ := strconv.Atoi(v.NbFrames)
			if n < 15 || n >= 450 {
				t.Errorf("partial file plays %d frames; want a prefix of the 450", n)
			}
			if p.Audio() == nil {
				t.Errorf("partial file has no audio")
			}
			t.Logf("killed after %d of 450 frames were playable", n)
		})
	}
}
