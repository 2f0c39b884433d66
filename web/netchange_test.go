package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/internal/peer"
)

// helperWS, in the environment, makes TestNetworkChangeHelper a participant
// that joins the room at that websocket address from the address in
// helperSignalIP, and sends its media from any other address.
const (
	helperWS       = "MCU_NETCHANGE_WS"
	helperSignalIP = "MCU_NETCHANGE_SIGNAL_IP"
)

// TestNetworkChangeHelper is the participant of TestICERestartNetworkChange,
// run by it as a child process inside a network namespace. It reports its
// state on stdout every 50 ms and ends when stdin closes.
func TestNetworkChangeHelper(t *testing.T) {
	ws := os.Getenv(helperWS)
	if ws == "" {
		t.Skip("run by TestICERestartNetworkChange")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	green := color.RGBA{0, 255, 0, 255}
	// The websocket leaves from sigIP (the namespace's route to the
	// server says so); media must not.
	sigIP := net.ParseIP(os.Getenv(helperSignalIP))
	c, err := peer.Dial(ctx, peer.Options{URL: ws, Room: "N", Name: "mover", Colour: &green, RestartICE: true,
		ICEAddresses: func(ip net.IP) bool { return !ip.Equal(sigIP) }})
	if err != nil {
		fmt.Println("error", err)
		return
	}
	defer c.Close()
	fmt.Println("id", c.ID)
	stdin := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stdin) }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stdin:
			return
		case <-tick.C:
		}
		fmt.Println("status", c.ConnectionState(), c.FramesReceived.Load(), c.ICERestarts.Load())
	}
}

// TestICERestartNetworkChange moves a participant's media to another
// network address under its feet: the participant (a pion client, in a
// child process inside a network namespace that reaches the server over a
// veth pair) sends its media from 10.x.y.2; the test adds 10.x.y.3 and
// removes .2. Its websocket, from 10.x.y.10, survives, as a TCP connection
// does when a NAT rebinds the UDP path or one of two links goes. The client
// must notice, restart ICE over that websocket, and within 5 s of the
// change receive the room's video again and have the server decode its
// own, as the same participant with the same tile.
func TestICERestartNetworkChange(t *testing.T) {
	needNetns(t)
	sub := 1 + os.Getpid()%250
	suffix := fmt.Sprint(os.Getpid() % 100000)
	ns, vh, vn := "mcuice"+suffix, "mih"+suffix, "min"+suffix
	host := fmt.Sprintf("10.231.%d.1", sub)
	first, second := fmt.Sprintf("10.231.%d.2/24", sub), fmt.Sprintf("10.231.%d.3/24", sub)
	signal := fmt.Sprintf("10.231.%d.10", sub)
	ip(t, "netns", "add", ns)
	t.Cleanup(func() {
		_ = exec.Command("ip", "netns", "del", ns).Run()
		_ = exec.Command("ip", "link", "del", vh).Run()
	})
	ip(t, "link", "add", vh, "type", "veth", "peer", "name", vn, "netns", ns)
	ip(t, "addr", "add", host+"/24", "dev", vh)
	ip(t, "link", "set", vh, "up")
	ip(t, "-n", ns, "link", "set", "lo", "up")
	ip(t, "-n", ns, "addr", "add", signal+"/24", "dev", vn)
	ip(t, "-n", ns, "addr", "add", first, "dev", vn)
	ip(t, "-n", ns, "link", "set", vn, "up")
	// TCP to the server (the websocket) leaves from the signalling address.
	ip(t, "-n", ns, "route", "add", host+"/32", "dev", vn, "src", signal)

	// A server of its own, reachable from the namespace.
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	srv, err := newTestServer(ln, t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.close)

	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, self, "-test.run=^TestNetworkChangeHelper$")
	cmd.Env = append(os.Environ(), helperWS+"=ws"+strings.TrimPrefix(srv.URL, "http")+"/ws", helperSignalIP+"="+signal)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			// A failure there (a data race under -race, say) fails this test.
			if err != nil {
				t.Errorf("the helper process ended with %v", err)
			}
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("the helper process did not end when its stdin closed")
		}
	})
	st := &helperState{}
	go st.read(stdout)

	st.wait(t, 15*time.Second, "the participant connected and receiving", func(h helperReport) bool {
		return h.state == "connected" && h.frames > 15
	})
	id := st.get().id
	before := roomInfo(t, srv.URL, "N")
	if len(before.Participants) != 1 || before.Participants[0].ID != id || len(before.Layout) != 1 {
		t.Fatalf("before the change the room has %+v with layout %+v, want %s alone", before.Participants, before.Layout, id)
	}

	// The network changes: a new address, then the old one goes.
	switched := time.Now()
	ip(t, "-n", ns, "addr", "add", second, "dev", vn)
	ip(t, "-n", ns, "addr", "del", first, "dev", vn)

	// Back: a restart done, connected, pictures arriving both ways again.
	var restartAt helperReport
	var restarted bool
	var decodedAtRestart int64
	var back time.Duration
	deadline := switched.Add(10 * time.Second)
	for back == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not back 10 s after the network change: helper %+v, restarted %v", st.get(), restarted)
		}
		time.Sleep(50 * time.Millisecond)
		h := st.get()
		if h.err != "" {
			t.Fatalf("helper: %s", h.err)
		}
		if !restarted && h.restarts > 0 {
			// The old path has been dead for a second: what the server
			// decodes from now on came over the new one.
			restarted, restartAt = true, h
			decodedAtRestart = roomInfo(t, srv.URL, "N").Participants[0].FramesDecoded
			t.Logf("ICE restart started %v after the change", time.Since(switched).Round(time.Millisecond))
		}
		if !restarted || h.state != "connected" || h.frames < restartAt.frames+5 {
			continue
		}
		info := roomInfo(t, srv.URL, "N")
		if len(info.Participants) == 1 && info.Participants[0].FramesDecoded > decodedAtRestart+5 {
			back = time.Since(switched)
		}
	}
	t.Logf("back %v after the network change", back.Round(time.Millisecond))
	if back > 5*time.Second {
		t.Errorf("the participant came back %v after the network change, want within 5 s", back)
	}
	after := roomInfo(t, srv.URL, "N")
	if len(after.Participants) != 1 || after.Participants[0].ID != id {
		t.Errorf("after the change the room has %+v, want %s alone (no rejoin)", after.Participants, id)
	}
	if len(after.Layout) != 1 || after.Layout[0].ParticipantID != id {
		t.Errorf("after the change the layout is %+v, want %s's tile", after.Layout, id)
	}
	if h := st.get(); h.ids != 1 {
		t.Errorf("the helper joined %d times", h.ids)
	}
}

// needNetns fails on CI and skips elsewhere without root and the ip tool.
func needNetns(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("ip")
	if err == nil && os.Geteuid() != 0 {
		err = fmt.Errorf("not root")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("network namespaces need root and iproute2: %v", err)
		}
		t.Skipf("network namespaces need root and iproute2: %v", err)
	}
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// helperReport is what the helper process said last.
type helperReport struct {
	id       string
	ids      int // how many times it joined
	state    string
	frames   int64
	restarts int64
	err      string
}

// helperState holds the helper's last report.
type helperState struct {
	mu sync.Mutex
	r  helperReport
}

func (s *helperState) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		s.mu.Lock()
		switch f[0] {
		case "id":
			if len(f) == 2 {
				s.r.id = f[1]
				s.r.ids++
			}
		case "status":
			if len(f) == 4 {
				s.r.state = f[1]
				_, _ = fmt.Sscan(f[2], &s.r.frames)
				_, _ = fmt.Sscan(f[3], &s.r.restarts)
			}
		case "error":
			s.r.err = sc.Text()
		}
		s.mu.Unlock()
	}
}

func (s *helperState) get() helperReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r
}

func (s *helperState) wait(t *testing.T, d time.Duration, what string, ok func(helperReport) bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		h := s.get()
		if h.err != "" {
			t.Fatalf("helper: %s", h.err)
		}
		if ok(h) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after %v: helper %+v", what, d, h)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// roomState is the part of GET /api/rooms/{room} this test reads.
type roomState struct {
	Participants []struct {
		ID            string `json:"id"`
		FramesDecoded int64  `json:"frames_decoded"`
	} `json:"participants"`
	Layout []struct {
		ParticipantID string `json:"participant_id"`
	} `json:"layout"`
}

func roomInfo(t *testing.T, base, room string) roomState {
	t.Helper()
	resp, err := http.Get(base + "/api/rooms/" + room)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info roomState
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/rooms/%s: %d %v", room, resp.StatusCode, err)
	}
	return info
}
