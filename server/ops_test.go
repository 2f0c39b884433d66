package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mcu-dev/mcu/disk/disktest"
	"github.com/mcu-dev/mcu/internal/mediatest"
	"github.com/mcu-dev/mcu/internal/peer"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/metrics"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/server"
	"github.com/mcu-dev/mcu/signaling"
	"github.com/mcu-dev/mcu/webhook"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// start runs a 360p15 server on a free loopback port; it closes with the test.
func start(t *testing.T, cfg server.Config) *server.Server {
	t.Helper()
	cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		cfg.Log = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	cfg.Rooms.Quality, cfg.Rooms.FPS, cfg.Rooms.IncludeLoopback = output.Q360, 15, true
	if cfg.Ops.Interval == 0 {
		cfg.Ops.Interval = 200 * time.Millisecond
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
	})
	return srv
}

func dial(t *testing.T, srv *server.Server, room, name string, c color.RGBA) *peer.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := peer.Dial(ctx, peer.Options{URL: srv.WebsocketURL(), Room: room, Name: name, Colour: &c, Tone: 440})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func eventually(t *testing.T, d time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, res.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value is the value of the series of family name carrying label=value
// (any series when label is "").
func value(fams map[string]*dto.MetricFamily, name, label, want string) (float64, bool) {
	for _, m := range fams[name].GetMetric() {
		ok := label == ""
		for _, l := range m.GetLabel() {
			ok = ok || l.GetName() == label && l.GetValue() == want
		}
		if !ok {
			continue
		}
		if m.Gauge != nil {
			return m.GetGauge().GetValue(), true
		}
		return m.GetCounter().GetValue(), true
	}
	return 0, false
}

// TestMetricsLiveRoom scrapes /metrics during a live room of two and parses
// it with Prometheus's own parser: the participant count, the achieved fps
// and the bytes in and out move; the room's series go when it closes.
func TestMetricsLiveRoom(t *testing.T) {
	srv := start(t, server.Config{Ops: server.Ops{Metrics: metrics.New()}})
	url := srv.URL() + "/metrics"
	a := dial(t, srv, "standup", "red", color.RGBA{255, 0, 0, 255})
	b := dial(t, srv, "standup", "blue", color.RGBA{0, 0, 255, 255})
	eventually(t, 10*time.Second, "frames at both receivers", func() error {
		if a.FramesReceived.Load() < 10 || b.FramesReceived.Load() < 10 {
			return fmt.Errorf("%d and %d frames", a.FramesReceived.Load(), b.FramesReceived.Load())
		}
		return nil
	})
	var first map[string]*dto.MetricFamily
	eventually(t, 5*time.Second, "fps sampled", func() error {
		first = scrape(t, url)
		if fps, _ := value(first, "mcu_room_output_fps", "room", "standup"); fps < 5 {
			return fmt.Errorf("mcu_room_output_fps{room=standup} = %v", fps)
		}
		return nil
	})
	time.Sleep(time.Second)
	second := scrape(t, url)
	if n, ok := value(second, "mcu_room_participants", "room", "standup"); !ok || n != 2 {
		t.Errorf("mcu_room_participants{room=standup} = %v (present %v), want 2", n, ok)
	}
	if n, _ := value(second, "mcu_participants", "", ""); n != 2 {
		t.Errorf("mcu_participants = %v, want 2", n)
	}
	if fps, _ := value(second, "mcu_room_output_fps", "room", "standup"); fps < 5 || fps > 16 {
		t.Errorf("mcu_room_output_fps = %v at 15 fps", fps)
	}
	for _, dir := range []string{"in", "out"} {
		before, _ := value(first, "mcu_bytes_total", "direction", dir)
		after, _ := value(second, "mcu_bytes_total", "direction", dir)
		if after <= before || before == 0 {
			t.Errorf("mcu_bytes_total{direction=%s} went from %v to %v in a second", dir, before, after)
		}
	}
	for _, name := range []string{"mcu_encode_seconds", "mcu_composite_seconds", "mcu_added_latency_seconds"} {
		if h := second[name].GetMetric(); len(h) != 1 || h[0].GetHistogram().GetSampleCount() == 0 {
			t.Errorf("%s has no samples", name)
		}
	}
	if n, _ := value(second, "mcu_rooms_created_total", "", ""); n != 1 {
		t.Errorf("mcu_rooms_created_total = %v", n)
	}
	a.Close()
	b.Close()
	eventually(t, 10*time.Second, "room series gone", func() error {
		fams := scrape(t, url)
		if _, ok := value(fams, "mcu_room_participants", "room", "standup"); ok {
			return fmt.Errorf("mcu_room_participants{room=standup} still exported")
		}
		if n, _ := value(fams, "mcu_rooms", "", ""); n != 0 {
			return fmt.Errorf("mcu_rooms = %v", n)
		}
		return nil
	})
}

var hookKeys = map[string]string{"APIhooks": "a-secret-of-at-least-32-characters"}

// hookReceiver verifies every webhook as LiveKit's receivers do and fails
// the first failFirst attempts with 503.
type hookReceiver struct {
	mu        sync.Mutex
	failFirst int
	attempts  int
	events    []webhook.Event
	bad       []error
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.attempts++
	e, _, err := webhook.Receive(r, func(k string) string { return hookKeys[k] })
	if err == nil && r.Header.Get("Content-Type") != "application/webhook+json" {
		err = fmt.Errorf("content type %q", r.Header.Get("Content-Type"))
	}
	if err != nil {
		h.bad = append(h.bad, err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if h.attempts <= h.failFirst {
		http.Error(w, "not yet", http.StatusServiceUnavailable)
		return
	}
	h.events = append(h.events, *e)
}

func (h *hookReceiver) snapshot() ([]webhook.Event, []error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]webhook.Event(nil), h.events...), append([]error(nil), h.bad...)
}

func names(events []webhook.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Event)
	}
	return out
}

func api(t *testing.T, method, url string, body any) (int, []byte) {
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
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// TestWebhookLifecycle: a room with one participant and one recording
// sends every event, verified, in order, to a receiver that fails twice
// before accepting; recording_finished carries file, size, duration and a
// download URL; the delivery counters say so.
func TestWebhookLifecycle(t *testing.T) {
	mediatest.Need(t, "ffprobe")
	rx := &hookReceiver{failFirst: 2}
	hooks := httptest.NewServer(rx)
	defer hooks.Close()
	m := metrics.New()
	dir := t.TempDir()
	srv := start(t, server.Config{RecordingsDir: dir, Ops: server.Ops{
		Metrics: m, PublicURL: "https://mcu.example.org",
		Webhook: webhook.Options{URLs: []string{hooks.URL}, APIKey: "APIhooks", APISecret: hookKeys["APIhooks"], Backoff: 20 * time.Millisecond},
	}})
	c := dial(t, srv, "lifecycle", "alice", color.RGBA{0, 255, 0, 255})
	eventually(t, 10*time.Second, "frames", func() error {
		if c.FramesReceived.Load() < 5 {
			return fmt.Errorf("%d frames", c.FramesReceived.Load())
		}
		return nil
	})
	code, body := api(t, http.MethodPost, srv.URL()+"/api/rooms/lifecycle/recordings", map[string]any{"name": "weekly"})
	if code != http.StatusCreated {
		t.Fatalf("start recording: %d %s", code, body)
	}
	var rec mcu.Recording
	_ = json.Unmarshal(body, &rec)
	time.Sleep(2 * time.Second)
	if code, body := api(t, http.MethodPost, srv.URL()+"/api/recordings/"+rec.ID+"/stop", nil); code != http.StatusOK {
		t.Fatalf("stop recording: %d %s", code, body)
	}
	c.Close()
	want := []string{webhook.RoomStarted, webhook.ParticipantJoined, webhook.RecordingStarted, webhook.RecordingFinished, webhook.ParticipantLeft, webhook.RoomFinished}
	var events []webhook.Event
	eventually(t, 15*time.Second, "every event delivered", func() error {
		var bad []error
		events, bad = rx.snapshot()
		if len(bad) > 0 {
			t.Fatalf("receiver rejected a webhook: %v", bad)
		}
		if len(events) < len(want) {
			return fmt.Errorf("received %v", names(events))
		}
		return nil
	})
	if got := names(events); !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	ids := map[string]bool{}
	for _, e := range events {
		if e.ID == "" || ids[e.ID] || e.CreatedAt < time.Now().Add(-time.Minute).Unix() {
			t.Errorf("event %s: id %q, created_at %d", e.Event, e.ID, e.CreatedAt)
		}
		ids[e.ID] = true
	}
	if r := events[0].Room; r == nil || r.Name != "lifecycle" || !strings.HasPrefix(r.SID, "RM_") || events[5].Room == nil || events[5].Room.SID != r.SID {
		t.Errorf("room objects: %+v / %+v", events[0].Room, events[5].Room)
	}
	if p := events[1].Participant; p == nil || p.Name != "alice" || p.State != webhook.StateActive || events[1].Room.NumParticipants != 1 {
		t.Errorf("participant_joined: %+v %+v", p, events[1].Room)
	}
	if p := events[4].Participant; p == nil || p.SID != events[1].Participant.SID || p.State != webhook.StateDisconnected {
		t.Errorf("participant_left: %+v", p)
	}
	fin := events[3].Recording
	if fin == nil || fin.ID != rec.ID || fin.State != mcu.StateFinished || fin.File != rec.File || fin.Duration < 1 ||
		fin.DownloadURL != "https://mcu.example.org/api/recordings/"+rec.ID+"/download" {
		t.Fatalf("recording_finished: %+v", fin)
	}
	if st, err := os.Stat(filepath.Join(dir, fin.File)); err != nil || st.Size() != fin.Size || fin.Size == 0 {
		t.Errorf("file size %v (%v), webhook says %d", st, err, fin.Size)
	}
	fams := scrape(t, srv.URL()+"/metrics")
	if n, _ := value(fams, "mcu_webhook_deliveries_total", "", ""); n != 6 {
		t.Errorf("mcu_webhook_deliveries_total = %v, want 6", n)
	}
	if n, _ := value(fams, "mcu_webhook_failures_total", "", ""); n != 0 {
		t.Errorf("mcu_webhook_failures_total = %v, want 0", n)
	}
	if n, _ := value(fams, "mcu_recording_bytes_written_total", "", ""); n != float64(fin.Size) {
		t.Errorf("mcu_recording_bytes_written_total = %v, file is %d bytes", n, fin.Size)
	}
	if n, _ := value(fams, "mcu_recordings_started_total", "", ""); n != 1 {
		t.Errorf("mcu_recordings_started_total = %v", n)
	}
	if n, _ := value(fams, "mcu_recordings_active", "", ""); n != 0 {
		t.Errorf("mcu_recordings_active = %v", n)
	}
}

func readyz(t *testing.T, srv *server.Server) (int, string) {
	t.Helper()
	res, err := http.Get(srv.URL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestDrainFinalizesRecording: draining fails /readyz, refuses joins and
// recordings with a clear error, tells participants, and finalizes the
// running recording into a playable file before the rooms close.
func TestDrainFinalizesRecording(t *testing.T) {
	mediatest.Need(t, "ffprobe")
	dir := t.TempDir()
	srv := start(t, server.Config{RecordingsDir: dir, Ops: server.Ops{Metrics: metrics.New()}})
	if code, body := readyz(t, srv); code != http.StatusOK {
		t.Fatalf("readyz before drain: %d %s", code, body)
	}
	c := dial(t, srv, "drain", "bob", color.RGBA{255, 255, 0, 255})
	rec, err := srv.Recorder.Start("drain", mcu.RecordingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	drained := make(chan error, 1)
	go func() { drained <- srv.Drain(ctx) }()
	eventually(t, 5*time.Second, "recording finalized", func() error {
		got, err := srv.Recorder.Get(rec.ID)
		if err != nil || got.State != mcu.StateFinished {
			return fmt.Errorf("%+v %v", got, err)
		}
		return nil
	})
	if code, body := readyz(t, srv); code != http.StatusServiceUnavailable || !strings.Contains(body, "draining") {
		t.Errorf("readyz while draining: %d %s", code, body)
	}
	eventually(t, 3*time.Second, "participant told", func() error {
		for _, e := range c.Events() {
			if e.Type == signaling.TypeError && e.Code == signaling.CodeShuttingDown {
				return nil
			}
		}
		return fmt.Errorf("events %v", c.Events())
	})
	jctx, jcancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer jcancel()
	if p, err := peer.Dial(jctx, peer.Options{URL: srv.WebsocketURL(), Room: "drain", Name: "late"}); err == nil || !strings.Contains(err.Error(), "shutting_down") {
		if p != nil {
			p.Close()
		}
		t.Errorf("join while draining: %v", err)
	}
	if code, body := api(t, http.MethodPost, srv.URL()+"/api/rooms/drain/recordings", nil); code != http.StatusServiceUnavailable || !strings.Contains(string(body), "shutting down") {
		t.Errorf("recording while draining: %d %s", code, body)
	}
	// Bob stays: Drain gives up at its deadline and Close follows.
	if err := <-drained; err == nil {
		t.Error("Drain returned nil with a participant still in the room")
	}
	got, _ := srv.Recorder.Get(rec.ID)
	p := mediatest.ProbeFile(t, filepath.Join(dir, got.File), true)
	if v := p.Video(); v == nil || v.NbFrames == "" || v.NbFrames == "0" || p.Audio() == nil {
		t.Errorf("drained recording: %+v", p.Streams)
	}
}

// TestDiskGuard runs recordings on a small tmpfs. Below the guard's
// threshold a recording is refused with 507 and a running one stops as
// failed with a disk-full error, its file finalized and playable, while the
// call and another room go on. With the guard off, a write that hits ENOSPC
// stops the recording the same way.
func TestDiskGuard(t *testing.T) {
	mediatest.Need(t, "ffprobe")
	t.Run("threshold", func(t *testing.T) {
		dir := disktest.MountTmpfs(t, 16<<20)
		m := metrics.New()
		srv := start(t, server.Config{RecordingsDir: dir, Ops: server.Ops{Metrics: m, MinFree: 8 << 20}})
		c := dial(t, srv, "guarded", "carol", color.RGBA{255, 0, 255, 255})
		other := dial(t, srv, "elsewhere", "dave", color.RGBA{0, 255, 255, 255})
		rec, err := srv.Recorder.Start("guarded", mcu.RecordingOptions{})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		fill(t, dir, 16<<20-6<<20) // leaves about 6 MiB: below the 8 MiB minimum
		eventually(t, 5*time.Second, "recording stopped by the guard", func() error {
			got, _ := srv.Recorder.Get(rec.ID)
			if got.State != mcu.StateFailed {
				return fmt.Errorf("state %s", got.State)
			}
			if !strings.Contains(got.Error, "disk full") || !strings.Contains(got.Error, "below the 8.0 MiB minimum") {
				t.Errorf("error %q", got.Error)
			}
			return nil
		})
		got, _ := srv.Recorder.Get(rec.ID)
		p := mediatest.ProbeFile(t, filepath.Join(dir, got.File), true)
		if v := p.Video(); v == nil || v.NbFrames == "" || v.NbFrames == "0" {
			t.Errorf("stopped recording is not playable: %+v", p.Streams)
		}
		code, body := api(t, http.MethodPost, srv.URL()+"/api/rooms/guarded/recordings", nil)
		if code != http.StatusInsufficientStorage || !strings.Contains(string(body), "disk full") {
			t.Errorf("recording on a full disk: %d %s", code, body)
		}
		if code, body := readyz(t, srv); code != http.StatusServiceUnavailable || !strings.Contains(body, "disk full") {
			t.Errorf("readyz on a full disk: %d %s", code, body)
		}
		fams := scrape(t, srv.URL()+"/metrics")
		if n, _ := value(fams, "mcu_recordings_failed_total", "", ""); n != 1 {
			t.Errorf("mcu_recordings_failed_total = %v", n)
		}
		// The call and the other room go on.
		before, otherBefore := c.FramesReceived.Load(), other.FramesReceived.Load()
		eventually(t, 5*time.Second, "calls continue", func() error {
			if c.FramesReceived.Load() < before+10 || other.FramesReceived.Load() < otherBefore+10 {
				return fmt.Errorf("frames %d→%d and %d→%d", before, c.FramesReceived.Load(), otherBefore, other.FramesReceived.Load())
			}
			return nil
		})
	})
	t.Run("ENOSPC", func(t *testing.T) {
		dir := disktest.MountTmpfs(t, 8<<20)
		srv := start(t, server.Config{RecordingsDir: dir})
		c := dial(t, srv, "nospace", "erin", color.RGBA{255, 128, 0, 255})
		fill(t, dir, 8<<20-96<<10) // about 96 KiB left
		rec, err := srv.Recorder.Start("nospace", mcu.RecordingOptions{Format: "mp4"})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, "recording stopped on ENOSPC", func() error {
			got, _ := srv.Recorder.Get(rec.ID)
			if got.State != mcu.StateFailed {
				return fmt.Errorf("state %s, %d bytes", got.State, got.SizeBytes)
			}
			if !strings.Contains(got.Error, "disk full") || !strings.Contains(strings.ToLower(got.Error), "no space left on device") {
				t.Errorf("error %q", got.Error)
			}
			return nil
		})
		got, _ := srv.Recorder.Get(rec.ID)
		p := mediatest.ProbeFile(t, filepath.Join(dir, got.File), true)
		if v := p.Video(); v == nil || v.NbFrames == "" || v.NbFrames == "0" {
			t.Errorf("recording cut by ENOSPC is not playable: %+v", p.Streams)
		}
		before := c.FramesReceived.Load()
		eventually(t, 5*time.Second, "call continues", func() error {
			if c.FramesReceived.Load() < before+10 {
				return fmt.Errorf("frames %d→%d", before, c.FramesReceived.Load())
			}
			return nil
		})
	})
}

// fill writes a file of n bytes into dir.
func fill(t *testing.T, dir string, n int64) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
}

// TestLimits: beyond limits.max_rooms a join in a new room is refused with
// server_full; beyond limits.max_recordings a recording gets 503.
func TestLimits(t *testing.T) {
	srv := start(t, server.Config{RecordingsDir: t.TempDir(), Ops: server.Ops{MaxRooms: 1, MaxRecordings: 1}})
	dial(t, srv, "only", "frank", color.RGBA{10, 200, 10, 255})
	dial(t, srv, "only", "grace", color.RGBA{10, 10, 200, 255}) // same room: fine
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p, err := peer.Dial(ctx, peer.Options{URL: srv.WebsocketURL(), Room: "second", Name: "heidi"})
	if err == nil {
		p.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "server_full") || !strings.Contains(err.Error(), "maximum of 1 rooms") {
		t.Errorf("join in a second room: %v", err)
	}
	if code, body := api(t, http.MethodPost, srv.URL()+"/api/rooms/only/recordings", nil); code != http.StatusCreated {
		t.Fatalf("first recording: %d %s", code, body)
	}
	if code, body := api(t, http.MethodPost, srv.URL()+"/api/rooms/only/recordings", map[string]any{"format": "mp4"}); code != http.StatusServiceUnavailable || !strings.Contains(string(body), "limits.max_recordings") {
		t.Errorf("second recording: %d %s", code, body)
	}
}

// TestRetention: a finished recording older than retention_days is deleted
// (file and metadata) when the server starts; a recent one stays.
func TestRetention(t *testing.T) {
	dir := t.TempDir()
	for _, r := range []struct {
		id  string
		age time.Duration
	}{{"0dd0000000000001", 40 * 24 * time.Hour}, {"0e00000000000001", 2 * 24 * time.Hour}} {
		ended := time.Now().Add(-r.age)
		rec := mcu.Recording{ID: r.id, Room: "r", Name: r.id, Format: "webm", State: mcu.StateFinished, StartedAt: ended.Add(-time.Minute), EndedAt: &ended, File: r.id + ".webm"}
		b, _ := json.Marshal(rec)
		for name, data := range map[string][]byte{r.id + ".json": b, r.id + ".webm": []byte("x")} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	srv := start(t, server.Config{RecordingsDir: dir, Ops: server.Ops{RetentionDays: 30}})
	eventually(t, 5*time.Second, "old recording deleted", func() error {
		if _, err := os.Stat(filepath.Join(dir, "0dd0000000000001.webm")); !os.IsNotExist(err) {
			return fmt.Errorf("old file: %v", err)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(dir, "0dd0000000000001.json")); !os.IsNotExist(err) {
		t.Errorf("old metadata: %v", err)
	}
	if _, err := srv.Recorder.Get("0e00000000000001"); err != nil {
		t.Errorf("recent recording: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "0e00000000000001.webm")); err != nil {
		t.Errorf("recent file: %v", err)
	}
}
