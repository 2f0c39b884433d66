package cluster_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcu-dev/mcu/auth"
	"github.com/mcu-dev/mcu/cluster"
	"github.com/mcu-dev/mcu/internal/mediatest"
	"github.com/mcu-dev/mcu/internal/peer"
	"github.com/mcu-dev/mcu/internal/redistest"
	"github.com/mcu-dev/mcu/signaling"
)

const testKeys = "APIcluster: cluster-secret-0123456789abcdefghijklmnop"

// binDir holds the mcu binary built for the test run; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildMCU builds the mcu binary once per test run.
var buildMCU = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "mcu-cluster-test-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "mcu")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go") // the toolchain running the test
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	out, err := exec.Command(gobin, "build", "-o", bin, "github.com/mcu-dev/mcu/cmd/mcu").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// node is one "mcu serve" process of the cluster.
type node struct {
	t        *testing.T
	id       string // its id in the directory: host:port
	url      string
	args     []string
	recDir   string
	mu       sync.Mutex
	cmd      *exec.Cmd
	logs     bytes.Buffer
	exited   chan struct{}
	bin      string
	redisURL string
}

func startNode(t *testing.T, bin, redisURL string) *node {
	t.Helper()
	port := redistest.FreePort(t)
	n := &node{t: t, bin: bin, redisURL: redisURL, id: "127.0.0.1:" + strconv.Itoa(port), recDir: t.TempDir()}
	n.url = "http://" + n.id
	n.args = []string{"serve", "-http", n.id, "-tls", "off", "-redis", redisURL, "-node-url", n.url,
		"-recordings", n.recDir, "-data-dir", t.TempDir(), "-quality", "360p", "-fps", "15", "-min-free", "0", "-drain-grace", "2s"}
	n.start()
	t.Cleanup(func() {
		n.kill()
		if t.Failed() {
			t.Logf("node %s log:\n%s", n.id, n.log())
		}
	})
	return n
}

func (n *node) log() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.logs.String()
}

func (n *node) start() {
	n.t.Helper()
	cmd := exec.Command(n.bin, n.args...)
	cmd.Env = append(os.Environ(), "MCU_KEYS="+testKeys, "MCU_KEYS_FILE=")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		n.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	serving := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			n.mu.Lock()
			n.logs.WriteString(sc.Text() + "\n")
			n.mu.Unlock()
			if strings.Contains(sc.Text(), "msg=serving") {
				once.Do(func() { close(serving) })
			}
		}
		_ = cmd.Wait()
	}()
	n.mu.Lock()
	n.cmd, n.exited = cmd, exited
	n.mu.Unlock()
	select {
	case <-serving:
	case <-exited:
		n.t.Fatalf("node %s exited at start:\n%s", n.id, n.log())
	case <-time.After(30 * time.Second):
		n.t.Fatalf("node %s did not start:\n%s", n.id, n.log())
	}
}

// kill ends the process with SIGKILL, as a crash would.
func (n *node) kill() {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

func (n *node) ws() string { return "ws://" + n.id + "/ws" }

func token(t *testing.T, name string, grant auth.VideoGrant) string {
	t.Helper()
	keys, err := auth.ParseKeys(testKeys)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := keys.Mint(auth.NewClaims(name, name, grant, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

type participant struct {
	name   string
	colour color.RGBA
}

func dial(ctx context.Context, t *testing.T, via *node, room string, p participant) (*peer.Client, error) {
	c := p.colour
	return peer.Dial(ctx, peer.Options{URL: via.ws(), Room: room, Name: p.name, Colour: &c, Tone: 440, Decode: true,
		Token: token(t, p.name, auth.VideoGrant{Room: room, RoomJoin: true}), Width: 320, Height: 240, FPS: 15})
}

func join(t *testing.T, via *node, room string, p participant) *peer.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := dial(ctx, t, via, room, p)
	if err != nil {
		t.Fatalf("%s joining %s through %s: %v", p.name, room, via.id, err)
	}
	t.Cleanup(c.Close)
	return c
}

// showsTiles reports whether c's last picture shows each participant's
// colour at the centre of its tile in the layout the room sent c.
func showsTiles(c *peer.Client, want ...participant) error {
	img := c.Picture()
	if img == nil {
		return errors.New("no picture yet")
	}
	layout := c.Layout()
	for _, w := range want {
		var tile *signaling.Tile
		for i := range layout {
			if layout[i].Name == w.name {
				tile = &layout[i]
			}
		}
		if tile == nil {
			return fmt.Errorf("%s has no tile in %+v", w.name, layout)
		}
		r, g, b, err := peer.RGBAt(img, tile.X+tile.W/2, tile.Y+tile.H/2)
		if err != nil {
			return err
		}
		if !mediatest.Near(r, g, b, int(w.colour.R), int(w.colour.G), int(w.colour.B), 60) {
			return fmt.Errorf("%s's tile is %d,%d,%d, want %v", w.name, r, g, b, w.colour)
		}
	}
	return nil
}

func waitFor(t *testing.T, d time.Duration, what string, check func() error) {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(d)
	for {
		err := check()
		if err == nil {
			return
		}
		select {
		case <-deadline:
			t.Fatalf("after %v: %s: %v", d, what, err)
		case <-tick.C:
		}
	}
}

// directory reads what Redis holds.
type directory struct{ rdb *redis.Client }

func (d directory) owner(room string) string {
	v, _ := d.rdb.Get(context.Background(), "mcu:room:"+room).Result()
	return v
}

func (d directory) nodes() map[string]cluster.NodeInfo {
	m, _ := d.rdb.HGetAll(context.Background(), "mcu:nodes").Result()
	out := map[string]cluster.NodeInfo{}
	for id, v := range m {
		var ni cluster.NodeInfo
		if json.Unmarshal([]byte(v), &ni) == nil && time.Since(time.UnixMilli(ni.UpdatedMS)) < cluster.DefaultNodeTTL {
			out[id] = ni
		}
	}
	return out
}

func api(t *testing.T, method, url, tok string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, data
}

type listedRecording struct {
	ID              string `json:"id"`
	Room            string `json:"room"`
	State           string `json:"state"`
	Error           string `json:"error"`
	DownloadURL     string `json:"download_url"`
	File            string `json:"file"`
	Node            string `json:"node"`
	NodeUnreachable bool   `json:"node_unreachable"`
}

func listRecordings(t *testing.T, n *node, tok string) (map[string]listedRecording, error) {
	status, body := api(t, "GET", n.url+"/api/recordings", tok, nil)
	if status != http.StatusOK {
		return nil, fmt.Errorf("GET /api/recordings on %s: %d %s", n.id, status, body)
	}
	var out struct {
		Recordings []listedRecording `json:"recordings"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	m := map[string]listedRecording{}
	for _, r := range out.Recordings {
		m[r.ID] = r
	}
	return m, nil
}

// TestClusterOfThreeNodes runs three "mcu serve" processes on one Redis:
// rooms spread by load, a participant who reaches the wrong node ends up in
// the right room, recordings are listed and downloaded through any node,
// running rooms survive a Redis restart, and the room of a node killed with
// SIGKILL opens again on another node within 10 s.
func TestClusterOfThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three servers")
	}
	mediatest.Need(t, "ffprobe")
	rd := redistest.Start(t)
	bin, err := buildMCU()
	if err != nil {
		t.Fatal(err)
	}
	dir := directory{rd.Client()}
	nodes := []*node{startNode(t, bin, rd.URL), startNode(t, bin, rd.URL), startNode(t, bin, rd.URL)}
	byID := map[string]*node{}
	for _, n := range nodes {
		byID[n.id] = n
	}
	waitFor(t, 10*time.Second, "three nodes registered", func() error {
		if n := len(dir.nodes()); n != 3 {
			return fmt.Errorf("%d live nodes", n)
		}
		return nil
	})

	red := participant{"red", color.RGBA{220, 40, 40, 255}}
	green := participant{"green", color.RGBA{40, 200, 60, 255}}
	blue := participant{"blue", color.RGBA{40, 60, 220, 255}}
	yellow := participant{"yellow", color.RGBA{230, 220, 40, 255}}

	// Rooms spread by load: every room is joined through the first node,
	// and each goes to a node without one.
	var rooms = []string{"alpha", "beta", "gamma"}
	people := map[string]*peer.Client{}
	for i, room := range rooms {
		p := []participant{red, green, blue}[i]
		people[room] = join(t, nodes[0], room, p)
		owner := dir.owner(room)
		if byID[owner] == nil {
			t.Fatalf("room %s owned by %q, not one of the nodes", room, owner)
		}
		// The next placement sees this room in its owner's load.
		waitFor(t, 10*time.Second, "owner reports the room", func() error {
			if r := dir.nodes()[owner].Rooms; r < 1 {
				return fmt.Errorf("%s reports %d rooms", owner, r)
			}
			return nil
		})
	}
	owners := map[string]bool{}
	for _, room := range rooms {
		owners[dir.owner(room)] = true
	}
	if len(owners) != 3 {
		t.Fatalf("three rooms on %d nodes (%v), want one each", len(owners), owners)
	}
	for room, c := range people {
		p := map[string]participant{"alpha": red, "beta": green, "gamma": blue}[room]
		waitFor(t, 15*time.Second, room+" shows its participant", func() error { return showsTiles(c, p) })
	}

	// The wrong node: yellow joins alpha through a node that does not own
	// it and ends up in alpha with red.
	alphaOwner := byID[dir.owner("alpha")]
	var wrong *node
	for _, n := range nodes {
		if n != alphaOwner {
			wrong = n
			break
		}
	}
	y := join(t, wrong, "alpha", yellow)
	waitFor(t, 15*time.Second, "yellow sees red and itself", func() error { return showsTiles(y, red, yellow) })
	waitFor(t, 15*time.Second, "red sees yellow and itself", func() error { return showsTiles(people["alpha"], red, yellow) })

	// The room API answers on every node.
	admin := token(t, "admin", auth.VideoGrant{Room: "alpha", RoomAdmin: true, RoomRecord: true, RoomList: true})
	if status, body := api(t, "GET", wrong.url+"/api/rooms/alpha", admin, nil); status != http.StatusOK || !strings.Contains(string(body), "yellow") {
		t.Fatalf("GET /api/rooms/alpha on %s: %d %s", wrong.id, status, body)
	}

	for _, n := range nodes {
		status, body := api(t, "GET", n.url+"/api/rooms", admin, nil)
		for _, room := range rooms {
			if status != http.StatusOK || !strings.Contains(string(body), `"name":"`+room+`"`) {
				t.Fatalf("GET /api/rooms on %s lacks %s: %d %s", n.id, room, status, body)
			}
		}
	}

	// Recordings: started and stopped through a node that is not alpha's.
	status, body := api(t, "POST", wrong.url+"/api/rooms/alpha/recordings", admin, map[string]any{"format": "webm"})
	if status != http.StatusCreated {
		t.Fatalf("starting a recording through %s: %d %s", wrong.id, status, body)
	}
	var rec listedRecording
	_ = json.Unmarshal(body, &rec)
	time.Sleep(3 * time.Second) // some media in the file
	if status, body := api(t, "POST", wrong.url+"/api/recordings/"+rec.ID+"/stop", admin, nil); status != http.StatusOK {
		t.Fatalf("stopping %s through %s: %d %s", rec.ID, wrong.id, status, body)
	}
	// A second one keeps running: the node will be killed under it.
	status, body = api(t, "POST", alphaOwner.url+"/api/rooms/alpha/recordings", admin, map[string]any{"format": "webm"})
	if status != http.StatusCreated {
		t.Fatalf("starting a second recording: %d %s", status, body)
	}
	var running listedRecording
	_ = json.Unmarshal(body, &running)

	want, err := os.ReadFile(filepath.Join(alphaOwner.recDir, rec.File))
	if err != nil || len(want) == 0 {
		t.Fatalf("recording file on its node: %v (%d bytes)", err, len(want))
	}
	for _, n := range nodes {
		waitFor(t, 10*time.Second, "recordings listed on "+n.id, func() error {
			list, err := listRecordings(t, n, admin)
			if err != nil {
				return err
			}
			if r, ok := list[rec.ID]; !ok || r.State != "finished" {
				return fmt.Errorf("%s lists %+v", n.id, list)
			}
			if _, ok := list[running.ID]; !ok || len(list) != 2 {
				return fmt.Errorf("%s lists %+v", n.id, list)
			}
			return nil
		})
		list, _ := listRecordings(t, n, admin)
		status, got := api(t, "GET", n.url+list[rec.ID].DownloadURL, "", nil)
		if status != http.StatusOK || !bytes.Equal(got, want) {
			t.Fatalf("download through %s: %d, %d bytes, want the %d bytes of the file", n.id, status, len(got), len(want))
		}
	}
	path := filepath.Join(t.TempDir(), "download.webm")
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	if p := mediatest.ProbeFile(t, path, false); p.Video() == nil {
		t.Fatalf("downloaded recording has no video: %+v", p)
	}

	// Redis restarts empty: the nodes register again and re-take their
	// leases, and the rooms go on.
	before := people["beta"].FramesReceived.Load()
	betaOwner := dir.owner("beta")
	rd.Restart()
	// A join for beta at once, through a node that does not have it: it
	// must reach the beta that runs, not open a second one.
	var notBeta *node
	for _, n := range nodes {
		if n.id != betaOwner && n != alphaOwner {
			notBeta = n
		}
	}
	if notBeta == nil {
		notBeta = alphaOwner
	}
	late := join(t, notBeta, "beta", yellow)
	waitFor(t, 15*time.Second, "the late joiner in the running beta", func() error { return showsTiles(late, green, yellow) })
	if o := dir.owner("beta"); o != betaOwner {
		t.Fatalf("beta owned by %s after the Redis restart, was %s", o, betaOwner)
	}
	waitFor(t, 10*time.Second, "nodes and leases back in the new Redis", func() error {
		if n := len(dir.nodes()); n != 3 {
			return fmt.Errorf("%d live nodes", n)
		}
		for _, room := range rooms {
			if dir.owner(room) == "" {
				return fmt.Errorf("no lease for %s", room)
			}
		}
		return nil
	})
	waitFor(t, 10*time.Second, "beta still sends frames", func() error {
		if people["beta"].Disconnected() || people["beta"].FramesReceived.Load() < before+15 {
			return fmt.Errorf("disconnected %v, frames %d -> %d", people["beta"].Disconnected(), before, people["beta"].FramesReceived.Load())
		}
		return showsTiles(people["beta"], green)
	})

	// kill -9 of alpha's node: a new join through another node gets a
	// working alpha within 10 s.
	var other *node
	for _, n := range nodes {
		if n != alphaOwner {
			other = n
		}
	}
	alphaOwner.kill()
	killed := time.Now()
	var again *peer.Client
	for again == nil {
		if time.Since(killed) > 10*time.Second {
			t.Fatalf("no working alpha 10 s after its node was killed")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		c, err := dial(ctx, t, other, "alpha", blue)
		cancel()
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		again = c
		t.Cleanup(c.Close)
	}
	waitFor(t, 10*time.Second-time.Since(killed), "the new alpha shows its participant", func() error { return showsTiles(again, blue) })
	t.Logf("alpha working again %v after its node was killed, on %s", time.Since(killed).Round(100*time.Millisecond), dir.owner("alpha"))
	if o := dir.owner("alpha"); o == alphaOwner.id || byID[o] == nil {
		t.Fatalf("alpha owned by %q after its node died", o)
	}

	// The dead node's recordings are listed as on an unreachable node; when
	// it comes back, the one cut off is recovered and listed as such.
	waitFor(t, 10*time.Second, "dead node's recordings listed as unreachable", func() error {
		list, err := listRecordings(t, other, admin)
		if err != nil {
			return err
		}
		if r := list[running.ID]; !r.NodeUnreachable || r.Node != alphaOwner.id {
			return fmt.Errorf("%+v", r)
		}
		return nil
	})
	if status, _ := api(t, "GET", other.url+"/api/recordings/"+rec.ID+"/download?access_token="+admin, "", nil); status != http.StatusServiceUnavailable {
		t.Fatalf("download from a dead node: %d, want 503", status)
	}
	alphaOwner.start()
	waitFor(t, 15*time.Second, "recovered recording listed", func() error {
		list, err := listRecordings(t, other, admin)
		if err != nil {
			return err
		}
		r := list[running.ID]
		if r.NodeUnreachable || r.State == "recording" || !strings.Contains(r.Error, "recovered") {
			return fmt.Errorf("%+v", r)
		}
		return nil
	})
}
