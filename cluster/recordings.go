package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/redis/go-redis/v9"
)

// Recording is one recording in the directory: its id and its metadata as
// the recorder writes it (JSON), with the node that has the file.
type Recording struct {
	ID   string          `json:"id"`
	Node string          `json:"node"`
	Data json.RawMessage `json:"data"`
	// NodeURL and Reachable are filled in when listing: the holder's URL
	// and whether it is live.
	NodeURL   string `json:"-"`
	Reachable bool   `json:"-"`
}

// publishRecordings writes the recordings that changed since the last beat
// and removes the ones deleted here. Runs on the Run goroutine.
func (n *Node) publishRecordings(ctx context.Context) {
	if n.cfg.Recordings == nil {
		return
	}
	recs := n.cfg.Recordings()
	seen := make(map[string]bool, len(recs))
	pipe := n.rdb.Pipeline()
	changed := map[string]string{}
	for _, r := range recs {
		r.Node = n.cfg.NodeID
		seen[r.ID] = true
		data, err := json.Marshal(r)
		if err != nil {
			continue
		}
		if n.published[r.ID] != string(data) {
			pipe.HSet(ctx, n.prefix+keyRecordings, r.ID, data)
			changed[r.ID] = string(data)
		}
	}
	var gone []string
	for id := range n.published {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	if len(gone) > 0 {
		pipe.HDel(ctx, n.prefix+keyRecordings, gone...)
	}
	if len(changed) == 0 && len(gone) == 0 {
		return
	}
	if _, err := pipe.Exec(ctx); err != nil {
		n.warn("publishing recordings", err)
		return
	}
	for id, data := range changed {
		n.published[id] = data
	}
	for _, id := range gone {
		delete(n.published, id)
	}
}

// Recordings lists every recording in the directory, with whether its
// node is live, sorted by id.
func (n *Node) Recordings(ctx context.Context) ([]Recording, error) {
	m, err := n.rdb.HGetAll(ctx, n.prefix+keyRecordings).Result()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrDirectory, err)
	}
	nodes, err := n.allNodes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Recording, 0, len(m))
	for id, v := range m {
		var r Recording
		if json.Unmarshal([]byte(v), &r) != nil || r.ID != id {
			continue
		}
		if ni, ok := nodes[r.Node]; ok {
			r.NodeURL, r.Reachable = ni.URL, n.live(ni)
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// RecordingNode returns the live node other than this one that has
// recording id; ok is false when the directory does not know it or this
// node has it. A recording of a node that is gone gives ErrUnreachable.
func (n *Node) RecordingNode(ctx context.Context, id string) (NodeInfo, bool, error) {
	v, err := n.rdb.HGet(ctx, n.prefix+keyRecordings, id).Result()
	if errors.Is(err, redis.Nil) {
		return NodeInfo{}, false, nil
	}
	if err != nil {
		return NodeInfo{}, false, fmt.Errorf("%w: %w", ErrDirectory, err)
	}
	var r Recording
	if err := json.Unmarshal([]byte(v), &r); err != nil || r.Node == n.cfg.NodeID {
		return NodeInfo{}, false, nil
	}
	nodes, err := n.allNodes(ctx)
	if err != nil {
		return NodeInfo{}, false, err
	}
	ni, ok := nodes[r.Node]
	if !ok || !n.live(ni) {
		return NodeInfo{}, false, fmt.Errorf("%w: recording %s is on node %s", ErrUnreachable, id, r.Node)
	}
	return ni, true, nil
}
