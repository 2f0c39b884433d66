package mcu_test

import (
	"context"
	"fmt"
	"image/color"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/internal/mediatest"
	"github.com/mcu-dev/mcu/internal/peer"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/server"
)

const (
	shapingChild = "MCU_SHAPING_CHILD"
	// The capped receiver's UDP ports: 0xa020-0xa02f, one u32 match.
	cappedPortLo, cappedPortHi = 40992, 41007
	linkCap                    = "700kbit"
)

// TestLadderFollowsTheLink runs a 720p30 room with three participants, one
// of whom receives through a 700 kb/s token bucket (tc tbf on the loopback
// of a network namespace the test makes, matched on that receiver's UDP
// ports). Within 10 s the capped receiver is on a rung that fits and gets
// a clean picture at full rate with under 3% loss while the others stay on
// 720p; when the cap is lifted it climbs back to 720p within 20 s.
func TestLadderFollowsTheLink(t *testing.T) {
	if os.Getenv(shapingChild) == "" {
		runInNamespace(t)
		return
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v: %s", err, out)
	}
	tc(t, "qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "1")
	tc(t, "class", "add", "dev", "lo", "parent", "1:", "classid", "1:1", "htb", "rate", "10gbit")
	tc(t, "class", "add", "dev", "lo", "parent", "1:", "classid", "1:10", "htb", "rate", "10gbit")
	setCap := func(rate string) {
		tc(t, "qdisc", "replace", "dev", "lo", "parent", "1:10", "handle", "10:", "tbf", "rate", rate, "burst", "32kbit", "latency", "400ms")
	}
	setCap("10gbit")
	tc(t, "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
		"match", "ip", "dport", fmt.Sprint(cappedPortLo), "0xfff0", "flowid", "1:10")

	s := startServerWith(t, server.Config{Rooms: mcu.Config{Quality: output.Q720, FPS: 30, UDPPortMin: 50000, UDPPortMax: 50999}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	colours := []color.RGBA{{220, 40, 40, 255}, {40, 200, 40, 255}, {40, 40, 220, 255}}
	var clients []*peer.Client
	for i, col := range colours {
		// Camera-like clips (moving box and stripes) so that 720p costs
		// well over the cap; pre-encoded, so sending them costs little.
		clip, err := peer.NewClip(peer.ClipOptions{Colour: col, Tone: float64(400 + 300*i), Frames: 60})
		if err != nil {
			t.Fatal(err)
		}
		// Only the capped receiver decodes: three 720p decoders beside
		// the room would starve a 2-core machine and delay the feedback
		// the estimator reads as congestion.
		o := peer.Options{URL: s.ws, Room: "link", Name: fmt.Sprint("p", i), Clip: clip}
		if i == 2 {
			o.UDPPorts, o.Decode = [2]uint16{cappedPortLo, cappedPortHi}, true
		}
		c, err := peer.Dial(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	capped := clients[2]
	room, err := s.Rooms.Room("link")
	if err != nil {
		t.Fatal(err)
	}
	rungOf := func(c *peer.Client) (*mcu.ReceiveInfo, error) {
		for _, p := range room.Info().Participants {
			if p.ID == c.ID {
				if p.Receive == nil {
					return nil, fmt.Errorf("%s: no receive info yet", c.ID)
				}
				return p.Receive, nil
			}
		}
		return nil, fmt.Errorf("%s is not in the room", c.ID)
	}
	onRung := func(c *peer.Client, ok func(string) bool) func() error {
		return func() error {
			ri, err := rungOf(c)
			if err != nil {
				return err
			}
			if !ok(ri.Rung) || ri.Target != "" {
				return fmt.Errorf("%s: %+v", c.ID, *ri)
			}
			return nil
		}
	}
	is := func(name string) func(string) bool { return func(r string) bool { return r == name } }
	for _, c := range clients {
		eventually(t, 10*time.Second, "everyone on 720p", onRung(c, is("720p")))
	}
	eventually(t, 10*time.Second, "every tile at 720p", func() error { return clipTiles(capped, 1280, 720, colours) })
	ri, _ := rungOf(capped)
	t.Logf("before the cap: %+v; the room encodes %v", *ri, room.Info().Encoders)

	setCap(linkCap)
	capAt := time.Now()
	fits := func(r string) bool { return r == "360p" || r == "180p" }
	eventually(t, 10*time.Second, "the capped receiver on a rung that fits", onRung(capped, fits))
	ri, _ = rungOf(capped)
	t.Logf("capped: on %s after %.1f s: %+v", ri.Rung, time.Since(capAt).Seconds(), *ri)

	// Measure it for 10 s once settled.
	trace := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
			ri, _ := rungOf(capped)
			out, _ := exec.Command("tc", "-s", "qdisc", "show", "dev", "lo", "parent", "1:10").CombinedOutput()
			t.Logf("trace: frames %d pkts %d lost %d %+v %s", capped.FramesReceived.Load(), capped.VideoPackets.Load(), capped.VideoPacketsLost.Load(), *ri, strings.Join(strings.Fields(string(out))[8:20], " "))
		}
	}
	if os.Getenv("MCU_TRACE") != "" {
		trace(10 * time.Second)
	}
	time.Sleep(2 * time.Second)
	f0, p0, l0 := capped.FramesReceived.Load(), capped.VideoPackets.Load(), capped.VideoPacketsLost.Load()
	time.Sleep(10 * time.Second)
	frames, pkts, lost := capped.FramesReceived.Load()-f0, capped.VideoPackets.Load()-p0, capped.VideoPacketsLost.Load()-l0
	fps := float64(frames) / 10
	if out, err := exec.Command("tc", "-s", "qdisc", "show", "dev", "lo", "parent", "1:10").CombinedOutput(); err == nil {
		t.Logf("tc: %s", strings.Join(strings.Fields(string(out)), " "))
	}
	ri, _ = rungOf(capped)
	rungFPS := 30.0
	if ri.Rung == "180p" {
		rungFPS = 15
	}
	// Pictures lost: those of the rung's frame rate that never decoded.
	// Packets lost count the padding of probes for a higher rung too.
	pictureLoss := max(0, 1-fps/rungFPS)
	packetLoss := float64(lost) / float64(max(1, pkts+lost))
	t.Logf("capped on %s: %.1f fps (%.1f%% of pictures lost); %d of %d packets lost (%.1f%%, padding included): %+v",
		ri.Rung, fps, 100*pictureLoss, lost, pkts+lost, 100*packetLoss, *ri)
	minFPS := 25.0
	if ri.Rung == "180p" {
		minFPS = 14
	}
	if fps < minFPS || pictureLoss >= 0.03 {
		t.Errorf("capped receiver got %.1f fps on %s, want at least %.0f with under 3%% of pictures lost", fps, ri.Rung, minFPS)
	}
	if packetLoss >= 0.03 {
		t.Errorf("capped receiver lost %.1f%% of its packets, want under 3%%", 100*packetLoss)
	}
	w, h := 640, 360
	if ri.Rung == "180p" {
		w, h = 320, 180
	}
	eventually(t, 3*time.Second, "a clean picture on the lower rung", func() error { return clipTiles(capped, w, h, colours) })
	for _, c := range clients[:2] {
		if err := onRung(c, is("720p"))(); err != nil {
			t.Errorf("an uncapped receiver moved: %v", err)
		}
	}

	setCap("10gbit")
	liftAt := time.Now()
	if os.Getenv("MCU_TRACE") != "" {
		// The climb, every half second, with the namespace's UDP counters
		// (SndbufErrors, RcvbufErrors: packets the kernel dropped).
		stop, done := make(chan struct{}), make(chan struct{})
		defer func() { close(stop); <-done }()
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				case <-time.After(500 * time.Millisecond):
				}
				if ri, err := rungOf(capped); err == nil {
					snmp, _ := os.ReadFile("/proc/net/snmp")
					udp := ""
					for _, l := range strings.Split(string(snmp), "\n") {
						if strings.HasPrefix(l, "Udp: ") && !strings.Contains(l, "InDatagrams") {
							udp = l
						}
					}
					t.Logf("trace after the lift: %.1f s %+v %s", time.Since(liftAt).Seconds(), *ri, udp)
				}
			}
		}()
	}
	eventually(t, 20*time.Second, "the receiver back on 720p after the cap is lifted", onRung(capped, is("720p")))
	ri, _ = rungOf(capped)
	t.Logf("back on 720p %.1f s after the cap was lifted: %+v", time.Since(liftAt).Seconds(), *ri)
	eventually(t, 3*time.Second, "a clean 720p picture again", func() error { return clipTiles(capped, 1280, 720, colours) })
}

// clipTiles checks that c's picture is w x h and shows the three clips'
// background colours around their tiles' centres (a 2x2 grid with the last
// one centred); the clips' moving box may cover a point or two.
func clipTiles(c *peer.Client, w, h int, colours []color.RGBA) error {
	img := c.Picture()
	if img == nil {
		return fmt.Errorf("%s: no picture yet", c.ID)
	}
	if img.Rect.Dx() != w || img.Rect.Dy() != h {
		return fmt.Errorf("%s: picture %v, want %dx%d", c.ID, img.Rect.Size(), w, h)
	}
	centres := [][2]int{{w / 4, h / 4}, {3 * w / 4, h / 4}, {w / 2, 3 * h / 4}}
	for i, ctr := range centres {
		good, seen := 0, []string{}
		for _, d := range [][2]int{{0, 0}, {-w / 16, 0}, {w / 16, 0}, {0, -h / 16}, {0, h / 16}} {
			r, g, b, err := peer.RGBAt(img, ctr[0]+d[0], ctr[1]+d[1])
			if err != nil {
				return err
			}
			col := colours[i]
			if mediatest.Near(r, g, b, int(col.R), int(col.G), int(col.B), 70) {
				good++
			}
			seen = append(seen, fmt.Sprintf("%d,%d,%d", r, g, b))
		}
		if good < 3 {
			return fmt.Errorf("%s: tile %d around (%d,%d) shows %s, want about %v", c.ID, i, ctr[0], ctr[1], strings.Join(seen, " "), colours[i])
		}
	}
	return nil
}

// runInNamespace runs this test again inside a new network namespace, whose
// loopback it may shape without touching the machine's.
func runInNamespace(t *testing.T) {
	t.Helper()
	_, err := exec.LookPath("ip")
	if err == nil {
		_, err = exec.LookPath("tc")
	}
	if err == nil && os.Geteuid() != 0 {
		err = fmt.Errorf("not root")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shaping a link needs root, iproute2 and tc: %v", err)
		}
		t.Skipf("shaping a link needs root, iproute2 and tc: %v", err)
	}
	ns := fmt.Sprintf("mculadder%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"netns", "exec", ns, self, "-test.run=^" + t.Name() + "$", "-test.count=1"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.Command("ip", args...)
	cmd.Env = append(os.Environ(), shapingChild+"=1")
	out, err := cmd.CombinedOutput()
	t.Logf("in namespace %s:\n%s", ns, out)
	if err != nil {
		t.Fatalf("the test in the namespace failed: %v", err)
	}
	if !strings.Contains(string(out), "PASS") {
		t.Fatal("the test in the namespace did not pass")
	}
}

func tc(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("tc", args...).CombinedOutput(); err != nil {
		t.Fatalf("tc %s: %v: %s", strings.Join(args, " "), err, out)
	}
}
