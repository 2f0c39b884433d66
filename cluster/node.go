package cluster

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mcu-dev/mcu/internal/load"
)

// Redis keys. Every key starts with the configured prefix ("mcu:").
const (
	keyNodes      = "nodes"      // hash: node id -> NodeInfo JSON
	keyRecordings = "recordings" // hash: recording id -> Recording JSON
	keyRoom       = "room:"      // string: node id holding the room's lease
	keyLock       = "lock:"      // string: creation lock token
	keySince      = "since"      // string: when this Redis first saw a node (Unix ms)
)

// Default timings.
const (
	DefaultHeartbeat = 2 * time.Second
	DefaultNodeTTL   = 5 * time.Second
	DefaultLeaseTTL  = 6 * time.Second
	DefaultMaxCPU    = 0.8
	lockTTL          = 5 * time.Second
	lockWait         = 3 * time.Second
	redisTimeout     = time.Second
)

// Load is what a node reports about itself.
type Load struct {
	Rooms        int  `json:"rooms"`
	Participants int  `json:"participants"`
	Encoders     int  `json:"encoders"`
	Draining     bool `json:"draining,omitempty"`
}

// NodeInfo is one node's entry in the directory.
type NodeInfo struct {
	ID  string `json:"id"`
	URL string `json:"url"`
	// CPU is the node process's CPU over the last heartbeat, as a share of
	// all the machine's cores (0-1).
	CPU float64 `json:"cpu"`
	Load
	// UpdatedMS is when the node last wrote its entry (Unix milliseconds).
	UpdatedMS int64 `json:"updated_ms"`
}

// score orders nodes for placement: lower is less loaded. A room weighs
// as much as a tenth of the machine, so idle nodes with rooms still count.
func (n NodeInfo) score() float64 {
	return n.CPU + 0.1*float64(n.Rooms) + 0.01*float64(n.Participants)
}

// Config is what a Node needs.
type Config struct {
	// RedisURL is redis://[user:password@]host:port[/db].
	RedisURL string
	// NodeID names the node in the directory (default: the host:port of
	// NodeURL, stable across restarts so its recordings are found again).
	NodeID string
	// NodeURL is the base URL clients and other nodes reach this node at.
	NodeURL string
	// MaxCPU is the CPU share (0-1) above which the node takes no new rooms
	// (default 0.8).
	MaxCPU float64
	// Prefix of every Redis key (default "mcu:").
	Prefix string
	// Load reports the node's rooms, participants and encoders; called
	// once per heartbeat.
	Load func() Load
	// CPU, when set, replaces the measured CPU share (tests).
	CPU func() float64
	// Recordings returns the node's recordings; called once per heartbeat
	// to keep the directory's copy current. Nil publishes none.
	Recordings func() []Recording
	// Heartbeat, NodeTTL and LeaseTTL default to 2 s, 5 s and 6 s.
	Heartbeat, NodeTTL, LeaseTTL time.Duration
	Log                          *slog.Logger
}

// Node is this server's membership of the cluster.
type Node struct {
	cfg    Config
	rdb    *redis.Client
	log    *slog.Logger
	prefix string

	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	once    sync.Once
	started atomic.Bool

	// held are the rooms open here whose leases the heartbeat renews; a
	// room's generation tells a closed room from a new one of that name.
	mu   sync.Mutex
	held map[string]uint64
	gen  uint64

	// origins are the live nodes' web origins, as of the last beat.
	origins atomic.Pointer[map[string]bool]

	// Owned by the Run goroutine.
	cpuAt       time.Time
	cpuUsed     time.Duration
	published   map[string]string // recording id -> JSON last written
	registered  bool
	lastWarning time.Time
}

// New checks cfg and prepares the Redis client; nothing is sent before Run.
func New(cfg Config) (*Node, error) {
	if cfg.NodeURL == "" {
		return nil, ErrNoNodeURL
	}
	u, err := url.Parse(cfg.NodeURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("cluster: node URL %q: want http:// or https://host:port", cfg.NodeURL)
	}
	cfg.NodeURL = strings.TrimSuffix(cfg.NodeURL, "/")
	if cfg.NodeID == "" {
		cfg.NodeID = u.Host
	}
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("cluster: redis URL: %w", err)
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = redisTimeout, redisTimeout, redisTimeout
	opts.MaxRetries = 1
	if cfg.MaxCPU <= 0 {
		cfg.MaxCPU = DefaultMaxCPU
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "mcu:"
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.NodeTTL <= 0 {
		cfg.NodeTTL = DefaultNodeTTL
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.Load == nil {
		cfg.Load = func() Load { return Load{} }
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	n := &Node{
		cfg: cfg, rdb: redis.NewClient(opts), prefix: cfg.Prefix,
		log:  cfg.Log.With("component", "cluster", "node", cfg.NodeID),
		done: make(chan struct{}), held: map[string]uint64{}, published: map[string]string{},
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	return n, nil
}

// ID is the node's id in the directory.
func (n *Node) ID() string { return n.cfg.NodeID }

// URL is the node's public base URL.
func (n *Node) URL() string { return n.cfg.NodeURL }

// Run registers the node and keeps its entry, leases and recordings
// current until ctx ends or Close. Redis errors are logged and retried.
func (n *Node) Run(ctx context.Context) {
	if !n.started.CompareAndSwap(false, true) {
		return
	}
	defer close(n.done)
	n.cpuAt = time.Now()
	n.cpuUsed, _ = load.ProcessCPU(os.Getpid())
	n.beat(n.sampleCPU(n.cpuAt))
	t := time.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.ctx.Done():
			return
		case now := <-t.C:
			n.beat(n.sampleCPU(now))
		}
	}
}

// Close stops the heartbeat, releases the leases of the rooms still held,
// removes the node from the directory so that no join is sent here, and
// closes the Redis client. It is idempotent.
func (n *Node) Close() error {
	var err error
	n.once.Do(func() {
		n.cancel()
		if n.started.Load() {
			<-n.done // a beat ends within its own timeout
			n.leave()
		}
		err = n.rdb.Close()
	})
	return err
}

// leave releases the leases of the rooms still held and removes the
// node's entry: no join is sent here any more.
func (n *Node) leave() {
	n.mu.Lock()
	rooms := make([]string, 0, len(n.held))
	for r := range n.held {
		rooms = append(rooms, r)
	}
	n.held = map[string]uint64{}
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*redisTimeout)
	defer cancel()
	for _, room := range rooms {
		if err := releaseLua.Run(ctx, n.rdb, []string{n.prefix + keyRoom + room}, n.cfg.NodeID).Err(); err != nil {
			n.log.Warn("releasing room lease on leaving; it expires on its own", "room", room, "err", err)
			break
		}
	}
	if err := n.rdb.HDel(ctx, n.prefix+keyNodes, n.cfg.NodeID).Err(); err != nil {
		n.log.Warn("leaving the directory", "err", err)
	}
}

func (n *Node) sampleCPU(now time.Time) float64 {
	if n.cfg.CPU != nil {
		return n.cfg.CPU()
	}
	used, err := load.ProcessCPU(os.Getpid())
	if err != nil {
		return 0
	}
	dt := now.Sub(n.cpuAt)
	cpu := 0.0
	if dt > 0 {
		cpu = float64(used-n.cpuUsed) / float64(dt) / float64(runtime.NumCPU())
	}
	n.cpuAt, n.cpuUsed = now, used
	return cpu
}

// beat writes the node's entry, renews (or re-takes) its leases and
// publishes its recordings' changes.
func (n *Node) beat(cpu float64) {
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.Heartbeat)
	defer cancel()
	info := NodeInfo{ID: n.cfg.NodeID, URL: n.cfg.NodeURL, CPU: cpu, Load: n.cfg.Load(), UpdatedMS: time.Now().UnixMilli()}
	data, _ := json.Marshal(info)
	created, err := n.rdb.HSet(ctx, n.prefix+keyNodes, n.cfg.NodeID, data).Result()
	if err != nil {
		n.warn("heartbeat: directory unreachable; rooms go on, retrying", err)
		n.registered = false
		return
	}
	if created == 1 || !n.registered {
		// First beat, or Redis lost our entry (restarted empty): whatever
		// it held of ours must be written again.
		if n.registered {
			n.log.Warn("directory had forgotten this node; registering again")
		} else {
			n.log.Info("registered in the directory", "url", n.cfg.NodeURL)
		}
		n.published = map[string]string{}
		n.registered = true
	}
	if err := n.rdb.SetNX(ctx, n.prefix+keySince, time.Now().UnixMilli(), 0).Err(); err != nil {
		n.warn("heartbeat: marking the directory's start", err)
	}
	n.renewLeases(ctx)
	n.publishRecordings(ctx)
	if nodes, err := n.Nodes(ctx); err == nil {
		origins := map[string]bool{}
		for _, ni := range nodes {
			if u, err := url.Parse(ni.URL); err == nil {
				origins[strings.ToLower(u.Scheme+"://"+u.Host)] = true
			}
		}
		n.origins.Store(&origins)
	}
}

// NodeOrigin reports whether origin (scheme://host:port) is a live node's:
// a page served by one node may open a websocket to another.
func (n *Node) NodeOrigin(origin string) bool {
	m := n.origins.Load()
	return m != nil && (*m)[strings.ToLower(strings.TrimSuffix(origin, "/"))]
}

// warn logs a Redis failure at most every 10 s.
func (n *Node) warn(msg string, err error) {
	if time.Since(n.lastWarning) < 10*time.Second {
		return
	}
	n.lastWarning = time.Now()
	n.log.Warn(msg, "err", err)
}

// renewLua extends a lease held by ARGV[1], takes it again if it expired
// (Redis restarted, or a long pause), and reports another holder.
var renewLua = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end
return 0`)

// releaseLua deletes a key only while it holds ARGV[1].
var releaseLua = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

// stealLua replaces a lease held by a dead node (ARGV[1]) with ARGV[2].
var stealLua = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end
return 0`)

func (n *Node) renewLeases(ctx context.Context) {
	n.mu.Lock()
	rooms := make([]string, 0, len(n.held))
	for r := range n.held {
		rooms = append(rooms, r)
	}
	n.mu.Unlock()
	ttl := n.cfg.LeaseTTL.Milliseconds()
	for _, room := range rooms {
		res, err := renewLua.Run(ctx, n.rdb, []string{n.prefix + keyRoom + room}, n.cfg.NodeID, ttl).Int()
		switch {
		case err != nil:
			n.warn("renewing room leases", err)
			return
		case res == 2:
			n.log.Info("room lease taken again", "room", room)
		case res == 0:
			// Another node took the room while this one could not renew
			// (a partition): the room here goes on for its participants,
			// new joins go to the other node.
			n.log.Warn("room lease held by another node; new joins go there", "room", room)
		}
	}
}

// Hold keeps room's lease while the room is open here: call it when a room
// opens; done closes when the room does, and the lease is released. It
// never blocks on Redis.
func (n *Node) Hold(room string, done <-chan struct{}) {
	n.mu.Lock()
	n.gen++
	gen := n.gen
	n.held[room] = gen
	n.mu.Unlock()
	go func() {
		select {
		case <-done:
		case <-n.ctx.Done():
			return
		}
		n.mu.Lock()
		mine := n.held[room] == gen
		if mine {
			delete(n.held, room)
		}
		n.mu.Unlock()
		if !mine {
			return // a new room of that name holds the lease now
		}
		// Not n.ctx: a room closing as the server shuts down still frees
		// its name at once.
		ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
		defer cancel()
		if err := releaseLua.Run(ctx, n.rdb, []string{n.prefix + keyRoom + room}, n.cfg.NodeID).Err(); err != nil && n.ctx.Err() == nil {
			n.log.Warn("releasing room lease; it expires on its own", "room", room, "err", err)
		}
	}()
}

// Nodes returns the live nodes (entries younger than NodeTTL), by id.
func (n *Node) Nodes(ctx context.Context) ([]NodeInfo, error) {
	all, err := n.allNodes(ctx)
	if err != nil {
		return nil, err
	}
	var live []NodeInfo
	for _, ni := range all {
		if n.live(ni) {
			live = append(live, ni)
		}
	}
	return live, nil
}

func (n *Node) allNodes(ctx context.Context) (map[string]NodeInfo, error) {
	m, err := n.rdb.HGetAll(ctx, n.prefix+keyNodes).Result()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDirectory, err)
	}
	out := make(map[string]NodeInfo, len(m))
	for id, v := range m {
		var ni NodeInfo
		if json.Unmarshal([]byte(v), &ni) == nil && ni.ID == id {
			out[id] = ni
		}
	}
	return out, nil
}

func (n *Node) live(ni NodeInfo) bool {
	return time.Since(time.UnixMilli(ni.UpdatedMS)) <= n.cfg.NodeTTL
}

// Placement says where a room lives.
type Placement struct {
	// Local: the room is, or is to be created, on this node.
	Local bool
	// Node is the owner when not Local.
	Node NodeInfo
}

// Owner returns the live node other than this one that holds room's lease;
// ok is false when this node or nobody does.
func (n *Node) Owner(ctx context.Context, room string) (NodeInfo, bool, error) {
	holder, err := n.rdb.Get(ctx, n.prefix+keyRoom+room).Result()
	if errors.Is(err, redis.Nil) || holder == n.cfg.NodeID {
		return NodeInfo{}, false, nil
	}
	if err != nil {
		return NodeInfo{}, false, fmt.Errorf("%w: %w", ErrDirectory, err)
	}
	nodes, err := n.allNodes(ctx)
	if err != nil {
		return NodeInfo{}, false, err
	}
	ni, ok := nodes[holder]
	if !ok || !n.live(ni) {
		return NodeInfo{}, false, nil
	}
	return ni, true, nil
}

// Place finds the node of room for a join that arrived here: the holder of
// its lease if that node is live, else the least loaded live node under the
// CPU threshold, which gets the lease at once. Two nodes placing one room
// at the same time take turns through the room's creation lock.
func (n *Node) Place(ctx context.Context, room string) (Placement, error) {
	if p, ok, err := n.current(ctx, room); err != nil || ok {
		return p, err
	}
	token := rand.Text()
	lockKey := n.prefix + keyLock + room
	if err := n.lock(ctx, lockKey, token); err != nil {
		return Placement{}, err
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), redisTimeout)
		defer cancel()
		_ = releaseLua.Run(uctx, n.rdb, []string{lockKey}, token).Err()
	}()
	// Under the lock: someone may have placed it while we waited.
	p, ok, err := n.current(ctx, room)
	if err != nil || ok {
		return p, err
	}
	// A directory that started (or restarted empty) less than a heartbeat
	// ago may not hold every open room's lease yet: wait until all nodes
	// have written theirs, so that an open room is not opened twice.
	if waited, err := n.settle(ctx); err != nil {
		return Placement{}, err
	} else if waited {
		if p, ok, err := n.current(ctx, room); err != nil || ok {
			return p, err
		}
	}
	nodes, err := n.allNodes(ctx)
	if err != nil {
		return Placement{}, err
	}
	target, err := n.choose(nodes)
	if err != nil {
		return Placement{}, err
	}
	dead, _ := n.rdb.Get(ctx, n.prefix+keyRoom+room).Result()
	taken, err := stealLua.Run(ctx, n.rdb, []string{n.prefix + keyRoom + room}, dead, target.ID, n.cfg.LeaseTTL.Milliseconds()).Int()
	if err != nil {
		return Placement{}, fmt.Errorf("%w: %w", ErrDirectory, err)
	}
	if taken == 0 {
		return Placement{}, ErrBusy
	}
	if dead != "" {
		n.log.Info("room moved from a dead node", "room", room, "dead", dead, "to", target.ID)
	} else {
		n.log.Debug("room placed", "room", room, "on", target.ID)
	}
	return Placement{Local: target.ID == n.cfg.NodeID, Node: target}, nil
}

// current answers from the room's lease when its holder is live.
func (n *Node) current(ctx context.Context, room string) (Placement, bool, error) {
	holder, err := n.rdb.Get(ctx, n.prefix+keyRoom+room).Result()
	if errors.Is(err, redis.Nil) {
		return Placement{}, false, nil
	}
	if err != nil {
		return Placement{}, false, fmt.Errorf("%w: %w", ErrDirectory, err)
	}
	if holder == n.cfg.NodeID {
		return Placement{Local: true}, true, nil
	}
	nodes, err := n.allNodes(ctx)
	if err != nil {
		return Placement{}, false, err
	}
	if ni, ok := nodes[holder]; ok && n.live(ni) {
		return Placement{Node: ni}, true, nil
	}
	return Placement{}, false, nil // its node is gone: place it again
}

// settle waits until the directory is 1.5 heartbeats old; it reports
// whether it waited.
func (n *Node) settle(ctx context.Context) (bool, error) {
	waited := false
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		ms, err := n.rdb.Get(ctx, n.prefix+keySince).Int64()
		if err != nil && !errors.Is(err, redis.Nil) {
			return waited, fmt.Errorf("%w: %w", ErrDirectory, err)
		}
		if err == nil && time.Since(time.UnixMilli(ms)) >= n.cfg.Heartbeat*3/2 {
			return waited, nil
		}
		waited = true
		select {
		case <-ctx.Done():
			return waited, ErrBusy
		case <-t.C:
		}
	}
}

// lock takes key with SET NX PX, trying again until lockWait.
func (n *Node) lock(ctx context.Context, key, token string) error {
	ctx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		ok, err := n.rdb.SetNX(ctx, key, token, lockTTL).Result()
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("%w: %w", ErrDirectory, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ErrBusy
		case <-t.C:
		}
	}
}

// choose picks the least loaded live node under the CPU threshold that is
// not draining; ties go to this node, then by id.
func (n *Node) choose(nodes map[string]NodeInfo) (NodeInfo, error) {
	var cands []NodeInfo
	for _, ni := range nodes {
		if n.live(ni) && !ni.Draining && ni.CPU < n.cfg.MaxCPU {
			cands = append(cands, ni)
		}
	}
	if len(cands) == 0 {
		return NodeInfo{}, ErrFull
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if a.score() != b.score() {
			return a.score() < b.score()
		}
		if (a.ID == n.cfg.NodeID) != (b.ID == n.cfg.NodeID) {
			return a.ID == n.cfg.NodeID
		}
		return a.ID < b.ID
	})
	return cands[0], nil
}
