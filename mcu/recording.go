package mcu

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mcu-dev/mcu/mixer"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/signaling"
	"github.com/mcu-dev/mcu/transcode"
)

// Recording states.
const (
	StateRecording = "recording"
	StateFinished  = "finished"
	StateFailed    = "failed"
)

var (
	// ErrRecordingNotFound is returned for an unknown recording id.
	ErrRecordingNotFound = errors.New("mcu: recording not found")
	// ErrBadRecording is wrapped by errors in recording options.
	ErrBadRecording = errors.New("mcu: bad recording options")
)

// RecordingOptions are what an operator asks for; zero values take the
// defaults: WebM, the room's quality and fps, audio and video.
type RecordingOptions struct {
	Format    string `json:"format"`
	Quality   string `json:"quality"`
	FPS       int    `json:"fps"`
	AudioOnly bool   `json:"audio_only"`
	Name      string `json:"name"`
	// Layout is the recording's own layout; "" follows the room's live
	// layout. Pinned is the participant shown large in it (a layout of
	// speaker when Layout is "").
	Layout string `json:"layout"`
	Pinned string `json:"pinned"`
	// Include or Exclude (not both) list identities (participant id or
	// display name): only the included, or everyone but the excluded,
	// have a tile and a voice in the file.
	Include []string `json:"include"`
	Exclude []string `json:"exclude"`
}

// Recording describes one recording file and its state.
type Recording struct {
	ID          string         `json:"id"`
	Room        string         `json:"room"`
	Name        string         `json:"name"`
	Format      output.Format  `json:"format"`
	Quality     output.Quality `json:"quality"`
	FPS         int            `json:"fps"`
	AudioOnly   bool           `json:"audio_only"`
	Layout      string         `json:"layout,omitempty"`
	Pinned      string         `json:"pinned,omitempty"`
	Include     []string       `json:"include,omitempty"`
	Exclude     []string       `json:"exclude,omitempty"`
	State       string         `json:"state"`
	StartedAt   time.Time      `json:"started_at"`
	EndedAt     *time.Time     `json:"ended_at"`
	DurationS   float64        `json:"duration_s"`
	SizeBytes   int64          `json:"size_bytes"`
	DownloadURL string         `json:"download_url"`
	// TimelineURL is the WebVTT file of who spoke when, written when the
	// recording ends; the JSON form is at the same address with .json.
	TimelineURL string `json:"timeline_url"`
	// Error says why a recording failed, or notes a recovery.
	Error string `json:"error,omitempty"`
	// File is the file name inside the recordings directory.
	File string `json:"file"`
}

// FileName is the name a download is offered under.
func (r Recording) FileName() string {
	return safeName(r.Name) + filepath.Ext(r.File)
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func safeName(s string) string {
	s = strings.Trim(unsafeChars.ReplaceAllString(s, "_"), "._")
	if s == "" {
		return "recording"
	}
	return s
}

// Recorder records rooms into files in one directory and keeps their
// metadata there (one JSON file per recording) so the list survives restarts.
// Recordings of one room with equal settings share one compositor and one
// set of encoders; the live output keeps its own error-resilient encoder.
type Recorder struct {
	dir     string
	rooms   *Rooms
	threads int
	log     *slog.Logger

	hooks RecorderHooks // set once by SetHooks before use

	mu     sync.Mutex
	recs   map[string]*Recording
	groups map[groupKey]*recGroup
	dirty  map[string]bool // recordings whose metadata could not be saved
	closed bool
	wg     sync.WaitGroup
	quit   chan struct{}
}

// idPattern is what newID makes; a metadata file names its recording by it.
var idPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

// failedSuffix marks metadata whose recording failed when the failure could
// not be saved (a full disk): renaming needs no free space, so the failure
// survives a restart even then.
const failedSuffix = ".failed"

// fileName is where recording id's media is: derived from the id, never
// read from a metadata file, so a hand-edited file cannot point elsewhere.
func fileName(id string, f output.Format, audioOnly bool) string {
	ext := string(f)
	if audioOnly {
		ext = f.AudioOnlyExt()
	}
	return id + "." + ext
}

// NewRecorder opens dir (creating it) and loads the recordings listed there.
// Recordings that were still running when the server stopped are kept: the
// files are written to stay playable, so they are marked finished with the
// duration found in the file.
func NewRecorder(dir string, rooms *Rooms, log *slog.Logger) (*Recorder, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("mcu: recordings directory: %w", err)
	}
	rc := &Recorder{
		dir: dir, rooms: rooms, threads: rooms.cfg.EncoderThreads, log: log.With("component", "recorder"),
		recs: map[string]*Recording{}, groups: map[groupKey]*recGroup{}, dirty: map[string]bool{}, quit: make(chan struct{}),
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("mcu: recordings directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".json.tmp") {
			_ = os.Remove(filepath.Join(dir, name)) // a save that never finished
			continue
		}
		failed := strings.HasSuffix(name, ".json"+failedSuffix)
		id, ok := strings.CutSuffix(strings.TrimSuffix(name, failedSuffix), ".json")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		r, err := rc.load(filepath.Join(dir, name), id)
		if err != nil {
			rc.log.Warn("skipping recording metadata", "file", name, "err", err)
			continue
		}
		switch {
		case failed && r.State != StateFailed:
			r.State = StateFailed
			r.Error = "failed before the server restarted; the reason could not be saved"
			rc.markDirty(r)
		case r.State == StateRecording:
			rc.recover(r)
			rc.markDirty(r)
		}
		if old := rc.recs[id]; old == nil || old.State != StateFailed {
			rc.recs[id] = r
		}
	}
	rc.saveDirtyLocked()
	rc.wg.Add(1)
	go rc.retrySaves()
	return rc, nil
}

// load reads one metadata file and checks it names recording id.
func (rc *Recorder) load(path, id string) (*Recording, error) {
	if !idPattern.MatchString(id) {
		return nil, fmt.Errorf("not a recording id: %q", id)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Recording
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	if r.ID != id {
		return nil, fmt.Errorf("metadata names recording %q", r.ID)
	}
	if r.Format, err = output.ParseFormat(string(r.Format)); err != nil {
		return nil, err
	}
	r.File = fileName(id, r.Format, r.AudioOnly)
	r.DownloadURL = "/api/recordings/" + id + "/download"
	r.TimelineURL = "/api/recordings/" + id + "/timeline.vtt"
	return &r, nil
}

// retrySaves saves metadata that could not be saved, every few seconds,
// until the recorder closes.
func (rc *Recorder) retrySaves() {
	defer rc.wg.Done()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-rc.quit:
			return
		case <-t.C:
			rc.mu.Lock()
			rc.saveDirtyLocked()
			rc.mu.Unlock()
		}
	}
}

func (rc *Recorder) markDirty(r *Recording) { rc.dirty[r.ID] = true }

func (rc *Recorder) saveDirtyLocked() {
	for id := range rc.dirty {
		if r := rc.recs[id]; r == nil || rc.save(r) == nil {
			delete(rc.dirty, id)
		}
	}
}

func (rc *Recorder) recover(r *Recording) {
	path := filepath.Join(rc.dir, r.File)
	st, err := os.Stat(path)
	end := time.Now()
	r.EndedAt = &end
	if err != nil {
		r.State, r.Error = StateFailed, "server stopped during recording and the file is missing"
		return
	}
	r.SizeBytes = st.Size()
	d, err := transcode.ProbeDuration(path)
	if err != nil || d <= 0 {
		r.State, r.Error = StateFailed, "server stopped during recording; file unreadable"
		return
	}
	r.State, r.DurationS = StateFinished, d
	r.Error = "recovered after the server stopped during recording"
	e := r.StartedAt.Add(time.Duration(d * float64(time.Second)))
	r.EndedAt = &e
}

// save writes r's metadata through a temporary file. When that fails the
// recording is saved again later; a failed recording's existing metadata is
// renamed with failedSuffix meanwhile, so that a restart cannot mistake it
// for a recording that was cut off and recover it as finished.
func (rc *Recorder) save(r *Recording) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(rc.dir, r.ID+".json")
	tmp := path + ".tmp"
	err = os.WriteFile(tmp, b, 0o644)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		_ = os.Remove(path + failedSuffix)
		return nil
	}
	_ = os.Remove(tmp)
	rc.dirty[r.ID] = true
	if r.State == StateFailed {
		if rerr := os.Rename(path, path+failedSuffix); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			rc.log.Error("marking recording metadata failed", "id", r.ID, "err", rerr)
		}
	}
	rc.log.Error("saving recording metadata; will retry", "id", r.ID, "err", err)
	return err
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Start begins recording the open room called room.
func (rc *Recorder) Start(room string, o RecordingOptions) (Recording, error) {
	if err := rc.admit(); err != nil {
		return Recording{}, err
	}
	r, err := rc.rooms.Room(room)
	if err != nil {
		return Recording{}, err
	}
	rs := r.Settings()
	rec := Recording{ID: newID(), Room: room, Name: strings.TrimSpace(o.Name), Format: output.DefaultFormat, Quality: rs.Quality, FPS: rs.FPS, AudioOnly: o.AudioOnly, State: StateRecording, StartedAt: time.Now()}
	if o.Format != "" {
		if rec.Format, err = output.ParseFormat(o.Format); err != nil {
			return Recording{}, fmt.Errorf(`%w: "format": %w`, ErrBadRecording, err)
		}
	}
	if o.Quality != "" {
		if rec.Quality, err = output.ParseQuality(o.Quality); err != nil {
			return Recording{}, fmt.Errorf(`%w: "quality": %w`, ErrBadRecording, err)
		}
	}
	if o.FPS != 0 {
		if _, err := output.ParseFPS(o.FPS); err != nil {
			return Recording{}, fmt.Errorf(`%w: "fps": %w`, ErrBadRecording, err)
		}
		rec.FPS = o.FPS
	}
	if o.Pinned != "" && o.Layout == "" {
		o.Layout = string(mixer.LayoutSpeaker)
	}
	if o.Layout != "" {
		l, err := mixer.ParseLayout(o.Layout)
		if err != nil {
			return Recording{}, fmt.Errorf(`%w: "layout": %s`, ErrBadRecording, strings.TrimPrefix(err.Error(), "mixer: "))
		}
		rec.Layout, rec.Pinned = string(l), o.Pinned
	}
	if len(o.Include) > 0 && len(o.Exclude) > 0 {
		return Recording{}, fmt.Errorf(`%w: give "include" or "exclude", not both`, ErrBadRecording)
	}
	for _, s := range append(append([]string(nil), o.Include...), o.Exclude...) {
		if s == "" || len(s) > 128 {
			return Recording{}, fmt.Errorf(`%w: "include" and "exclude" list participant ids or names of 1-128 characters`, ErrBadRecording)
		}
	}
	rec.Include, rec.Exclude = o.Include, o.Exclude
	if len(rec.Name) > 128 {
		return Recording{}, fmt.Errorf(`%w: "name" is longer than 128 characters`, ErrBadRecording)
	}
	if rec.Name == "" {
		rec.Name = room + "-" + rec.StartedAt.Format("20060102-150405")
	}
	rec.File = fileName(rec.ID, rec.Format, rec.AudioOnly)
	rec.DownloadURL = "/api/recordings/" + rec.ID + "/download"
	rec.TimelineURL = "/api/recordings/" + rec.ID + "/timeline.vtt"

	// A group that is just ending refuses new members; then a new group
	// is made, once.
	for try := 0; ; try++ {
		g, err := rc.group(r, rec)
		if err != nil {
			return Recording{}, fmt.Errorf("mcu: starting recording: %w", err)
		}
		rec.StartedAt = time.Now() // the file starts now, once the encoders are ready
		rc.mu.Lock()
		rc.recs[rec.ID] = &rec
		rc.mu.Unlock()
		// The group's goroutine calls back into the recorder, so it is
		// never waited for with rc.mu held.
		err = g.add(rec.ID, filepath.Join(rc.dir, rec.File))
		if err == nil {
			if !rec.AudioOnly {
				r.requestKeyframeNow() // for a group that writes the live packets
			}
			break
		}
		rc.mu.Lock()
		delete(rc.recs, rec.ID)
		rc.mu.Unlock()
		_ = os.Remove(filepath.Join(rc.dir, rec.File))
		if !errors.Is(err, ErrClosed) || try > 0 {
			if errors.Is(err, ErrClosed) {
				return Recording{}, err
			}
			return Recording{}, fmt.Errorf("mcu: starting recording: %w", err)
		}
	}
	rc.mu.Lock()
	_ = rc.save(&rec)
	snap := rc.snapshotLocked(&rec)
	rc.mu.Unlock()
	rc.log.Info("recording started", "id", rec.ID, "room", room, "format", rec.Format, "quality", rec.Quality, "fps", rec.FPS, "audio_only", rec.AudioOnly)
	rc.announce(snap)
	return snap, nil
}

// group returns the running group for rec's settings in room r, or starts one.
func (rc *Recorder) group(r *Room, rec Recording) (*recGroup, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.closed {
		return nil, ErrClosed
	}
	consent := newConsent(rec.Include, rec.Exclude)
	key := groupKey{room: r, format: rec.Format, quality: rec.Quality, fps: rec.FPS, audioOnly: rec.AudioOnly,
		layout: mixer.Layout(rec.Layout), pinned: rec.Pinned, consent: consent.key()}
	if g := rc.groups[key]; g != nil && !g.isStopped() {
		return g, nil
	}
	var live *transcode.VideoConfig
	if s := r.Settings(); s.picture() == key.settings() {
		c := r.liveVideoConfig(output.Codec(key.format.VideoCodec()), s)
		live = &c
	}
	g, err := newRecGroup(groupOptions{key: key, threads: rc.threads, live: live, log: rc.log, consent: consent, finished: rc.finished})
	if err != nil {
		return nil, err
	}
	// The recorder, not the group, attaches it to the room and holds the
	// room open while it records.
	if err := r.AddSink(g); err != nil {
		g.free()
		return nil, err
	}
	if g.reuse.Load() {
		if err := r.SubscribeLive(g); err != nil {
			r.RemoveSink(g)
			g.free()
			return nil, err
		}
	}
	r.Hold()
	rc.groups[key] = g
	rc.wg.Add(1)
	go func() {
		defer rc.wg.Done()
		g.run(r.Done())
		r.UnsubscribeLive(g)
		r.RemoveSink(g)
		g.free()
		r.Release()
		rc.mu.Lock()
		if rc.groups[key] == g {
			delete(rc.groups, key)
		}
		rc.mu.Unlock()
	}()
	return g, nil
}

// announce tells the room's participants about a recording's state.
func (rc *Recorder) announce(rec Recording) {
	if rc.hooks.Changed != nil {
		rc.hooks.Changed(rec)
	}
	r, err := rc.rooms.Room(rec.Room)
	if err != nil {
		return
	}
	b, _ := json.Marshal(rec)
	r.Broadcast(signaling.Message{Type: signaling.TypeRecording, Recording: b})
}

// finished is called by a group when a member's file is complete, or as
// soon as writing it failed.
func (rc *Recorder) finished(id string, duration float64, ferr error) {
	end := time.Now()
	rc.mu.Lock()
	rec := rc.recs[id]
	var path string
	if rec != nil {
		path = filepath.Join(rc.dir, rec.File)
	}
	rc.mu.Unlock()
	if rec == nil {
		return
	}
	var size int64
	if st, err := os.Stat(path); err == nil {
		size = st.Size()
	}
	msg := ""
	if ferr != nil {
		msg = ferr.Error()
		if transcode.IsDiskFull(ferr) {
			msg = "disk full: " + msg
		}
		// What was written may be less than what was handed to the muxer:
		// the file itself says how much it holds.
		duration = 0
		if d, err := transcode.ProbeDuration(path); err == nil {
			duration = d
		}
		rc.log.Error("recording failed", "id", id, "err", ferr, "duration_s", duration)
	}
	rc.mu.Lock()
	rec.EndedAt, rec.DurationS, rec.State, rec.SizeBytes = &end, duration, StateFinished, size
	if ferr != nil {
		rec.State, rec.Error = StateFailed, msg
	}
	_ = rc.save(rec)
	snap := *rec
	rc.mu.Unlock()
	rc.log.Info("recording finished", "id", id, "state", snap.State, "duration_s", duration, "size", snap.SizeBytes)
	rc.announce(snap)
}

func (rc *Recorder) snapshotLocked(r *Recording) Recording {
	out := *r
	if out.State == StateRecording {
		out.DurationS = time.Since(out.StartedAt).Seconds()
		if st, err := os.Stat(filepath.Join(rc.dir, out.File)); err == nil {
			out.SizeBytes = st.Size()
		}
	}
	return out
}

// Get returns one recording.
func (rc *Recorder) Get(id string) (Recording, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	r := rc.recs[id]
	if r == nil {
		return Recording{}, fmt.Errorf("%w: %q", ErrRecordingNotFound, id)
	}
	return rc.snapshotLocked(r), nil
}

// List returns every recording, newest first.
func (rc *Recorder) List() []Recording {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]Recording, 0, len(rc.recs))
	for _, r := range rc.recs {
		out = append(out, rc.snapshotLocked(r))
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartedAt.Equal(out[j].StartedAt) {
			return out[i].StartedAt.After(out[j].StartedAt)
		}
		return out[i].ID > out[j].ID
	})
	return out
}

// Stop finishes a running recording and returns it once its file is complete.
func (rc *Recorder) Stop(id string) (Recording, error) {
	rc.mu.Lock()
	r := rc.recs[id]
	if r == nil {
		rc.mu.Unlock()
		return Recording{}, fmt.Errorf("%w: %q", ErrRecordingNotFound, id)
	}
	var g *recGroup
	if r.State == StateRecording {
		for _, gg := range rc.groups {
			if gg.has(id) {
				g = gg
			}
		}
	}
	rc.mu.Unlock()
	if g != nil {
		g.remove(id)
	}
	return rc.Get(id)
}

// Delete stops a recording if needed and removes its file and metadata.
func (rc *Recorder) Delete(id string) error {
	if _, err := rc.Stop(id); err != nil {
		return err
	}
	rc.mu.Lock()
	r := rc.recs[id]
	delete(rc.recs, id)
	rc.mu.Unlock()
	if r == nil {
		return fmt.Errorf("%w: %q", ErrRecordingNotFound, id)
	}
	delete(rc.dirty, id)
	base := filepath.Join(rc.dir, r.ID+".json")
	errs := []error{os.Remove(filepath.Join(rc.dir, r.File)), os.Remove(base)}
	for _, ext := range []string{".vtt", ".timeline.json"} {
		_ = os.Remove(filepath.Join(rc.dir, r.ID+ext))
	}
	_ = os.Remove(base + failedSuffix)
	for _, err := range errs {
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("mcu: deleting recording %s: %w", id, err)
		}
	}
	return nil
}

// Path returns the file of a recording.
func (rc *Recorder) Path(id string) (string, Recording, error) {
	r, err := rc.Get(id)
	if err != nil {
		return "", r, err
	}
	return filepath.Join(rc.dir, r.File), r, nil
}

// TimelinePath returns the timeline file of a finished recording: ext is
// ".vtt" or ".timeline.json".
func (rc *Recorder) TimelinePath(id, ext string) (string, Recording, error) {
	r, err := rc.Get(id)
	if err != nil {
		return "", r, err
	}
	return filepath.Join(rc.dir, r.ID+ext), r, nil
}

// Close finishes every running recording and waits for the files.
func (rc *Recorder) Close() {
	rc.mu.Lock()
	if !rc.closed {
		close(rc.quit)
	}
	rc.closed = true
	groups := make([]*recGroup, 0, len(rc.groups))
	for _, g := range rc.groups {
		groups = append(groups, g)
	}
	rc.mu.Unlock()
	for _, g := range groups {
		g.stop()
	}
	rc.wg.Wait()
}
