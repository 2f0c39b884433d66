package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/auth"
	"github.com/mcu-dev/mcu/internal/mediatest"
	"github.com/mcu-dev/mcu/internal/peer"
	"github.com/mcu-dev/mcu/mcu"
)

// serveProc is "mcu serve" running in a child process.
type serveProc struct {
	cmd  *exec.Cmd
	url  string
	mu   sync.Mutex
	logs strings.Builder
	done chan error
}

func (p *serveProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

var servingURL = regexp.MustCompile(`msg=serving url=(http://[0-9.:]+)`)

func startServe(t *testing.T, config string) *serveProc {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mcu.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{done: make(chan error, 1)}
	p.cmd = exec.Command(os.Args[0], "serve", "-config", path, "-http", "127.0.0.1:0", "-quality", "360p", "-fps", "15")
	p.cmd.Env = append(os.Environ(), "MCU_TEST_MAIN=1", "MCU_KEYS="+cmdTestKeys)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := servingURL.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		if testing.Verbose() || t.Failed() {
			t.Logf("mcu serve log:\n%s", p.log())
		}
	})
	select {
	case p.url = <-urls:
	case <-time.After(20 * time.Second):
		t.Fatalf("mcu serve did not start:\n%s", p.log())
	}
	return p
}

func (p *serveProc) wait(t *testing.T, d time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	select {
	case err := <-p.done:
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, time.Since(start)
	case <-time.After(d):
		t.Fatalf("mcu serve still running %v after the signal", d)
	}
	return 0, 0
}

func status(t *testing.T, url string) int {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func join(t *testing.T, base, room string) *peer.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := peer.Dial(ctx, peer.Options{URL: "ws" + strings.TrimPrefix(base, "http") + "/ws", Room: room, Name: "stayer", Colour: &color.RGBA{200, 30, 30, 255}, Tone: 330,
		Token: testToken(t, auth.VideoGrant{Room: room, RoomJoin: true})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestServeDrainsOnSIGTERM: SIGTERM makes /readyz fail at once, finalizes
// the running recording (its metadata says finished and the file plays)
// and the process exits cleanly within drain_grace although a participant
// stays.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	mediatest.Need(t, "ffprobe")
	dir := t.TempDir()
	p := startServe(t, fmt.Sprintf("recordings:\n  dir: %s\ndrain_grace: 3s\n", dir))
	if code := status(t, p.url+"/readyz"); code != http.StatusOK {
		t.Fatalf("readyz %d", code)
	}
	join(t, p.url, "drain")
	req, _ := http.NewRequest("POST", p.url+"/api/rooms/drain/recordings", strings.NewReader(`{"format":"mp4"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testToken(t, auth.VideoGrant{Room: "drain", RoomRecord: true}))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var rec mcu.Recording
	_ = json.NewDecoder(res.Body).Decode(&rec)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("start recording: %s", res.Status)
	}
	time.Sleep(2 * time.Second)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for status(t, p.url+"/readyz") != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("readyz still ready 2 s after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, took := p.wait(t, 6*time.Second)
	if code != 0 {
		t.Errorf("exit code %d", code)
	}
	t.Logf("exited %v after /readyz failed (drain_grace 3s)", took.Round(10*time.Millisecond))
	b, err := os.ReadFile(filepath.Join(dir, rec.ID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var saved mcu.Recording
	if err := json.Unmarshal(b, &saved); err != nil || saved.State != mcu.StateFinished || saved.DurationS < 1 {
		t.Fatalf("saved recording %+v %v", saved, err)
	}
	probe := mediatest.ProbeFile(t, filepath.Join(dir, saved.File), true)
	if v := probe.Video(); v == nil || v.NbFrames == "" || v.NbFrames == "0" || probe.Audio() == nil {
		t.Errorf("drained recording: %+v", probe.Streams)
	}
}

// TestServeSecondSignalExitsAtOnce: during a drain that would wait 60 s
// for a participant, a second SIGTERM ends the process at once.
func TestServeSecondSignalExitsAtOnce(t *testing.T) {
	p := startServe(t, fmt.Sprintf("recordings:\n  dir: %s\ndrain_grace: 60s\n", t.TempDir()))
	join(t, p.url, "stay")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(p.log(), "msg=draining") {
		if time.Now().After(deadline) {
			t.Fatal("no drain after SIGTERM")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, _ := p.wait(t, 5*time.Second); code != 1 {
		t.Errorf("exit code %d after a second signal, want 1", code)
	}
	if !strings.Contains(p.log(), "second signal: exiting now") {
		t.Errorf("log lacks the second-signal line")
	}
}
