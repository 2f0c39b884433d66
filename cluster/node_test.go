package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/internal/redistest"
)

// testNode is a Node beating fast, with a load the test sets.
type testNode struct {
	*Node
	cpu    atomic.Value // float64
	rooms  atomic.Int64
	recs   atomic.Value // []Recording
	cancel context.CancelFunc
	done   chan struct{}
}

func startNode(t *testing.T, redisURL, id string) *testNode {
	t.Helper()
	tn := &testNode{done: make(chan struct{})}
	tn.cpu.Store(0.0)
	tn.recs.Store([]Recording(nil))
	n, err := New(Config{
		RedisURL: redisURL, NodeID: id, NodeURL: "http://" + id + ".test:8080",
		Heartbeat: 100 * time.Millisecond, NodeTTL: 400 * time.Millisecond, LeaseTTL: 500 * time.Millisecond,
		CPU:        func() float64 { return tn.cpu.Load().(float64) },
		Load:       func() Load { return Load{Rooms: int(tn.rooms.Load())} },
		Recordings: func() []Recording { return tn.recs.Load().([]Recording) },
		Log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	tn.Node = n
	ctx, cancel := context.WithCancel(context.Background())
	tn.cancel = cancel
	go func() { defer close(tn.done); n.Run(ctx) }()
	t.Cleanup(func() { tn.kill(); _ = n.Close() })
	return tn
}

// kill stops the heartbeat without leaving the directory, as a crash does.
func (tn *testNode) kill() {
	tn.cancel()
	<-tn.done
}

// eventually polls cond every 50 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(d)
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("after %v: %s", d, what)
		case <-tick.C:
		}
	}
}

func liveIDs(t *testing.T, n *testNode) map[string]bool {
	t.Helper()
	nodes, err := n.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, ni := range nodes {
		ids[ni.ID] = true
	}
	return ids
}

func place(t *testing.T, n *testNode, room string) Placement {
	t.Helper()
	p, err := n.Place(context.Background(), room)
	if err != nil {
		t.Fatalf("%s placing %s: %v", n.ID(), room, err)
	}
	return p
}

func owner(n *testNode, p Placement) string {
	if p.Local {
		return n.ID()
	}
	return p.Node.ID
}

func TestPlacementFollowsLoadAndLeases(t *testing.T) {
	rd := redistest.Start(t)
	a, b, c := startNode(t, rd.URL, "a"), startNode(t, rd.URL, "b"), startNode(t, rd.URL, "c")
	a.cpu.Store(0.5)
	b.cpu.Store(0.1)
	c.cpu.Store(0.3)
	eventually(t, 3*time.Second, "three live nodes with their loads", func() bool {
		nodes, _ := a.Nodes(context.Background())
		return len(nodes) == 3 && nodes[0].CPU+nodes[1].CPU+nodes[2].CPU > 0.85
	})

	// The least loaded node gets the room, and every node agrees.
	p := place(t, a, "r1")
	if p.Local || p.Node.ID != "b" || p.Node.URL != "http://b.test:8080" {
		t.Fatalf("r1 placed %+v, want on b", p)
	}
	if p := place(t, c, "r1"); owner(c, p) != "b" {
		t.Fatalf("c sees r1 on %s, want b", owner(c, p))
	}
	if p := place(t, b, "r1"); !p.Local {
		t.Fatalf("b does not take its own room: %+v", p)
	}
	if ni, ok, err := a.Owner(context.Background(), "r1"); err != nil || !ok || ni.ID != "b" {
		t.Fatalf("Owner(r1) from a = %+v %v %v", ni, ok, err)
	}

	// Many nodes placing one new room at once agree on one owner.
	var wg sync.WaitGroup
	owners := make([]string, 9)
	for i := range owners {
		n := []*testNode{a, b, c}[i%3]
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := n.Place(context.Background(), "r2")
			if err != nil {
				t.Error(err)
				return
			}
			owners[i] = owner(n, p)
		}()
	}
	wg.Wait()
	for _, o := range owners {
		if o != owners[0] {
			t.Fatalf("one room placed on different nodes: %v", owners)
		}
	}

	// Rooms count: with equal CPU, the node with fewer rooms wins.
	a.cpu.Store(0.1)
	c.cpu.Store(0.1)
	b.rooms.Store(2)
	a.rooms.Store(1)
	eventually(t, 3*time.Second, "loads updated", func() bool {
		nodes, _ := a.Nodes(context.Background())
		cpu, rooms := 0.0, 0
		for _, ni := range nodes {
			cpu += ni.CPU
			rooms += ni.Rooms
		}
		return len(nodes) == 3 && cpu < 0.35 && rooms == 3
	})
	if p := place(t, a, "r3"); owner(a, p) != "c" {
		t.Fatalf("r3 on %s, want c (no rooms)", owner(a, p))
	}
}

func TestAdmissionRefusesWhenEveryNodeIsBusy(t *testing.T) {
	rd := redistest.Start(t)
	a, b := startNode(t, rd.URL, "a"), startNode(t, rd.URL, "b")
	a.cpu.Store(0.95)
	b.cpu.Store(0.5)
	eventually(t, 3*time.Second, "loads", func() bool {
		nodes, _ := a.Nodes(context.Background())
		return len(nodes) == 2 && nodes[0].CPU+nodes[1].CPU > 1.4
	})
	// a is over the threshold: the room goes to b although a received it.
	if p := place(t, a, "x"); owner(a, p) != "b" {
		t.Fatalf("x on %s, want b", owner(a, p))
	}
	b.cpu.Store(0.9)
	eventually(t, 3*time.Second, "b over the threshold", func() bool {
		nodes, _ := a.Nodes(context.Background())
		return len(nodes) == 2 && nodes[0].CPU+nodes[1].CPU > 1.8
	})
	_, err := a.Place(context.Background(), "y")
	if !errors.Is(err, ErrFull) {
		t.Fatalf("placing with every node busy: %v, want ErrFull", err)
	}
	// A room already placed is still joined where it is.
	if p := place(t, a, "x"); owner(a, p) != "b" {
		t.Fatalf("x on %s, want b", owner(a, p))
	}
}

func TestDeadNodeLosesItsRooms(t *testing.T) {
	rd := redistest.Start(t)
	a, b := startNode(t, rd.URL, "a"), startNode(t, rd.URL, "b")
	a.cpu.Store(0.5)
	eventually(t, 3*time.Second, "two nodes, a the busier", func() bool {
		nodes, _ := a.Nodes(context.Background())
		return len(nodes) == 2 && nodes[0].CPU+nodes[1].CPU >= 0.5
	})
	if p := place(t, a, "r"); owner(a, p) != "b" {
		t.Fatalf("r on %s, want b", owner(a, p))
	}
	done := make(chan struct{})
	b.Hold("r", done)
	b.kill()
	eventually(t, 3*time.Second, "b gone from the live nodes", func() bool { return !liveIDs(t, a)["b"] })
	if _, ok, err := a.Owner(context.Background(), "r"); ok || err != nil {
		t.Fatalf("a dead node still owns r: %v %v", ok, err)
	}
	if p := place(t, a, "r"); !p.Local {
		t.Fatalf("r not moved to a: %+v", p)
	}
	// The lease is a's now: b's release (late) must not remove it.
	close(done)
	time.Sleep(200 * time.Millisecond)
	if v, _ := rd.Client().Get(context.Background(), "mcu:room:r").Result(); v != "a" {
		t.Fatalf("lease of r = %q, want a", v)
	}
}

func TestLeaseRenewedReleasedAndRetakenAfterRedisRestart(t *testing.T) {
	rd := redistest.Start(t)
	a := startNode(t, rd.URL, "a")
	rdb := rd.Client()
	ctx := context.Background()
	eventually(t, 3*time.Second, "a registered", func() bool { return liveIDs(t, a)["a"] })
	if p := place(t, a, "r"); !p.Local {
		t.Fatalf("lone node does not take r: %+v", p)
	}
	done := make(chan struct{})
	a.Hold("r", done)
	// Renewed past several lease times.
	time.Sleep(1500 * time.Millisecond)
	if v, _ := rdb.Get(ctx, "mcu:room:r").Result(); v != "a" {
		t.Fatalf("lease of r = %q after renewals, want a", v)
	}
	a.recs.Store([]Recording{{ID: "rec1", Data: json.RawMessage(`{"id":"rec1","room":"r","state":"recording"}`)}})

	rd.Restart()
	eventually(t, 5*time.Second, "node, lease and recording back after an empty Redis", func() bool {
		v, _ := rdb.Get(ctx, "mcu:room:r").Result()
		n, _ := rdb.HExists(ctx, "mcu:recordings", "rec1").Result()
		return v == "a" && n && liveIDs(t, a)["a"]
	})

	close(done)
	eventually(t, 3*time.Second, "lease released when the room closes", func() bool {
		n, _ := rdb.Exists(ctx, "mcu:room:r").Result()
		return n == 0
	})
}

func TestRecordingsListedEverywhere(t *testing.T) {
	rd := redistest.Start(t)
	a, b := startNode(t, rd.URL, "a"), startNode(t, rd.URL, "b")
	b.recs.Store([]Recording{{ID: "r1", Data: json.RawMessage(`{"id":"r1"}`)}, {ID: "r2", Data: json.RawMessage(`{"id":"r2"}`)}})
	eventually(t, 3*time.Second, "b's recordings listed on a", func() bool {
		recs, err := a.Recordings(context.Background())
		return err == nil && len(recs) == 2 && recs[0].Node == "b" && recs[0].Reachable && recs[0].NodeURL == "http://b.test:8080"
	})
	if ni, ok, err := a.RecordingNode(context.Background(), "r2"); err != nil || !ok || ni.ID != "b" {
		t.Fatalf("RecordingNode(r2) = %+v %v %v", ni, ok, err)
	}
	if _, ok, err := b.RecordingNode(context.Background(), "r2"); ok || err != nil {
		t.Fatalf("b finds its own recording elsewhere: %v %v", ok, err)
	}
	// Deleted on b: gone from the directory.
	b.recs.Store([]Recording{{ID: "r1", Data: json.RawMessage(`{"id":"r1"}`)}})
	eventually(t, 3*time.Second, "r2 removed", func() bool {
		recs, _ := a.Recordings(context.Background())
		return len(recs) == 1
	})
	b.kill()
	eventually(t, 3*time.Second, "b's recording listed as unreachable", func() bool {
		recs, _ := a.Recordings(context.Background())
		return len(recs) == 1 && !recs[0].Reachable
	})
	_, _, err := a.RecordingNode(context.Background(), "r1")
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("recording of a dead node: %v, want ErrUnreachable", err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	for _, c := range []Config{
		{RedisURL: "redis://127.0.0.1:1"},
		{RedisURL: "redis://127.0.0.1:1", NodeURL: "ftp://x"},
		{RedisURL: "nope://", NodeURL: "http://x:1"},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	n, err := New(Config{RedisURL: "redis://127.0.0.1:1", NodeURL: "http://10.0.0.2:8080/"})
	if err != nil {
		t.Fatal(err)
	}
	if n.ID() != "10.0.0.2:8080" || n.URL() != "http://10.0.0.2:8080" {
		t.Fatalf("id %q url %q", n.ID(), n.URL())
	}
	if err := n.Close(); err != nil {
		t.Fatal(fmt.Errorf("close without run: %w", err))
	}
	_ = n.Close()
}

// TestCloseLeavesNoGoroutines: a node that held rooms, open and closed,
// leaves nothing running after Close, and leaves the directory.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	rd := redistest.Start(t)
	rdb := rd.Client()
	_ = rdb.Ping(context.Background()).Err() // the test's own client is not counted
	before := runtime.NumGoroutine()
	n, err := New(Config{RedisURL: rd.URL, NodeURL: "http://a.test:1", Heartbeat: 50 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	go n.Run(context.Background())
	eventually(t, 3*time.Second, "registered", func() bool {
		ok, _ := rdb.HExists(context.Background(), "mcu:nodes", "a.test:1").Result()
		return ok
	})
	closed, open := make(chan struct{}), make(chan struct{})
	n.Hold("closed", closed)
	n.Hold("open", open)
	for _, r := range []string{"closed", "open"} {
		if p := place(t, &testNode{Node: n}, r); !p.Local {
			t.Fatalf("%s not placed here", r)
		}
	}
	close(closed)
	eventually(t, 3*time.Second, "lease of the closed room released", func() bool {
		c, _ := rdb.Exists(context.Background(), "mcu:room:closed").Result()
		return c == 0
	})
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	_ = n.Close()
	if c, _ := rdb.Exists(context.Background(), "mcu:room:open", "mcu:room:closed").Result(); c != 0 {
		t.Errorf("%d leases left after Close", c)
	}
	if ok, _ := rdb.HExists(context.Background(), "mcu:nodes", "a.test:1").Result(); ok {
		t.Error("node still registered after Close")
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(open)
}
