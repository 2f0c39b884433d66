package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/mcu-dev/mcu/mcu"
)

// Cluster finds the rooms and recordings that live on other nodes of a
// cluster (docs/cluster.md). Its URLs come only from the cluster's own
// registry of nodes, so nothing a client sends chooses where a request is
// passed on to.
type Cluster interface {
	// RoomNode returns the base URL of the other node that has room, or ""
	// when no other node has it.
	RoomNode(ctx context.Context, room string) (string, error)
	// RecordingNode returns the base URL of the other node that has
	// recording id, or "" when no other node has it.
	RecordingNode(ctx context.Context, id string) (string, error)
	// Recordings lists the recordings of the other nodes.
	Recordings(ctx context.Context) ([]RemoteRecording, error)
	// Nodes returns the base URLs of the other live nodes.
	Nodes(ctx context.Context) ([]string, error)
	// URL is this node's base URL: WHIP and WHEP session resources are
	// given with it, since a client redirected here may resolve a relative
	// Location against the node it first asked.
	URL() string
}

// RemoteRecording is a recording another node has.
type RemoteRecording struct {
	mcu.Recording
	// Node is the id of the node with the file.
	Node string `json:"node"`
	// NodeUnreachable is set while that node is not live: its state may be
	// stale and its file cannot be downloaded until the node is back.
	NodeUnreachable bool `json:"node_unreachable,omitempty"`
}

// forwardedHeader marks a request passed on by another node: it is not
// passed on again, so a stale directory cannot make a loop.
const forwardedHeader = "X-Mcu-Forwarded"

const clusterTimeout = 3 * time.Second

// forwardRoom passes the request on to the node that has room, if
// another one does: the API answers the same on every node, and a browser
// needs no cross-origin access to the owner.
func (a *api) forwardRoom(c *gin.Context, room string) bool {
	if a.cluster == nil || c.GetHeader(forwardedHeader) != "" {
		return false
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), clusterTimeout)
	base, err := a.cluster.RoomNode(ctx, room)
	cancel()
	if err != nil {
		a.log.Warn("cluster: finding a room's node", "room", room, "err", err)
		return false
	}
	if base == "" {
		return false
	}
	a.forward(c, base, "room "+room)
	return true
}

// forwardRecording passes the request on to the node that has recording
// id, if another one does; a recording on a node that is gone gets 503.
func (a *api) forwardRecording(c *gin.Context, id string) bool {
	if a.cluster == nil || c.GetHeader(forwardedHeader) != "" {
		return false
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), clusterTimeout)
	base, err := a.cluster.RecordingNode(ctx, id)
	cancel()
	if err != nil {
		a.log.Info("cluster: recording on another node", "id", id, "err", err)
		apiError(c, http.StatusServiceUnavailable, "recording "+id+" is on a node that is unreachable now: "+err.Error())
		return true
	}
	if base == "" {
		return false
	}
	a.forward(c, base, "recording "+id)
	return true
}

// forward reverse-proxies the request to base, a node URL from the
// cluster's registry. The client's token goes along: keys are shared.
func (a *api) forward(c *gin.Context, base, what string) {
	defer c.Abort()
	target, err := url.Parse(base)
	if err != nil {
		apiError(c, http.StatusInternalServerError, "bad node URL in the cluster directory")
		return
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// The owner sees the client's Host, so its host and origin
			// checks judge the request as this node did.
			pr.Out.Host = pr.In.Host
			pr.Out.Header.Set(forwardedHeader, "1")
			pr.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			a.log.Warn("cluster: passing a request on", "for", what, "node", base, "err", err)
			if !errors.Is(err, context.Canceled) {
				http.Error(w, "the node with "+what+" did not answer", http.StatusBadGateway)
			}
		},
	}
	rp.ServeHTTP(c.Writer, c.Request)
}

// withRemote adds to the local recordings those of the other nodes the
// claims may see, newest first as the local list is.
func (a *api) withRemote(c *gin.Context, out []mcu.Recording, local map[string]bool, sees func(room string) bool) []any {
	all := make([]RemoteRecording, 0, len(out))
	for _, r := range out {
		all = append(all, RemoteRecording{Recording: r})
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), clusterTimeout)
	defer cancel()
	recs, err := a.cluster.Recordings(ctx)
	if err != nil {
		a.log.Warn("cluster: listing recordings", "err", err)
	}
	for _, r := range recs {
		if local[r.ID] || !sees(r.Room) {
			continue
		}
		r.Recording = a.withLink(r.Recording)
		all = append(all, r)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].StartedAt.After(all[j].StartedAt) })
	list := make([]any, len(all))
	for i, r := range all {
		if r.Node == "" {
			list[i] = r.Recording // this node's: as without a cluster
		} else {
			list[i] = r
		}
	}
	return list
}

// clusterClient asks the other nodes for their rooms.
var clusterClient = &http.Client{Timeout: clusterTimeout}

// roomEntry is one room of GET /api/rooms, this node's or another's.
type roomEntry struct {
	name string
	json any
}

// withRemoteRooms adds the other nodes' rooms to the list, sorted by name.
// A node that does not answer in time is left out (and logged).
func (a *api) withRemoteRooms(c *gin.Context, local []mcu.RoomInfo) []any {
	entries := make([]roomEntry, 0, len(local))
	for _, r := range local {
		entries = append(entries, roomEntry{r.Name, r})
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), clusterTimeout)
	defer cancel()
	urls, err := a.cluster.Nodes(ctx)
	if err != nil {
		a.log.Warn("cluster: listing nodes", "err", err)
	}
	lists := make([][]json.RawMessage, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(u, "/")+"/api/rooms", nil)
			if err != nil {
				return
			}
			req.Host = c.Request.Host
			req.Header.Set("Authorization", c.GetHeader("Authorization"))
			req.Header.Set(forwardedHeader, "1")
			res, err := clusterClient.Do(req)
			if err != nil {
				a.log.Warn("cluster: rooms of a node", "node", u, "err", err)
				return
			}
			defer res.Body.Close()
			var body struct {
				Rooms []json.RawMessage `json:"rooms"`
			}
			if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&body) != nil {
				a.log.Warn("cluster: rooms of a node", "node", u, "status", res.StatusCode)
				return
			}
			lists[i] = body.Rooms
		})
	}
	wg.Wait()
	for _, list := range lists {
		for _, raw := range list {
			var r struct {
				Name string `json:"name"`
			}
			if json.Unmarshal(raw, &r) == nil {
				entries = append(entries, roomEntry{r.Name, raw})
			}
		}
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	out := make([]any, len(entries))
	for i, e := range entries {
		out[i] = e.json
	}
	return out
}
