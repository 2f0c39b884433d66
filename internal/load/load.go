// Package load is the MCU's load generator: it fills rooms of a running
// server with clients that publish pre-encoded media and count what they
// receive, and reports the server's CPU, the output frame rate and its
// regularity as receivers see it, the downlink per receiver and the
// server-added latency the rooms measure themselves.
package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mcu-dev/mcu/auth"
	"github.com/mcu-dev/mcu/internal/peer"
	"github.com/mcu-dev/mcu/mcu"
)

// Config is one load run.
type Config struct {
	// URL of the server's websocket endpoint, ws://host:port/ws.
	URL string
	// Rooms and PerRoom: how many rooms, and publishers (who all receive) in each.
	Rooms, PerRoom int
	// RoomPrefix names the rooms PREFIX1, PREFIX2, ... (default "load-").
	RoomPrefix string
	// Warmup after everyone joined, then Duration of measuring.
	Warmup, Duration time.Duration
	// Quality and FPS are set on every room before measuring ("" and 0 keep
	// the server's defaults).
	Quality string
	FPS     int
	// ServerPID is the server process whose CPU is measured (0: none).
	ServerPID int
	// InProcess says the server runs inside this process: its CPU then
	// includes the load generator's.
	InProcess bool
	// Publish describes the publishers' video (default 640x360 at 30, 500 kb/s).
	Publish peer.ClipOptions
	// Watchers is how many receivers, one in each of the first rooms,
	// decode the composite and read the bar codes of its tiles to time each
	// picture from its publisher to its receiver (0: none). Decoding 720p
	// costs the load generator CPU, so one room is usually enough.
	Watchers int
	// Viewers is how many WHEP viewers watch each room besides its
	// participants: they only count what they receive.
	Viewers int
	// Keys, when the server checks access tokens, sign each client's join
	// token and the operator token of the API calls (MCU_KEYS).
	Keys *auth.Keys
	// Record, when set, starts a recording with these JSON options
	// (e.g. `{"format":"webm"}`) in every room before the warm-up and
	// stops it after measuring, so the figures include its cost.
	Record string
	// JoinTimeout bounds one client's join and negotiation (default 20 s).
	JoinTimeout time.Duration
	Log         *slog.Logger
}

func (c *Config) defaults() error {
	if c.URL == "" {
		return errors.New("load: no server URL")
	}
	if c.Rooms <= 0 || c.PerRoom <= 0 {
		return fmt.Errorf("load: %d rooms of %d: both must be at least 1", c.Rooms, c.PerRoom)
	}
	if c.Duration <= 0 {
		return errors.New("load: duration must be positive")
	}
	if c.RoomPrefix == "" {
		c.RoomPrefix = "load-"
	}
	if c.Publish.Width == 0 {
		c.Publish.Width, c.Publish.Height = 640, 360
	}
	if c.Publish.FPS == 0 {
		c.Publish.FPS = 30
	}
	if c.Publish.Bitrate == 0 {
		c.Publish.Bitrate = 500_000
	}
	if c.JoinTimeout == 0 {
		c.JoinTimeout = 20 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// clipColours tell the publishers' tiles apart on the composite.
var clipColours = []color.RGBA{{200, 40, 40, 255}, {40, 170, 60, 255}, {50, 80, 210, 255}, {210, 190, 40, 255}}

type client struct {
	room   string
	c      *peer.Client
	w      *watcher
	viewer bool // a WHEP viewer, not a participant
	// counters at the start of the measured window
	frames, bytes, videoBytes int64
}

type sample struct {
	at                 time.Time
	server, self       time.Duration
	machine, machineOf time.Duration
	serverErr          error
}

func takeSample(pid int) sample {
	s := sample{at: time.Now()}
	if pid > 0 {
		s.server, s.serverErr = ProcessCPU(pid)
	}
	s.self, _ = ProcessCPU(os.Getpid())
	s.machine, s.machineOf, _ = MachineCPU()
	return s
}

// Run fills the rooms, warms up, measures and leaves. It returns an error
// only when the run could not be made; what the server did badly is in the
// report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	api, err := apiBase(cfg.URL)
	if err != nil {
		return nil, err
	}
	log := cfg.Log
	started := time.Now()
	clips := make([]*peer.Clip, len(clipColours))
	for i, col := range clipColours {
		o := cfg.Publish
		o.Colour, o.Tone = col, float64(300+100*i)
		if clips[i], err = peer.NewClip(o); err != nil {
			return nil, err
		}
	}
	log.Info("clips encoded", "took", time.Since(started).Round(time.Millisecond), "bytes_per_loop", clips[0].Bytes)

	rooms := make([]string, cfg.Rooms)
	for i := range rooms {
		rooms[i] = fmt.Sprintf("%s%d", cfg.RoomPrefix, i+1)
	}
	clients, err := join(ctx, cfg, rooms, clips)
	defer leave(clients)
	if err != nil {
		return nil, err
	}
	if cfg.Viewers > 0 {
		viewers, err := joinViewers(ctx, cfg, api, rooms)
		clients = append(clients, viewers...)
		if err != nil {
			leave(clients)
			return nil, err
		}
	}
	log.Info("everyone joined", "clients", len(clients), "took", time.Since(started).Round(time.Millisecond))

	if cfg.Quality != "" || cfg.FPS != 0 {
		for _, r := range rooms {
			if err := putSettings(ctx, api, operatorToken(cfg.Keys, r), r, cfg.Quality, cfg.FPS); err != nil {
				return nil, err
			}
		}
	}
	if cfg.Record != "" {
		for _, r := range rooms {
			id, err := startRecording(ctx, api, operatorToken(cfg.Keys, r), r, cfg.Record)
			if err != nil {
				return nil, err
			}
			defer stopRecording(api, operatorToken(cfg.Keys, r), id)
		}
	}
	if err := sleep(ctx, cfg.Warmup); err != nil {
		return nil, err
	}

	log.Info("measuring", "duration", cfg.Duration)
	before := map[string]mcu.RoomInfo{}
	for _, r := range rooms {
		if before[r], err = getRoom(ctx, api, operatorToken(cfg.Keys, r), r); err != nil {
			return nil, err
		}
	}
	for _, cl := range clients {
		cl.frames, cl.bytes, cl.videoBytes = cl.c.FramesReceived.Load(), cl.c.BytesReceived.Load(), cl.c.VideoBytesReceived.Load()
		cl.c.FrameGaps()
		if cl.w != nil {
			cl.w.measure(true)
		}
	}
	s0 := takeSample(cfg.ServerPID)
	if err := sleep(ctx, cfg.Duration); err != nil {
		return nil, err
	}
	s1 := takeSample(cfg.ServerPID)
	window := s1.at.Sub(s0.at)
	results := make([]receiverResult, len(clients))
	for i, cl := range clients {
		results[i] = receiverResult{
			room:       cl.room,
			viewer:     cl.viewer,
			frames:     cl.c.FramesReceived.Load() - cl.frames,
			bytes:      cl.c.BytesReceived.Load() - cl.bytes,
			videoBytes: cl.c.VideoBytesReceived.Load() - cl.videoBytes,
			gaps:       cl.c.FrameGaps(),
		}
		if cl.w != nil {
			results[i].e2e, results[i].unread = cl.w.measure(false)
		}
	}
	after := map[string]mcu.RoomInfo{}
	for _, r := range rooms {
		if after[r], err = getRoom(ctx, api, operatorToken(cfg.Keys, r), r); err != nil {
			return nil, err
		}
	}
	rep := buildReport(cfg, rooms, window, s0, s1, before, after, results)
	return rep, nil
}

// apiBase turns ws://host:port/ws into http://host:port.
func apiBase(ws string) (string, error) {
	u, err := url.Parse(ws)
	if err != nil {
		return "", fmt.Errorf("load: server URL %q: %w", ws, err)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("load: server URL %q: want ws:// or wss://", ws)
	}
	u.Path, u.RawQuery = "", ""
	return u.String(), nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// join connects every client, a few at a time, rooms filled in turn so that
// a room's tiles stay in a stable order.
func join(ctx context.Context, cfg Config, rooms []string, clips []*peer.Clip) ([]*client, error) {
	var clients []*client
	for ri, room := range rooms {
		var (
			mu       sync.Mutex
			wg       sync.WaitGroup
			firstErr error
		)
		joined := make([]*client, cfg.PerRoom)
		pubs := newPublishers()
		sem := make(chan struct{}, 4)
		for i := 0; i < cfg.PerRoom; i++ {
			wg.Add(1)
			sem <- struct{}{}
			var w *watcher
			name := fmt.Sprintf("load %d", i+1)
			o := peer.Options{URL: cfg.URL, Room: room, Name: name, Clip: clips[i%len(clips)], Token: joinToken(cfg.Keys, room, fmt.Sprintf("%s-%d", room, i+1), name)}
			if i == 0 && ri < cfg.Watchers {
				w = newWatcher(pubs)
				o.Watch = w.see
			}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				dctx, cancel := context.WithTimeout(ctx, cfg.JoinTimeout)
				defer cancel()
				c, err := peer.Dial(dctx, o)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if firstErr == nil {
						firstErr = fmt.Errorf("load: joining %s as client %d: %w", room, i+1, err)
					}
					return
				}
				pubs.add(c, o.Clip)
				if w != nil {
					w.attach(c)
				}
				joined[i] = &client{room: room, c: c, w: w}
			}()
			// Spaced joins keep the tiles in client order; the handshakes
			// that follow overlap.
			time.Sleep(20 * time.Millisecond)
		}
		wg.Wait()
		for _, c := range joined {
			if c != nil {
				clients = append(clients, c)
			}
		}
		if firstErr != nil {
			return clients, firstErr
		}
		cfg.Log.Info("room filled", "room", room, "clients", cfg.PerRoom)
	}
	return clients, nil
}

// joinViewers connects cfg.Viewers WHEP viewers to each room, a few at a
// time.
func joinViewers(ctx context.Context, cfg Config, api string, rooms []string) ([]*client, error) {
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr error
		out      []*client
	)
	sem := make(chan struct{}, 8)
	for _, room := range rooms {
		for i := 0; i < cfg.Viewers; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				dctx, cancel := context.WithTimeout(ctx, cfg.JoinTimeout)
				defer cancel()
				c, err := peer.DialWHEP(dctx, peer.Options{URL: api + "/whep/" + url.PathEscape(room), Token: joinToken(cfg.Keys, room, fmt.Sprintf("%s-viewer-%d", room, i+1), "viewer")})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if firstErr == nil {
						firstErr = fmt.Errorf("load: WHEP viewer %d of %s: %w", i+1, room, err)
					}
					return
				}
				out = append(out, &client{room: room, c: c, viewer: true})
			}()
		}
	}
	wg.Wait()
	if firstErr == nil {
		cfg.Log.Info("viewers joined", "per_room", cfg.Viewers)
	}
	return out, firstErr
}

func leave(clients []*client) {
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() { defer wg.Done(); c.c.Leave() }()
	}
	wg.Wait()
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

// operatorToken is a token with roomAdmin for room, or "" without keys.
func operatorToken(keys *auth.Keys, room string) string {
	if keys.Len() == 0 {
		return ""
	}
	tok, _ := keys.Mint(auth.NewClaims("loadtest", "loadtest", auth.VideoGrant{Room: room, RoomAdmin: true}, time.Hour))
	return tok
}

// joinToken is a participant's token for room, or "" without keys.
func joinToken(keys *auth.Keys, room, identity, name string) string {
	if keys.Len() == 0 {
		return ""
	}
	tok, _ := keys.Mint(auth.NewClaims(identity, name, auth.VideoGrant{Room: room, RoomJoin: true}, 6*time.Hour))
	return tok
}

func getRoom(ctx context.Context, api, token, room string) (mcu.RoomInfo, error) {
	var info mcu.RoomInfo
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/api/rooms/"+url.PathEscape(room), nil)
	if err != nil {
		return info, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return info, fmt.Errorf("load: GET room %s: %w", room, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return info, fmt.Errorf("load: GET room %s: %s: %s", room, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return info, fmt.Errorf("load: GET room %s: %w", room, err)
	}
	return info, nil
}

func startRecording(ctx context.Context, api, token, room, options string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api+"/api/rooms/"+url.PathEscape(room)+"/recordings", strings.NewReader(options))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("load: starting a recording in %s: %w", room, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var rec struct{ ID string }
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &rec) != nil {
		return "", fmt.Errorf("load: starting a recording in %s: %s: %s", room, resp.Status, strings.TrimSpace(string(body)))
	}
	return rec.ID, nil
}

func stopRecording(api, token, id string) {
	req, err := http.NewRequest(http.MethodPost, api+"/api/recordings/"+url.PathEscape(id)+"/stop", nil)
	if err != nil {
		return
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if resp, err := httpClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

func putSettings(ctx context.Context, api, token, room, quality string, fps int) error {
	body, _ := json.Marshal(map[string]any{"quality": quality, "fps": fps})
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, api+"/api/rooms/"+url.PathEscape(room), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return fmt.Errorf("load: PUT room %s: %w", room, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("load: PUT room %s %s: %s: %s", room, body, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

type receiverResult struct {
	room                      string
	viewer                    bool
	frames, bytes, videoBytes int64
	gaps                      []time.Duration
	e2e                       []float64 // ms, watchers only
	unread                    int
}

func buildReport(cfg Config, rooms []string, window time.Duration, s0, s1 sample,
	before, after map[string]mcu.RoomInfo, results []receiverResult) *Report {
	secs := window.Seconds()
	rep := &Report{
		Rooms: cfg.Rooms, PerRoom: cfg.PerRoom, WindowSeconds: secs, WarmupSeconds: cfg.Warmup.Seconds(),
		Publish:      fmt.Sprintf("%dx%d@%d VP8 %d kb/s + Opus 48 kb/s, pre-encoded", cfg.Publish.Width, cfg.Publish.Height, cfg.Publish.FPS, cfg.Publish.Bitrate/1000),
		MachineCores: runtime.NumCPU(),
		LoadgenCores: (s1.self - s0.self).Seconds() / secs,
		MachineBusy:  (s1.machine - s0.machine).Seconds() / secs,
		ServerInProc: cfg.InProcess,
		ServerPID:    cfg.ServerPID,
		Date:         s0.at.UTC().Format(time.RFC3339),
	}
	if s1.machineOf > s0.machineOf {
		// /proc/stat counts every core: scale busy time to cores.
		rep.MachineBusy = float64(rep.MachineCores) * float64(s1.machine-s0.machine) / float64(s1.machineOf-s0.machineOf)
	}
	if len(rooms) > 0 {
		st := after[rooms[0]].Settings
		rep.Quality, rep.FPS = string(st.Quality), st.FPS
	}
	switch {
	case cfg.InProcess:
		rep.ServerCores = rep.LoadgenCores
		rep.LoadgenCores = 0
	case cfg.ServerPID > 0 && s0.serverErr == nil && s1.serverErr == nil:
		rep.ServerCores = (s1.server - s0.server).Seconds() / secs
	default:
		rep.ServerCores = -1
	}
	if rep.ServerCores >= 0 {
		rep.ServerCoresPerRoom = rep.ServerCores / float64(cfg.Rooms)
	}
	held := float64(rep.FPS) - 1
	var allFPS, allGaps, down, downVideo, lat, allE2E []float64
	var viewerDown, viewerFPS []float64
	rep.ViewersPerRoom = cfg.Viewers
	for _, r := range results {
		if !r.viewer {
			continue
		}
		viewerDown = append(viewerDown, float64(r.bytes)/secs)
		viewerFPS = append(viewerFPS, float64(r.frames)/secs)
		if r.frames == 0 {
			rep.SilentViewers++
		}
	}
	rep.ViewerDownlinkBytesPerSec = Summarize(viewerDown)
	rep.ViewerFPSMin = Summarize(viewerFPS).Min
	for _, name := range rooms {
		b, a := before[name], after[name]
		rr := RoomReport{Name: name, Participants: len(a.Participants), LatencyMedianMS: a.LatencyMedianMS}
		rr.ServerFPS = float64(a.FramesOut-b.FramesOut) / secs
		var fps, gaps, e2e []float64
		for _, r := range results {
			if r.room != name || r.viewer {
				continue
			}
			e2e = append(e2e, r.e2e...)
			allE2E = append(allE2E, r.e2e...)
			rep.UnreadTiles += r.unread
			f := float64(r.frames) / secs
			fps = append(fps, f)
			allFPS = append(allFPS, f)
			down = append(down, float64(r.bytes)/secs)
			downVideo = append(downVideo, float64(r.videoBytes)/secs)
			if r.frames == 0 {
				rep.SilentReceivers++
			}
			for _, g := range r.gaps {
				ms := float64(g) / float64(time.Millisecond)
				gaps = append(gaps, ms)
				allGaps = append(allGaps, ms)
			}
		}
		fs := Summarize(fps)
		rr.ReceiverFPSMin, rr.ReceiverFPSMedian = fs.Min, fs.Median
		rr.IntervalP95MS = Summarize(gaps).P95
		es := Summarize(e2e)
		rr.EndToEndMS = Quantiles{P50: es.Median, P95: es.P95, Max: es.Max}
		inFPS := make([]float64, 0, len(a.Participants))
		for _, p := range a.Participants {
			inFPS = append(inFPS, p.DecodedFPS)
			rr.PacketsLost += p.PacketsLost
			rr.DecodeErrors += p.DecodeErrors
		}
		for _, p := range b.Participants {
			rr.PacketsLost -= p.PacketsLost
			rr.DecodeErrors -= p.DecodeErrors
		}
		rr.InputFPSMin = Summarize(inFPS).Min
		if rr.Participants != cfg.PerRoom {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("room %s has %d participants, want %d", name, rr.Participants, cfg.PerRoom))
		}
		if fs.N > 0 && rr.ReceiverFPSMin >= held {
			rep.RoomsHeld++
		}
		if a.LatencyMedianMS > 0 {
			lat = append(lat, a.LatencyMedianMS)
		}
		rep.RoomReports = append(rep.RoomReports, rr)
	}
	fs := Summarize(allFPS)
	rep.FPSMin, rep.FPSMedian = fs.Min, fs.Median
	rep.HeldFPS = held
	is := Summarize(allGaps)
	rep.IntervalMS = Quantiles{P50: is.Median, P95: is.P95, Max: is.Max}
	rep.DownlinkBytesPerSec = Summarize(down)
	rep.DownlinkVideoBytesPerSec = Summarize(downVideo).Mean
	ls := Summarize(lat)
	rep.LatencyMedianMS, rep.LatencyMaxRoomMS = ls.Median, ls.Max
	es := Summarize(allE2E)
	rep.EndToEndMS = Quantiles{P50: es.Median, P95: es.P95, Max: es.Max}
	rep.EndToEndSamples = es.N
	if cfg.Watchers > 0 && es.N == 0 {
		rep.Warnings = append(rep.Warnings, "the watchers timed no picture: bar codes unreadable or no video")
	}
	if rep.SilentViewers > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d WHEP viewers got no video in the window", rep.SilentViewers))
	}
	if rep.SilentReceivers > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d receivers got no video in the window", rep.SilentReceivers))
	}
	sort.Strings(rep.Warnings)
	return rep
}
