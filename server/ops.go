package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mcu-dev/mcu/disk"
	"github.com/mcu-dev/mcu/health"
	"github.com/mcu-dev/mcu/mcu"
	"github.com/mcu-dev/mcu/metrics"
	"github.com/mcu-dev/mcu/signaling"
	"github.com/mcu-dev/mcu/webhook"
)

// Ops is how the server is run in production: metrics, webhooks, health,
// the disk guard, retention and limits. The zero value turns all of it off
// except /healthz and /readyz.
type Ops struct {
	// Metrics, when set, is updated by the rooms and recordings and served
	// on /metrics.
	Metrics *metrics.Metrics
	// MetricsAddr serves /metrics on a listener of its own; empty: on the
	// main handler.
	MetricsAddr string
	// MetricsAuth wraps /metrics on the main handler (e.g. a token check).
	MetricsAuth func(http.Handler) http.Handler
	// Webhook sends LiveKit-format events; no URLs, no webhooks.
	Webhook webhook.Options
	// MinFree is the disk guard's threshold in bytes under RecordingsDir;
	// 0 turns the guard off.
	MinFree uint64
	// RetentionDays deletes finished recordings older than this; 0 keeps
	// them.
	RetentionDays int
	// MaxRooms caps the open rooms (0: the rooms registry's default, 100);
	// MaxRecordings the running recordings (0: no limit).
	MaxRooms, MaxRecordings int
	// PublicURL is the server's base URL as clients reach it, for download
	// URLs in webhooks; empty: http://<listen address>.
	PublicURL string
	// Interval between metrics samples and disk checks (default 1 s).
	Interval time.Duration
}

// ops runs Ops beside the rooms. It observes rooms, participants and
// recordings through hooks that only record and queue: nothing it does runs
// on a media loop.
type ops struct {
	cfg      Ops
	log      *slog.Logger
	metrics  *metrics.Metrics
	notifier *webhook.Notifier
	health   *health.Health
	guard    *disk.Guard
	recDir   string
	rooms    *mcu.Rooms
	recorder *mcu.Recorder
	srv      *Server

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	roomSIDs   map[*mcu.Room]string
	roomSample map[*mcu.Room]roomSample
	parts      map[*mcu.Participant]mcu.ParticipantCounters
	recs       map[string]*recState
	metricsSrv *http.Server
}

type roomSample struct {
	at        time.Time
	frames    int64
	receivers int
}

type recState struct {
	handle  *metrics.Recording
	written int64
}

func newOps(cfg Ops, recordingsDir string, log *slog.Logger) *ops {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	o := &ops{
		cfg: cfg, log: log.With("component", "ops"), metrics: cfg.Metrics, recDir: recordingsDir,
		roomSIDs: map[*mcu.Room]string{}, roomSample: map[*mcu.Room]roomSample{},
		parts: map[*mcu.Participant]mcu.ParticipantCounters{}, recs: map[string]*recState{},
	}
	o.ctx, o.cancel = context.WithCancel(context.Background())
	if recordingsDir != "" && cfg.MinFree > 0 {
		o.guard = &disk.Guard{Dir: recordingsDir, MinFree: cfg.MinFree}
	}
	o.health = health.New(health.Options{RecordingsDir: recordingsDir, Guard: o.guard, Metrics: cfg.Metrics})
	return o
}

// configure hooks the rooms to be created to the metrics and to o.
func (o *ops) configure(rc *mcu.Config) {
	rc.Metrics = o.metrics
	rc.Observer = o
	if o.cfg.MaxRooms > 0 {
		rc.MaxRooms = o.cfg.MaxRooms // the rooms registry enforces it
	}
}

// attach starts observing the server's rooms and recorder.
func (o *ops) attach(s *Server) {
	o.srv, o.rooms, o.recorder = s, s.Rooms, s.Recorder
	if w := o.cfg.Webhook; len(w.URLs) > 0 {
		if w.Counters == nil && o.metrics != nil {
			w.Counters = o.metrics
		}
		if w.Log == nil {
			w.Log = o.log
		}
		o.notifier = webhook.New(w)
	}
	s.Rooms.OnRoom(o.roomOpened)
	if o.recorder != nil {
		o.recorder.SetHooks(mcu.RecorderHooks{Admit: o.admitRecording, Changed: o.recordingChanged})
		if o.cfg.RetentionDays > 0 {
			o.wg.Add(1)
			go func() {
				defer o.wg.Done()
				maxAge := time.Duration(o.cfg.RetentionDays) * 24 * time.Hour
				disk.RunRetention(o.ctx, recorderStore{o.recorder}, maxAge, time.Hour, func(deleted []string, err error) {
					if len(deleted) > 0 {
						o.log.Info("retention: deleted old recordings", "ids", deleted, "older_than_days", o.cfg.RetentionDays)
					}
					if err != nil {
						o.log.Warn("retention", "err", err)
					}
				})
			}()
		}
	}
	o.wg.Add(1)
	go o.loop()
}

// handler adds /healthz, /readyz and (unless it has its own listener)
// /metrics in front of h.
func (o *ops) handler(h http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", o.health.Healthz())
	mux.Handle("GET /readyz", o.health.Readyz())
	if o.metrics != nil && o.cfg.MetricsAddr == "" {
		mh := o.metrics.Handler()
		if o.cfg.MetricsAuth != nil {
			mh = o.cfg.MetricsAuth(mh)
		}
		mux.Handle("GET /metrics", mh)
	}
	mux.Handle("/", h)
	return mux
}

// serveMetrics starts the separate metrics listener, if configured.
func (o *ops) serveMetrics() error {
	if o.metrics == nil || o.cfg.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", o.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("server: metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", o.metrics.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	o.mu.Lock()
	o.metricsSrv = srv
	o.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	o.log.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return nil
}

// backend refuses joins while draining.
func (o *ops) backend(rooms *mcu.Rooms) signaling.Backend { return admitBackend{o: o, rooms: rooms} }

type admitBackend struct {
	o     *ops
	rooms *mcu.Rooms
}

func (b admitBackend) Join(room, name string, opts signaling.JoinOptions, out signaling.Sender) (signaling.Session, error) {
	if b.o.health.Draining() {
		return nil, &signaling.Error{Code: signaling.CodeShuttingDown, Message: health.ErrDraining.Error()}
	}
	return b.rooms.Join(room, name, opts, out)
}

func (o *ops) admitRecording() error {
	if o.health.Draining() {
		return health.ErrDraining
	}
	if err := o.guard.Check(); err != nil {
		return fmt.Errorf("recording refused: %w", err)
	}
	if max := o.cfg.MaxRecordings; max > 0 && len(o.recorder.Running()) >= max {
		return mcu.ErrTooManyRecordings
	}
	return nil
}

func newSID(prefix string) string { return prefix + rand.Text()[:12] }

// roomOpened runs under the rooms' lock: it only records and queues.
func (o *ops) roomOpened(r *mcu.Room) {
	sid := newSID("RM_")
	o.mu.Lock()
	o.roomSIDs[r] = sid
	o.mu.Unlock()
	e := webhook.NewEvent(webhook.RoomStarted)
	e.Room = o.roomInfo(r, sid, 0)
	o.notifier.Notify(e)
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		<-r.Done()
		o.roomClosed(r)
	}()
}

func (o *ops) roomClosed(r *mcu.Room) {
	o.mu.Lock()
	sid := o.roomSIDs[r]
	delete(o.roomSIDs, r)
	delete(o.roomSample, r)
	o.mu.Unlock()
	e := webhook.NewEvent(webhook.RoomFinished)
	e.Room = o.roomInfo(r, sid, 0)
	o.notifier.Notify(e)
}

func (o *ops) roomInfo(r *mcu.Room, sid string, n int) *webhook.Room {
	return &webhook.Room{SID: sid, Name: r.Name(), CreationTime: r.CreatedAt().Unix(), NumParticipants: uint32(n), MaxParticipants: uint32(o.rooms.MaxParticipants())}
}

func (o *ops) participantInfo(r *mcu.Room, p *mcu.Participant, state string) *webhook.Participant {
	o.mu.Lock()
	sid := o.roomSIDs[r]
	o.mu.Unlock()
	return &webhook.Participant{SID: "PA_" + strings.TrimPrefix(sid, "RM_") + "_" + p.ID(), Identity: p.Name(), Name: p.Name(), State: state, JoinedAt: p.JoinedAt().Unix()}
}

// ParticipantJoined implements mcu.Observer.
func (o *ops) ParticipantJoined(r *mcu.Room, p *mcu.Participant) {
	o.mu.Lock()
	o.parts[p] = p.Counters()
	sid := o.roomSIDs[r]
	o.mu.Unlock()
	e := webhook.NewEvent(webhook.ParticipantJoined)
	e.Room = o.roomInfo(r, sid, len(r.Participants()))
	e.Participant = o.participantInfo(r, p, webhook.StateActive)
	o.notifier.Notify(e)
}

// ParticipantLeft implements mcu.Observer.
func (o *ops) ParticipantLeft(r *mcu.Room, p *mcu.Participant) {
	o.sampleParticipant(r, p)
	o.mu.Lock()
	delete(o.parts, p)
	sid := o.roomSIDs[r]
	o.mu.Unlock()
	e := webhook.NewEvent(webhook.ParticipantLeft)
	e.Room = o.roomInfo(r, sid, len(r.Participants()))
	e.Participant = o.participantInfo(r, p, webhook.StateDisconnected)
	o.notifier.Notify(e)
}

// sampleParticipant adds what p counted since the last sample.
func (o *ops) sampleParticipant(r *mcu.Room, p *mcu.Participant) {
	c := p.Counters()
	o.mu.Lock()
	prev, ok := o.parts[p]
	if ok {
		o.parts[p] = c
	}
	o.mu.Unlock()
	if !ok {
		return
	}
	r.Metrics().PacketsLost(int(c.PacketsLost - prev.PacketsLost))
	r.Metrics().DecodeErrors(int(c.DecodeErrors - prev.DecodeErrors))
}

func (o *ops) recordingChanged(rec mcu.Recording) {
	o.mu.Lock()
	st := o.recs[rec.ID]
	if st == nil {
		st = &recState{handle: o.metrics.StartRecording()}
		o.recs[rec.ID] = st
	}
	var grew int64
	if rec.State != mcu.StateRecording {
		grew = rec.SizeBytes - st.written
		delete(o.recs, rec.ID)
	}
	o.mu.Unlock()
	e := webhook.Event{Recording: o.recordingInfo(rec)}
	switch rec.State {
	case mcu.StateRecording:
		e.Event = webhook.RecordingStarted
	case mcu.StateFinished:
		e.Event = webhook.RecordingFinished
		st.handle.Written(int(grew))
		st.handle.End(false)
	default:
		e.Event = webhook.RecordingFailed
		st.handle.Written(int(grew))
		st.handle.End(true)
	}
	o.notifier.Notify(e)
}

func (o *ops) recordingInfo(rec mcu.Recording) *webhook.Recording {
	w := &webhook.Recording{
		ID: rec.ID, Room: rec.Room, State: rec.State, File: rec.File, Format: string(rec.Format),
		Size: rec.SizeBytes, Duration: rec.DurationS, Error: rec.Error, StartedAt: rec.StartedAt.Unix(),
	}
	if rec.EndedAt != nil {
		w.EndedAt = rec.EndedAt.Unix()
	}
	if rec.State == mcu.StateFinished && rec.DownloadURL != "" {
		w.DownloadURL = rec.DownloadURL
		if strings.HasPrefix(rec.DownloadURL, "/") {
			w.DownloadURL = o.baseURL() + rec.DownloadURL
		}
	}
	return w
}

func (o *ops) baseURL() string {
	if o.cfg.PublicURL != "" {
		return strings.TrimSuffix(o.cfg.PublicURL, "/")
	}
	if o.srv != nil && o.srv.ln != nil {
		return o.srv.URL()
	}
	return ""
}

// loop samples metrics and checks the disk every Interval.
func (o *ops) loop() {
	defer o.wg.Done()
	t := time.NewTicker(o.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-o.ctx.Done():
			return
		case <-t.C:
			// The time the counters are read, not the tick's: on a busy
			// machine this goroutine runs late, and the rate must not.
			o.sample(time.Now())
			o.checkDisk()
		}
	}
}

func (o *ops) sample(now time.Time) {
	for _, r := range o.rooms.List() {
		c := r.Counters()
		o.mu.Lock()
		prev, ok := o.roomSample[r]
		o.roomSample[r] = roomSample{at: now, frames: c.FramesOut, receivers: c.Receivers}
		o.mu.Unlock()
		if ok {
			dt := now.Sub(prev.at).Seconds()
			frames := float64(c.FramesOut - prev.frames)
			r.Metrics().SetOutputFPS(frames / dt)
			// Frames are only made while someone receives them; a tick the
			// clock missed while they did is a dropped frame.
			if prev.receivers > 0 && c.Receivers > 0 {
				r.Metrics().FramesDropped(int(dt*float64(r.Settings().FPS) - frames - 0.5))
			}
		}
		for _, p := range r.Participants() {
			o.sampleParticipant(r, p)
		}
	}
	if o.recorder == nil {
		return
	}
	for _, rec := range o.recorder.Running() {
		o.mu.Lock()
		st := o.recs[rec.ID]
		var grew int64
		if st != nil {
			grew, st.written = rec.SizeBytes-st.written, max(st.written, rec.SizeBytes)
		}
		o.mu.Unlock()
		if st != nil && grew > 0 {
			st.handle.Written(int(grew))
		}
	}
}

// checkDisk stops recordings when the disk guard trips or a write ran out
// of space; the rooms and their calls go on.
func (o *ops) checkDisk() {
	if o.recorder == nil {
		return
	}
	if o.guard != nil {
		if free, err := disk.Free(o.recDir); err == nil {
			o.metrics.SetDiskFree(free)
		}
		if err := o.guard.Check(); disk.IsFull(err) {
			if ids := o.recorder.Fail(nil, func(error) error { return fmt.Errorf("recording stopped: %w", err) }); len(ids) > 0 {
				o.log.Error("disk guard: recordings stopped", "ids", ids, "err", err)
			}
		}
	}
	if ids := o.recorder.Fail(disk.IsFull, func(werr error) error {
		return fmt.Errorf("recording stopped: %w: %v", disk.ErrFull, werr)
	}); len(ids) > 0 {
		o.log.Error("disk full: recordings stopped", "ids", ids)
	}
}

// drain makes the server refuse new work and tells every participant.
func (o *ops) drain() {
	if o.health.Draining() {
		return
	}
	o.health.Drain()
	for _, r := range o.rooms.List() {
		r.Broadcast(signaling.Message{Type: signaling.TypeError, Code: signaling.CodeShuttingDown, Message: health.ErrDraining.Error()})
	}
}

// close stops sampling and delivers the queued webhooks until ctx ends.
func (o *ops) close(ctx context.Context) error {
	var errs []error
	o.mu.Lock()
	msrv := o.metricsSrv
	o.mu.Unlock()
	if msrv != nil {
		if err := msrv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("server: metrics listener: %w", err))
		}
	}
	// The rooms are closed: their watchers end, room_finished is queued.
	o.cancel()
	done := make(chan struct{})
	go func() { o.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("server: rooms still closing: %w", ctx.Err()))
	}
	if err := o.notifier.Close(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// recorderStore lets the retention sweep list and delete recordings.
type recorderStore struct{ rc *mcu.Recorder }

func (s recorderStore) Finished() ([]disk.Finished, error) {
	var out []disk.Finished
	for _, r := range s.rc.List() {
		if r.State != mcu.StateRecording && r.EndedAt != nil {
			out = append(out, disk.Finished{ID: r.ID, EndedAt: *r.EndedAt})
		}
	}
	return out, nil
}

func (s recorderStore) Delete(id string) error { return s.rc.Delete(id) }

// Drain prepares an exit: /readyz fails, joins and new recordings are
// refused, participants are told, and every running recording is
// finalized. It returns when the rooms are empty or ctx ends; Close follows
// either way.
func (s *Server) Drain(ctx context.Context) error {
	s.ops.drain()
	s.log.Info("draining", "rooms", len(s.Rooms.List()))
	if s.Recorder != nil {
		s.Recorder.Close()
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for len(s.Rooms.List()) > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("server: drain: rooms still open: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Health returns the server's readiness state.
func (s *Server) Health() *health.Health { return s.ops.health }
