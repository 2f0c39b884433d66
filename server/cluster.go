package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mcu-dev/mcu/cluster"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/signaling"
	"github.com/mcu-dev/mcu/web"
)

// Cluster joins the server to other nodes that share a Redis room
// directory (docs/cluster.md). An empty RedisURL keeps everything on this
// node, in memory.
type Cluster struct {
	// RedisURL is redis://host:port[/db].
	RedisURL string
	// NodeID names this node (default: NodeURL's host:port).
	NodeID string
	// NodeURL is the base URL clients and other nodes reach this node at.
	NodeURL string
	// MaxCPU is the CPU share (0-1) above which this node takes no new
	// rooms (default 0.8).
	MaxCPU float64
	// Heartbeat, NodeTTL and LeaseTTL override the directory's timings
	// (tests); zero keeps 2 s, 5 s and 6 s.
	Heartbeat, NodeTTL, LeaseTTL time.Duration
}

// joinCluster makes the server's node; it starts beating in Serve.
func (s *Server) joinCluster(c Cluster) error {
	n, err := cluster.New(cluster.Config{
		RedisURL: c.RedisURL, NodeID: c.NodeID, NodeURL: c.NodeURL, MaxCPU: c.MaxCPU,
		Heartbeat: c.Heartbeat, NodeTTL: c.NodeTTL, LeaseTTL: c.LeaseTTL, Log: s.log,
		Load: s.clusterLoad, Recordings: s.clusterRecordings,
	})
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	s.node = n
	s.Rooms.OnRoom(func(r *mcu.Room) { n.Hold(r.Name(), r.Done()) })
	return nil
}

func (s *Server) clusterLoad() cluster.Load {
	l := cluster.Load{Draining: s.ops.health.Draining()}
	for _, r := range s.Rooms.List() {
		l.Rooms++
		l.Encoders++ // the room's live output
		l.Participants += len(r.Participants())
	}
	if s.Recorder != nil {
		l.Encoders += len(s.Recorder.Running())
	}
	return l
}

func (s *Server) clusterRecordings() []cluster.Recording {
	if s.Recorder == nil {
		return nil
	}
	recs := s.Recorder.List()
	out := make([]cluster.Recording, 0, len(recs))
	for _, r := range recs {
		data, err := json.Marshal(r)
		if err != nil {
			continue
		}
		out = append(out, cluster.Recording{ID: r.ID, Data: data})
	}
	return out
}

// clusterBackend sends a join for a room of another node there, and
// places a new room on the least loaded node.
type clusterBackend struct {
	node  *cluster.Node
	rooms *mcu.Rooms
	next  signaling.Backend
}

func (b clusterBackend) Join(room, name string, opts signaling.JoinOptions, out signaling.Sender) (signaling.Session, error) {
	if _, err := b.rooms.Room(room); err == nil {
		return b.next.Join(room, name, opts, out) // open here: no directory needed
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := b.node.Place(ctx, room)
	switch {
	case errors.Is(err, cluster.ErrFull):
		return nil, &signaling.Error{Code: signaling.CodeServerFull, Message: "server full: every node is over its CPU threshold; try again later"}
	case errors.Is(err, cluster.ErrBusy):
		return nil, &signaling.Error{Code: signaling.CodeServerFull, Message: "another node is opening this room; try again"}
	case err != nil:
		return nil, &signaling.Error{Code: signaling.CodeInternal, Message: "the room directory is unavailable; try again shortly"}
	case !p.Local:
		return nil, &signaling.Redirect{URL: p.Node.URL}
	}
	return b.next.Join(room, name, opts, out)
}

// webCluster answers the HTTP API's questions from the directory.
type webCluster struct{ node *cluster.Node }

func (w webCluster) RoomNode(ctx context.Context, room string) (string, error) {
	ni, ok, err := w.node.Owner(ctx, room)
	if err != nil || !ok {
		return "", err
	}
	return ni.URL, nil
}

func (w webCluster) URL() string { return w.node.URL() }

func (w webCluster) Nodes(ctx context.Context) ([]string, error) {
	nodes, err := w.node.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	var urls []string
	for _, ni := range nodes {
		if ni.ID != w.node.ID() {
			urls = append(urls, ni.URL)
		}
	}
	return urls, nil
}

func (w webCluster) RecordingNode(ctx context.Context, id string) (string, error) {
	ni, ok, err := w.node.RecordingNode(ctx, id)
	if err != nil || !ok {
		return "", err
	}
	return ni.URL, nil
}

func (w webCluster) Recordings(ctx context.Context) ([]web.RemoteRecording, error) {
	recs, err := w.node.Recordings(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]web.RemoteRecording, 0, len(recs))
	for _, r := range recs {
		if r.Node == w.node.ID() {
			continue
		}
		var rec mcu.Recording
		if json.Unmarshal(r.Data, &rec) != nil {
			continue
		}
		out = append(out, web.RemoteRecording{Recording: rec, Node: r.Node, NodeUnreachable: !r.Reachable})
	}
	return out, nil
}
