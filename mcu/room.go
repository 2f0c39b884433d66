package mcu

import (
	"context"
	"fmt"
	"image"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/mcu-dev/mcu/metrics"
	"github.com/mcu-dev/mcu/mixer"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/signaling"
	"github.com/mcu-dev/mcu/transcode"
)

// keyframeThrottle is the shortest gap between two keyframes forced by
// receivers' PLIs.
const keyframeThrottle = 500 * time.Millisecond

// Settings are a room's output settings.
type Settings struct {
	Quality output.Quality `json:"quality"`
	FPS     int            `json:"fps"`
	// Codec is the live video codec: auto (each receiver's offer decides,
	// H.264 when it offers both), vp8 or h264. It applies to receivers
	// that join after it is set.
	Codec output.Codec `json:"codec"`
	// Rung pins every receiver to one rung of the ladder; MaxRung caps the
	// highest rung. Empty means the bandwidth estimate decides.
	Rung    string `json:"rung,omitempty"`
	MaxRung string `json:"max_rung,omitempty"`
}

// picture is the part of s that shapes the encoded picture (what a
// recording must match to reuse the live packets).
func (s Settings) picture() Settings { return Settings{Quality: s.Quality, FPS: s.FPS} }

// EmptyRoomTimeout is how long a room that is still being recorded stays
// open after its last participant left.
var EmptyRoomTimeout = 30 * time.Second

// Room is one meeting. Who owns what:
//   - the video goroutine (videoLoop) owns the room's one video clock, the
//     live output (compositor, encoder) and the lip-sync release: on every
//     tick it takes each participant's due picture and hands it to the live
//     output and to every attached sink;
//   - the audio goroutine (audioLoop) owns the 20 ms audio clock, the mix
//     and the per-participant Opus encoders, and hands the full mix to sinks;
//   - mu guards membership, settings and holds, and is only ever held for
//     bookkeeping. Membership and the sink list reach the two loops as
//     immutable snapshots swapped in on change, so the loops never lock the
//     room on a tick.
type Room struct {
	rooms *Rooms
	name  string
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	// mixTrack carries the full mix, encoded once, to every receive-only
	// participant.
	mixTrack   *webrtc.TrackLocalStaticSample
	settingsCh chan struct{}
	keyWanted  atomic.Bool
	keyNow     atomic.Bool  // a keyframe is wanted at once, throttle or not
	receivers  atomic.Int32 // participants whose connection is up
	// The loops stop their clocks while the room is idle and wait here.
	videoWake, audioWake chan struct{}

	members atomic.Pointer[memberSnapshot]
	sinks   atomic.Pointer[sinkSnapshot]
	// downs is every receiver's video track, for the video loop.
	downs atomic.Pointer[[]*downTrack]
	// encoders names the live renditions open, for the API.
	encoders atomic.Pointer[[]string]
	// speakers is written by the audio loop; speakerLevels holds the
	// latest levels for the API; view by operators (SetView); placed by
	// the video loop, the live composite's tiles.
	speakers      atomic.Pointer[speakerSnapshot]
	speakerLevels atomic.Pointer[[]signaling.Speaker]
	view          atomic.Pointer[viewSnapshot]
	placed        atomic.Pointer[placement]

	mu           sync.Mutex
	participants []*Participant
	sinkList     []Sink
	downList     []*downTrack
	subs         []PacketSubscriber
	settings     Settings
	nextID       int
	closed       bool
	created      time.Time
	holds        int
	emptySince   time.Time

	metrics      *metrics.Room
	framesOut    atomic.Int64
	bytesOut     atomic.Int64
	mixBytesOut  atomic.Int64 // full-mix audio sent to receive-only participants
	keyframes    atomic.Int64
	audioMixed   atomic.Int64 // 20 ms blocks mixed
	audioSkipped atomic.Int64 // blocks given up on: the loop fell too far behind
	statsMu      sync.Mutex
	latency      []time.Duration // recent server-added latencies
	latencyAt    int
}

// memberSnapshot is the membership as the loops see it; never modified.
type memberSnapshot struct {
	version uint64
	all     []*Participant // join order
	tiles   []mixer.Tile   // publishers in display order
}

// sinkSnapshot is the attached sinks as the loops see it; never modified.
type sinkSnapshot struct {
	version uint64
	sinks   []Sink
	subs    []PacketSubscriber
}

func newRoom(s *Rooms, name string) (*Room, error) {
	mixTrack, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: output.SampleRate, Channels: 2}, "audio", "mcu-"+name+"-mix")
	if err != nil {
		return nil, fmt.Errorf("mcu: room mix track: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Room{
		rooms: s, name: name, log: s.log.With("room", name),
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
		mixTrack:   mixTrack,
		settingsCh: make(chan struct{}, 1),
		videoWake:  make(chan struct{}, 1), audioWake: make(chan struct{}, 1),
		settings: Settings{Quality: s.cfg.Quality, FPS: s.cfg.FPS, Codec: s.cfg.Codec},
		created:  time.Now(),
		metrics:  s.cfg.Metrics.OpenRoom(name),
	}
	r.members.Store(&memberSnapshot{})
	r.sinks.Store(&sinkSnapshot{})
	r.downs.Store(&[]*downTrack{})
	r.speakers.Store(&speakerSnapshot{})
	r.view.Store(&viewSnapshot{layout: mixer.LayoutAuto})
	return r, nil
}

// Name is the room's name.
func (r *Room) Name() string { return r.name }

// Done is closed once the room has closed and its loops have ended.
func (r *Room) Done() <-chan struct{} { return r.done }

// Settings returns the room's output settings.
func (r *Room) Settings() Settings {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.settings
}

// liveVideoConfig is the live encoder of codec at the room's own size
// under settings s.
func (r *Room) liveVideoConfig(codec output.Codec, s Settings) transcode.VideoConfig {
	return liveVideoConfig(codec, output.Ladder(s.Quality, s.FPS)[0], s.FPS, r.rooms.cfg.EncoderThreads, r.rooms.cfg.LivePreset)
}

func (r *Room) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// run drives the room until it closes.
func (r *Room) run() {
	defer close(r.done)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.videoLoop() }()
	go func() { defer wg.Done(); r.audioLoop() }()
	<-r.ctx.Done()
	r.mu.Lock()
	ps := append([]*Participant(nil), r.participants...)
	r.mu.Unlock()
	for _, p := range ps {
		p.Leave()
	}
	wg.Wait()
	r.metrics.Close()
	r.log.Info("room closed")
}

// Close removes everyone and stops the room. It is idempotent.
func (r *Room) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
}

func (r *Room) join(name string, opts signaling.JoinOptions, out signaling.Sender) (*Participant, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	// Publishers and viewers have limits of their own: a room full of
	// viewers still admits its speakers.
	viewers := 0
	for _, q := range r.participants {
		if q.receiveOnly {
			viewers++
		}
	}
	if opts.ReceiveOnly && viewers >= r.rooms.cfg.MaxViewers || !opts.ReceiveOnly && len(r.participants)-viewers >= r.rooms.cfg.MaxParticipants {
		r.mu.Unlock()
		return nil, ErrRoomFull
	}
	r.nextID++
	id := fmt.Sprintf("p%d", r.nextID)
	r.mu.Unlock()

	p, err := newParticipant(r, id, name, opts, out)
	if err != nil {
		r.closeIfEmpty()
		return nil, err
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		p.close()
		return nil, ErrClosed
	}
	r.participants = append(r.participants, p)
	r.emptySince = time.Time{}
	r.publishMembersLocked()
	list := r.participantListLocked()
	settings := r.settings
	r.mu.Unlock()

	r.log.Info("participant joined", "participant", id, "name", name, "receive_only", opts.ReceiveOnly)
	r.metrics.ParticipantJoined()
	if o := r.rooms.cfg.Observer; o != nil {
		o.ParticipantJoined(r, p)
	}
	view := r.view.Load()
	pinned := view.pinned
	out.Send(signaling.Message{Type: signaling.TypeJoined, Room: r.name, ParticipantID: id, Participants: list,
		Quality: string(settings.Quality), FPS: settings.FPS, LayoutMode: string(view.layout), Pinned: &pinned})
	info := p.info()
	r.broadcast(signaling.Message{Type: signaling.TypeParticipantJoined, Participant: &info}, p)
	r.layoutChanged()
	return p, nil
}

// publishMembersLocked swaps in a new membership snapshot for the loops.
func (r *Room) publishMembersLocked() {
	prev := r.members.Load()
	m := &memberSnapshot{version: prev.version + 1, all: append([]*Participant(nil), r.participants...)}
	for _, p := range r.participants {
		if !p.receiveOnly {
			m.tiles = append(m.tiles, mixer.Tile{ID: p.id, Name: p.name, Muted: p.audioMuted.Load(), Screen: p.screen.Load()})
		}
	}
	r.members.Store(m)
}

// closeIfEmpty closes a room that nobody joined and nothing holds.
func (r *Room) closeIfEmpty() {
	r.mu.Lock()
	empty := len(r.participants) == 0 && r.holds == 0
	r.mu.Unlock()
	if empty {
		r.Close()
	}
}

func (r *Room) leave(p *Participant) {
	r.mu.Lock()
	idx := -1
	for i, q := range r.participants {
		if q == p {
			idx = i
		}
	}
	if idx < 0 {
		r.mu.Unlock()
		return
	}
	r.participants = append(r.participants[:idx:idx], r.participants[idx+1:]...)
	r.publishMembersLocked()
	r.unpinLocked(p.id)
	empty := len(r.participants) == 0
	held := r.holds > 0
	if empty {
		r.emptySince = time.Now()
	}
	r.mu.Unlock()
	r.log.Info("participant left", "participant", p.id)
	r.metrics.ParticipantLeft()
	if o := r.rooms.cfg.Observer; o != nil {
		o.ParticipantLeft(r, p)
	}
	info := p.info()
	r.broadcast(signaling.Message{Type: signaling.TypeParticipantLeft, Participant: &info}, nil)
	if empty && !held {
		r.Close()
		return
	}
	r.layoutChanged()
}

func (r *Room) participantListLocked() []signaling.Participant {
	out := make([]signaling.Participant, len(r.participants))
	for i, p := range r.participants {
		out[i] = p.info()
	}
	return out
}

// Participants returns the participants in join order.
func (r *Room) Participants() []*Participant {
	return r.members.Load().all
}

// layoutChanged tells everyone the new layout and asks for a keyframe, so
// receivers see the re-flowed grid at once.
func (r *Room) layoutChanged() {
	r.broadcast(signaling.Message{Type: signaling.TypeLayout, Layout: r.Layout()}, nil)
	r.RequestKeyframe()
}

// Layout returns every publisher's tile on the live composite, as the live
// compositor last placed them (a grid until it first renders).
func (r *Room) Layout() []signaling.Tile {
	m := r.members.Load()
	if p := r.placed.Load(); p != nil && len(p.ids) == len(m.tiles) {
		same := true
		for i, t := range m.tiles {
			same = same && p.ids[i] == t.ID
		}
		if same {
			return p.tiles
		}
	}
	w, h := r.Settings().Quality.Size()
	rects := mixer.Tiles(len(m.tiles), w, h)
	out := make([]signaling.Tile, len(m.tiles))
	for i, t := range m.tiles {
		out[i] = tileOf(t, rects[i])
	}
	return out
}

func tileOf(t mixer.Tile, rc image.Rectangle) signaling.Tile {
	return signaling.Tile{ParticipantID: t.ID, Name: t.Name, X: rc.Min.X, Y: rc.Min.Y, W: rc.Dx(), H: rc.Dy()}
}

// broadcast sends m to every participant but skip.
func (r *Room) broadcast(m signaling.Message, skip *Participant) {
	for _, p := range r.Participants() {
		if p != skip {
			p.out.Send(m)
		}
	}
}

// Broadcast sends an event to every participant.
func (r *Room) Broadcast(m signaling.Message) { r.broadcast(m, nil) }

// SetSettings changes the output quality and/or fps ("" and 0 keep the
// current value). It takes effect on the next frame, for everyone.
func (r *Room) SetSettings(quality string, fps int) (Settings, error) {
	var q output.Quality
	var err error
	if quality != "" {
		if q, err = output.ParseQuality(quality); err != nil {
			return r.Settings(), err
		}
	}
	if fps != 0 {
		if _, err := output.ParseFPS(fps); err != nil {
			return r.Settings(), err
		}
	}
	s, changed := r.changeSettings(func(s *Settings) {
		if q != "" {
			s.Quality = q
		}
		if fps != 0 {
			s.FPS = fps
		}
	})
	if changed {
		r.log.Info("output settings changed", "quality", s.Quality, "fps", s.FPS)
	}
	r.broadcast(signaling.Message{Type: signaling.TypeSettings, Quality: string(s.Quality), FPS: s.FPS}, nil)
	return s, nil
}

// addDown registers a receiver's video track with the video loop.
func (r *Room) addDown(d *downTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.downList = append(r.downList[:len(r.downList):len(r.downList)], d)
	list := r.downList
	r.downs.Store(&list)
}

// removeDown forgets a receiver's video track.
func (r *Room) removeDown(d *downTrack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, x := range r.downList {
		if x == d {
			r.downList = append(r.downList[:i:i], r.downList[i+1:]...)
			break
		}
	}
	list := r.downList
	r.downs.Store(&list)
}

// changeSettings applies fn to the settings and signals the video loop if
// they changed.
func (r *Room) changeSettings(fn func(*Settings)) (Settings, bool) {
	r.mu.Lock()
	s := r.settings
	fn(&s)
	changed := s != r.settings
	r.settings = s
	r.mu.Unlock()
	if changed {
		// The video loop reads the settings when signalled; a pending
		// signal already covers this change.
		select {
		case r.settingsCh <- struct{}{}:
		default:
		}
	}
	return s, changed
}

// SetLadder changes the operator's choices for the receivers' video (nil
// keeps one): the codec of receivers that join from now on (auto, vp8,
// h264), a rung every receiver is pinned to, and the highest rung allowed
// ("" for none). Pins and caps apply within a quarter of a second.
func (r *Room) SetLadder(codec, rung, maxRung *string) (Settings, error) {
	var c output.Codec
	var pin, ceiling string
	var err error
	if codec != nil {
		if c, err = output.ParseCodec(*codec); err != nil {
			return r.Settings(), err
		}
	}
	if rung != nil {
		if pin, err = output.ParseRung(*rung); err != nil {
			return r.Settings(), err
		}
	}
	if maxRung != nil {
		if ceiling, err = output.ParseRung(*maxRung); err != nil {
			return r.Settings(), fmt.Errorf("max_rung: %w", err)
		}
	}
	s, changed := r.changeSettings(func(s *Settings) {
		if codec != nil {
			s.Codec = c
		}
		if rung != nil {
			s.Rung = pin
		}
		if maxRung != nil {
			s.MaxRung = ceiling
		}
	})
	if changed {
		r.log.Info("receiver video settings changed", "codec", s.Codec, "rung", s.Rung, "max_rung", s.MaxRung)
	}
	return s, nil
}

// RequestKeyframe asks the live encoder for a keyframe. Requests closer
// than keyframeThrottle to the previous keyframe are held, not dropped: the
// video loop serves them once the throttle allows.
func (r *Room) RequestKeyframe() { r.keyWanted.Store(true) }

// requestKeyframeNow asks for a keyframe on the next tick whatever the
// throttle: a recording that writes the live packets starts with it. Only
// operators start recordings, so these cannot be flooded.
func (r *Room) requestKeyframeNow() { r.keyNow.Store(true) }

// AddSink attaches s to the room's media: from the next tick it gets the
// tiles, then the pictures and the mix.
func (r *Room) AddSink(s Sink) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	r.sinkList = append(r.sinkList[:len(r.sinkList):len(r.sinkList)], s)
	r.publishSinksLocked()
	return nil
}

// RemoveSink detaches s; a call that is under way may still reach it.
func (r *Room) RemoveSink(s Sink) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, x := range r.sinkList {
		if x == s {
			r.sinkList = append(r.sinkList[:i:i], r.sinkList[i+1:]...)
			break
		}
	}
	r.publishSinksLocked()
}

// SubscribeLive hands s every packet of the live video output (and keeps
// the live output encoding while it is subscribed) until UnsubscribeLive.
// A keyframe follows soon.
func (r *Room) SubscribeLive(s PacketSubscriber) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	r.subs = append(r.subs[:len(r.subs):len(r.subs)], s)
	r.publishSinksLocked()
	r.mu.Unlock()
	r.RequestKeyframe()
	return nil
}

// UnsubscribeLive stops handing packets to s.
func (r *Room) UnsubscribeLive(s PacketSubscriber) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, x := range r.subs {
		if x == s {
			r.subs = append(r.subs[:i:i], r.subs[i+1:]...)
			break
		}
	}
	r.publishSinksLocked()
}

func (r *Room) publishSinksLocked() {
	prev := r.sinks.Load()
	r.sinks.Store(&sinkSnapshot{version: prev.version + 1, sinks: r.sinkList, subs: r.subs})
	r.wake()
}

// idle reports whether the room has nothing to do: no connection is up (so
// no media comes in and nobody receives) and no sink is attached. A room of
// sockets that joined and never connected costs no clock ticks.
func (r *Room) idle() bool {
	ss := r.sinks.Load()
	return r.receivers.Load() == 0 && len(ss.sinks) == 0 && len(ss.subs) == 0
}

// wake restarts the loops' clocks after the room was idle.
func (r *Room) wake() {
	for _, ch := range []chan struct{}{r.videoWake, r.audioWake} {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// sleep waits, while the room is idle, for it to wake or close; it reports
// whether the room is still open.
func (r *Room) sleep(wake <-chan struct{}) bool {
	for r.idle() {
		select {
		case <-r.ctx.Done():
			return false
		case <-wake:
		}
	}
	return true
}

// Hold keeps the room open while it is being recorded, for up to
// EmptyRoomTimeout after the last participant left. Release undoes it.
func (r *Room) Hold() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.holds++
}

// Release undoes one Hold; a room that is empty and no longer held closes.
func (r *Room) Release() {
	r.mu.Lock()
	r.holds--
	closeNow := r.holds <= 0 && len(r.participants) == 0
	r.mu.Unlock()
	if closeNow {
		r.Close()
	}
}

// checkEmpty closes a held room that has been empty for EmptyRoomTimeout.
func (r *Room) checkEmpty(now time.Time) {
	r.mu.Lock()
	idle := len(r.participants) == 0 && !r.emptySince.IsZero() && now.Sub(r.emptySince) >= EmptyRoomTimeout
	r.mu.Unlock()
	if idle {
		r.log.Info("room empty, closing", "after", EmptyRoomTimeout)
		r.Close()
	}
}

// videoState is what the video loop alone owns besides the live output.
type videoState struct {
	members   uint64          // version of the membership last applied
	sinks     uint64          // version of the sink list last applied
	cameraOff map[string]bool // participants whose tile was ended by a mute
	lastKey   time.Time
	speakers  uint64 // version of the speakers last applied
	view      uint64 // version of the view last applied
	placed    uint64 // version of the live placement last published
}

// videoLoop is the room's one video clock. On each tick it applies
// membership and sink changes, releases every participant's due picture to
// the live output and the sinks, and encodes the live output if anyone
// receives it.
func (r *Room) videoLoop() {
	s := r.Settings()
	live, err := newLiveOutput(s, r.rooms.cfg.EncoderThreads, r.rooms.cfg.LivePreset)
	if err != nil {
		r.log.Error("live output", "err", err)
		r.Close()
		return
	}
	defer live.close()
	live.metrics = r.metrics
	live.log, live.warn = r.log.Debug, r.log.Warn
	live.encoders = &r.encoders
	ticker := time.NewTicker(time.Second / time.Duration(s.FPS))
	defer ticker.Stop()
	st := &videoState{cameraOff: map[string]bool{}}
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.settingsCh:
			ns := r.Settings()
			if ns == live.settings {
				continue
			}
			if err := live.apply(ns, *r.downs.Load()); err != nil {
				r.log.Error("changing output settings", "err", err)
				continue
			}
			ticker.Reset(time.Second / time.Duration(ns.FPS))
			r.broadcast(signaling.Message{Type: signaling.TypeLayout, Layout: r.Layout()}, nil)
		case now := <-ticker.C:
			r.tick(now, live, st)
			r.checkEmpty(now)
			if r.idle() {
				ticker.Stop()
				if !r.sleep(r.videoWake) {
					return
				}
				ticker.Reset(time.Second / time.Duration(live.settings.FPS))
			}
		}
	}
}

func (r *Room) tick(now time.Time, live *liveOutput, st *videoState) {
	m, ss := r.members.Load(), r.sinks.Load()
	if ss.version != st.sinks {
		st.sinks = ss.version
		st.members = 0 // every sink gets the tiles again: cheap, and new ones need them
	}
	spk, view := r.speakers.Load(), r.view.Load()
	if st.members == 0 || view.version != st.view {
		st.view = view.version
		live.comp.SetLayout(view.layout, view.pinned)
		for _, s := range ss.sinks {
			s.SetLayout(view.layout, view.pinned)
		}
	}
	if m.version != st.members || spk.version != st.speakers {
		st.members, st.speakers = m.version, spk.version
		tiles := decorate(m.tiles, spk.dominant)
		live.SetTiles(tiles)
		for _, s := range ss.sinks {
			s.SetTiles(tiles)
		}
		for id := range st.cameraOff {
			if !m.has(id) {
				delete(st.cameraOff, id)
			}
		}
	}
	for _, p := range m.all {
		if p.receiveOnly {
			continue
		}
		off := p.videoMuted.Load()
		if off && !st.cameraOff[p.id] {
			st.cameraOff[p.id] = true
			live.EndTile(p.id)
			for _, s := range ss.sinks {
				s.EndTile(p.id)
			}
		} else if !off && st.cameraOff[p.id] {
			delete(st.cameraOff, p.id)
		}
		f, arrived := p.releaseVideo(now)
		if f == nil {
			continue
		}
		if !off {
			live.Picture(p.id, f, arrived)
			for _, s := range ss.sinks {
				s.Picture(p.id, f, arrived)
			}
		}
		f.Free()
	}
	// Nobody receives the live output: no compositing, no encoding.
	if r.receivers.Load() == 0 && len(ss.subs) == 0 {
		return
	}
	if r.keyNow.Swap(false) || r.keyWanted.Load() && now.Sub(st.lastKey) >= keyframeThrottle {
		r.keyWanted.Store(false)
		st.lastKey = now
		live.keyframeAll()
		r.keyframes.Add(1)
		r.metrics.Keyframes(1)
	}
	sent, err := live.encode(now, *r.downs.Load(), ss.subs)
	if err != nil {
		r.log.Warn("live output", "err", err)
	}
	if sent < 0 {
		return // nobody connected yet: nothing composited
	}
	r.framesOut.Add(1)
	r.bytesOut.Add(sent)
	if placed, v := live.comp.Placement(); v != st.placed {
		st.placed = v
		next := placedTiles(placed)
		prev := r.placed.Swap(next)
		// A new speaker's border changes the placement but not the layout.
		if prev == nil || !sameLayout(prev.tiles, next.tiles) {
			r.broadcast(signaling.Message{Type: signaling.TypeLayout, Layout: next.tiles}, nil)
			r.RequestKeyframe()
		}
	}
	if fresh := live.comp.DrawnPushTimes(); len(fresh) > 0 {
		done := time.Now()
		r.statsMu.Lock()
		for _, t := range fresh {
			r.recordLatencyLocked(done.Sub(t))
			r.metrics.AddedLatency(done.Sub(t))
		}
		r.statsMu.Unlock()
	}
}

func (m *memberSnapshot) has(id string) bool {
	for _, p := range m.all {
		if p.id == id {
			return true
		}
	}
	return false
}

func (r *Room) recordLatencyLocked(d time.Duration) {
	const keep = 512
	if len(r.latency) < keep {
		r.latency = append(r.latency, d)
		return
	}
	r.latency[r.latencyAt%keep] = d
	r.latencyAt++
}

// audioLoop is the room's 20 ms audio clock: the full mix for sinks, and
// for each participant the mix without their own voice, encoded with their
// own Opus encoder. It follows the wall clock: blocks missed while the
// machine was busy are made up (a few at a time) so that audio never falls
// behind.
func (r *Room) audioLoop() {
	m := &roomMixer{room: r, outs: map[*Participant]*mixOut{}, full: make([]float32, mixer.BlockSamples), lim: mixer.NewLimiter(), det: mixer.NewSpeakerDetector()}
	defer m.close()
	ticker := time.NewTicker(audioBlock)
	defer ticker.Stop()
	start := time.Now()
	var done int64
	for {
		select {
		case <-r.ctx.Done():
			return
		case now := <-ticker.C:
			due := int64(now.Sub(start) / audioBlock)
			if due-done > maxAudioCatchUp {
				r.audioSkipped.Add(due - done - maxAudioCatchUp)
				done = due - maxAudioCatchUp // too far behind: skip rather than burst
			}
			for ; done < due; done++ {
				m.mixBlock(start.Add(time.Duration(done) * audioBlock))
			}
			if r.idle() {
				ticker.Stop()
				if !r.sleep(r.audioWake) {
					return
				}
				// The clock starts again from now: nothing was missed.
				start, done = time.Now(), 0
				ticker.Reset(audioBlock)
			}
		}
	}
}

const (
	audioBlock      = 20 * time.Millisecond
	maxAudioCatchUp = 5
)

// roomMixer is the audio loop's state; only that goroutine touches it.
type roomMixer struct {
	room    *Room
	outs    map[*Participant]*mixOut
	full    []float32
	lim     *mixer.Limiter
	det     *mixer.SpeakerDetector
	ins     [][]float32
	ids     []string // whose block each of ins is
	minus   [][]float32
	lims    []*mixer.Limiter
	active  []*Participant
	version uint64
	// fullOut encodes the full mix for the receive-only participants.
	fullOut *mixOut
}

type mixOut struct {
	enc *transcode.Encoder
	lim *mixer.Limiter
}

func (m *roomMixer) mixBlock(at time.Time) {
	r := m.room
	snap := r.members.Load()
	if snap.version != m.version {
		m.version = snap.version
		for p, o := range m.outs {
			if p.isGone() || !snap.has(p.id) {
				o.close()
				delete(m.outs, p)
			}
		}
	}
	m.ins, m.ids, m.minus, m.lims, m.active = m.ins[:0], m.ids[:0], m.minus[:0], m.lims[:0], m.active[:0]
	listeners := false // receive-only participants to send the full mix to
	for _, p := range snap.all {
		if !p.connected.Load() || p.publishOnly {
			continue // nobody to send to (yet)
		}
		if p.receiveOnly {
			listeners = true
			continue
		}
		o := m.outs[p]
		if o == nil {
			enc, err := transcode.NewAudioEncoder(transcode.AudioConfig{Codec: "opus", Bitrate: output.LiveAudioBitrate})
			if err != nil {
				r.log.Error("opus encoder", "err", err)
				continue
			}
			o = &mixOut{enc: enc, lim: mixer.NewLimiter()}
			m.outs[p] = o
		}
		m.active = append(m.active, p)
		b := p.audioBlock()
		m.det.Observe(p.id, b)
		m.ins = append(m.ins, b)
		m.ids = append(m.ids, p.id)
		m.minus = append(m.minus, p.mixBuf())
		m.lims = append(m.lims, o.lim)
	}
	// Voices of participants who are not sent a mix still reach the others.
	for _, p := range snap.all {
		if (!p.connected.Load() || p.publishOnly) && !p.receiveOnly {
			b := p.audioBlock()
			m.det.Observe(p.id, b)
			if b != nil {
				m.ins = append(m.ins, b)
				m.ids = append(m.ids, p.id)
				m.minus = append(m.minus, nil)
				m.lims = append(m.lims, nil)
			}
		}
	}
	mixer.Mix(m.ins, m.full, m.lim, m.minus, m.lims)
	if levels, ok := m.det.Next(); ok {
		r.speakersChanged(levels)
	}
	for i, p := range m.active {
		if err := m.outs[p].enc.EncodeAudio(m.minus[i], false, func(pkt *astiav.Packet) error {
			return p.writeAudio(pkt.Data())
		}); err != nil {
			r.log.Warn("encoding audio", "participant", p.id, "err", err)
		}
	}
	if listeners {
		m.sendFull()
	}
	for _, k := range r.sinks.Load().sinks {
		if v, ok := k.(voiceSink); ok && v.wantsVoices() {
			v.Voices(m.ids, m.ins, at)
			continue
		}
		k.Audio(m.full, at)
	}
	r.audioMixed.Add(1)
}

// sendFull encodes the full mix once onto the track that every
// receive-only participant shares.
func (m *roomMixer) sendFull() {
	r := m.room
	if m.fullOut == nil {
		enc, err := transcode.NewAudioEncoder(transcode.AudioConfig{Codec: "opus", Bitrate: output.LiveAudioBitrate})
		if err != nil {
			r.log.Error("opus encoder", "err", err)
			return
		}
		m.fullOut = &mixOut{enc: enc}
	}
	if err := m.fullOut.enc.EncodeAudio(m.full, false, func(pkt *astiav.Packet) error {
		r.mixBytesOut.Add(int64(len(pkt.Data())))
		return r.mixTrack.WriteSample(media.Sample{Data: pkt.Data(), Duration: audioBlock})
	}); err != nil {
		r.log.Warn("encoding the full mix", "err", err)
	}
}

func (m *roomMixer) close() {
	if m.fullOut != nil {
		m.fullOut.close()
		m.fullOut = nil
	}
	for p, o := range m.outs {
		o.close()
		delete(m.outs, p)
	}
}

// close drains the encoder (its last packet has nobody to go to) and frees it.
func (o *mixOut) close() {
	_ = o.enc.EncodeAudio(nil, true, func(*astiav.Packet) error { return nil })
	o.enc.Close()
}

// RoomInfo describes a room for the HTTP API.
type RoomInfo struct {
	Name     string   `json:"name"`
	Settings Settings `json:"settings"`
	// Ladder is the rungs receivers move between, largest first; each
	// participant's "receive" says which one it is on.
	Ladder []output.Rung `json:"ladder"`
	// Encoders are the live renditions being encoded ("h264 720p"): one
	// per codec and rung that some receiver is on.
	Encoders     []string          `json:"encoders"`
	Participants []ParticipantInfo `json:"participants"`
	// Viewers counts the receive-only participants (WHEP viewers, watch
	// pages); they are not listed in Participants.
	Viewers int `json:"viewers"`
	// ViewerRungs counts the viewers by the video they receive ("h264
	// 720p"), so that operators see weak links among them too.
	ViewerRungs map[string]int   `json:"viewer_rungs,omitempty"`
	Layout      []signaling.Tile `json:"layout"`
	// View is the layout mode and pinned participant.
	View
	// Speakers are the active speakers, loudest first.
	Speakers  []signaling.Speaker `json:"speakers"`
	CreatedAt time.Time           `json:"created_at"`
	// FramesOut counts the canvases composited; VideoBytes the bytes
	// encoded over all renditions (what receivers get is in their
	// bitrate_out).
	FramesOut  int64 `json:"frames_out"`
	Keyframes  int64 `json:"keyframes_forced"`
	VideoBytes int64 `json:"video_bytes_out"`
	// LatencyMedianMS is the median time from a picture arriving to the
	// first composite containing it being sent.
	LatencyMedianMS float64 `json:"latency_median_ms"`
	// AudioBlocks counts the 20 ms blocks the audio clock has mixed, and
	// AudioBlocksSkipped those it gave up on because it fell too far behind.
	AudioBlocks        int64 `json:"audio_blocks"`
	AudioBlocksSkipped int64 `json:"audio_blocks_skipped"`
}

// Info returns a snapshot of the room with live participant statistics.
func (r *Room) Info() RoomInfo {
	ps := r.Participants()
	settings := r.Settings()
	encoders := []string{}
	if e := r.encoders.Load(); e != nil {
		encoders = *e
	}
	info := RoomInfo{Name: r.name, Settings: settings, Ladder: output.Ladder(settings.Quality, settings.FPS), Encoders: encoders, Layout: r.Layout(), View: r.View(), Speakers: r.Speakers(), Participants: make([]ParticipantInfo, 0, len(ps))}
	for _, p := range ps {
		if p.receiveOnly {
			info.Viewers++
			if d := p.downTrack(); d != nil {
				if rs := d.stats.Load(); rs != nil && rs.Rung != "" {
					if info.ViewerRungs == nil {
						info.ViewerRungs = map[string]int{}
					}
					info.ViewerRungs[rs.Codec+" "+rs.Rung]++
				}
			}
			continue
		}
		info.Participants = append(info.Participants, p.Stats())
	}
	r.mu.Lock()
	info.CreatedAt = r.created
	r.mu.Unlock()
	info.FramesOut, info.VideoBytes, info.Keyframes = r.framesOut.Load(), r.bytesOut.Load(), r.keyframes.Load()
	info.AudioBlocks, info.AudioBlocksSkipped = r.audioMixed.Load(), r.audioSkipped.Load()
	r.statsMu.Lock()
	lat := append([]time.Duration(nil), r.latency...)
	r.statsMu.Unlock()
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		info.LatencyMedianMS = float64(lat[len(lat)/2]) / float64(time.Millisecond)
	}
	return info
}
