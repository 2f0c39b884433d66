package mcu

import (
	"log/slog"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/mcu-dev/mcu/mixer"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/transcode"
)

// groupKey identifies recordings that can share encoders.
type groupKey struct {
	room      *Room
	format    output.Format
	quality   output.Quality
	fps       int
	audioOnly bool
	// layout is the recording's own layout, "" to follow the room's.
	layout mixer.Layout
	pinned string
	// consent is the canonical include/exclude list, "" for everyone.
	consent string
}

// consentFilter decides who appears in a recording.
type consentFilter struct {
	include bool // only those listed; otherwise everyone but them
	who     map[string]bool
}

// newConsent builds a filter from include or exclude identities (a
// participant's id or display name); nil means everyone.
func newConsent(include, exclude []string) *consentFilter {
	list, inc := exclude, false
	if len(include) > 0 {
		list, inc = include, true
	}
	if len(list) == 0 {
		return nil
	}
	f := &consentFilter{include: inc, who: map[string]bool{}}
	for _, s := range list {
		f.who[s] = true
	}
	return f
}

// key is the filter in a comparable form, for groupKey.
func (f *consentFilter) key() string {
	if f == nil {
		return ""
	}
	names := make([]string, 0, len(f.who))
	for s := range f.who {
		names = append(names, s)
	}
	sort.Strings(names)
	sign := "-"
	if f.include {
		sign = "+"
	}
	return sign + strings.Join(names, "\x00")
}

func (f *consentFilter) allows(t mixer.Tile) bool {
	if f == nil {
		return true
	}
	listed := f.who[t.ID] || f.who[t.Name]
	return listed == f.include
}

func (k groupKey) settings() Settings { return Settings{Quality: k.quality, FPS: k.fps} }

// recGroup records a room once for every recording with the same settings
// and writes the packets into each recording's file. It is a Sink of the
// room: the room hands it tiles, pictures and the mix, and it never calls
// back into the room or its participants. Its own goroutine (run) owns the
// compositor's rendering, the encoders and the muxers, and its clock.
//
// A WebM group at the room's own live settings does not encode video at
// all: it subscribes to the live encoder's packets. If the live settings
// change later it falls back, for good, to its own compositor and encoder.
type recGroup struct {
	key groupKey
	log *slog.Logger
	// finished reports a member's file complete: id, duration, error.
	finished func(id string, duration float64, err error)

	comp       *mixer.Compositor // nil for audio only
	venc, aenc *transcode.Encoder
	audio      chan timedBlock
	packets    chan LivePacket
	cmds       chan func()
	quit       chan struct{}
	quitOnce   sync.Once
	done       chan struct{}
	// reuse is set while the group writes the live encoder's packets; only
	// run clears it.
	reuse atomic.Bool
	// consent leaves people out of the files; allowed holds the ids of the
	// tiles it lets in, for the audio loop.
	consent  *consentFilter
	allowed  atomic.Pointer[map[string]bool]
	voiceBuf []float32
	voiceLim *mixer.Limiter
	timeline *timelineLog

	mu      sync.Mutex
	ids     map[string]bool
	stopped bool
	freed   bool

	// run goroutine only
	members   map[string]*recMember
	start     time.Time
	lastPts   int64
	fed       int64 // audio samples given to the encoder
	blockPool [][]float32
}

// timedBlock is 20 ms of the room's mix and the wall-clock time it belongs to.
type timedBlock struct {
	s  []float32
	at time.Time
}

type recMember struct {
	id    string
	path  string
	start time.Time // wall-clock time of the file's first sample, once known
	mux   *transcode.Muxer
	keyed bool  // has received its first keyframe (or audio only)
	vOff  int64 // first video pts in the file
	aOff  int64 // first audio pts in the file
	aSet  bool  // aOff is known
	lastV int64
	lastA int64
	err   error
}

type groupOptions struct {
	key     groupKey
	threads int
	// live is the live encoder at the group's settings, when the room's
	// live output has them: the group then writes its packets.
	live     *transcode.VideoConfig
	log      *slog.Logger
	consent  *consentFilter
	finished func(id string, duration float64, err error)
}

func newRecGroup(o groupOptions) (g *recGroup, err error) {
	key := o.key
	g = &recGroup{
		key: key, finished: o.finished,
		log:   o.log.With("room", key.room.name, "format", key.format, "quality", key.quality, "fps", key.fps, "audio_only", key.audioOnly),
		audio: make(chan timedBlock, 100), packets: make(chan LivePacket, 2*key.fps),
		cmds: make(chan func()), quit: make(chan struct{}), done: make(chan struct{}),
		ids: map[string]bool{}, members: map[string]*recMember{}, lastPts: -1,
		consent: o.consent, timeline: newTimelineLog(),
	}
	if o.consent != nil {
		g.voiceBuf, g.voiceLim = make([]float32, mixer.BlockSamples), mixer.NewLimiter()
		g.allowed.Store(&map[string]bool{})
	}
	// Only a recording that shows what the live output shows may write its
	// packets.
	g.reuse.Store(o.live != nil && !key.audioOnly && key.layout == "" && o.consent == nil)
	defer func() {
		if err != nil {
			g.free()
		}
	}()
	global := key.format.NeedsGlobalHeader()
	if !key.audioOnly {
		w, h := key.quality.Size()
		if g.comp, err = mixer.NewCompositor(w, h); err != nil {
			return g, err
		}
		if key.layout != "" {
			g.comp.SetLayout(key.layout, key.pinned)
		}
		cfg := transcode.VideoConfig{
			Codec: key.format.VideoCodec(), Width: w, Height: h, FPS: key.fps,
			Bitrate: key.quality.VideoBitrate(key.fps), Threads: o.threads,
		}
		if g.reuse.Load() {
			// While reusing live packets this encoder only describes the
			// stream to the muxers (an MP4's avcC must hold the live
			// stream's SPS and PPS, so it has the live encoder's
			// settings); it encodes once the live output changes.
			cfg = *o.live
		}
		cfg.GlobalHeader = global
		g.venc, err = transcode.NewVideoEncoder(cfg)
		if err != nil {
			return g, err
		}
	}
	g.aenc, err = transcode.NewAudioEncoder(transcode.AudioConfig{Codec: key.format.AudioCodec(), Bitrate: key.format.AudioBitrate(), GlobalHeader: global})
	if err != nil {
		return g, err
	}
	g.start = time.Now()
	return g, nil
}

// SetTiles implements Sink. People the recording leaves out get no tile;
// the others' joins, leaves and turns go into the timeline.
func (g *recGroup) SetTiles(tiles []mixer.Tile) {
	if g.consent != nil {
		kept := make([]mixer.Tile, 0, len(tiles))
		allowed := make(map[string]bool, len(tiles))
		for _, t := range tiles {
			if g.consent.allows(t) {
				kept = append(kept, t)
				allowed[t.ID] = true
			}
		}
		tiles = kept
		g.allowed.Store(&allowed)
	}
	g.timeline.observe(tiles, time.Now())
	if g.comp != nil {
		g.comp.SetTiles(tiles)
	}
}

// SetLayout implements Sink: a recording without a layout of its own
// follows the room's.
func (g *recGroup) SetLayout(l mixer.Layout, pinned string) {
	if g.comp != nil && g.key.layout == "" {
		g.comp.SetLayout(l, pinned)
	}
}

// wantsVoices implements voiceSink: a recording that leaves people out
// mixes the voices it may keep instead of taking the room's mix.
func (g *recGroup) wantsVoices() bool { return g.consent != nil }

// Voices implements voiceSink, on the room's audio goroutine.
func (g *recGroup) Voices(ids []string, blocks [][]float32, at time.Time) {
	allowed := *g.allowed.Load()
	kept := make([][]float32, 0, len(blocks))
	for i, b := range blocks {
		if b != nil && allowed[ids[i]] {
			kept = append(kept, b)
		}
	}
	mixer.Mix(kept, g.voiceBuf, g.voiceLim, nil, nil)
	g.queueAudio(g.voiceBuf, at)
}

// Picture implements Sink: the compositor takes a reference, nothing more.
func (g *recGroup) Picture(id string, f *astiav.Frame, arrived time.Time) {
	if g.comp != nil {
		_ = g.comp.Push(id, f, arrived)
	}
}

// EndTile implements Sink.
func (g *recGroup) EndTile(id string) {
	if g.comp != nil {
		g.comp.End(id)
	}
}

// Audio implements Sink; it never blocks the room's audio loop. A block
// dropped here is made up for with silence in run, so the file's audio
// stays on the wall clock like its video.
func (g *recGroup) Audio(s []float32, at time.Time) { g.queueAudio(s, at) }

func (g *recGroup) queueAudio(s []float32, at time.Time) {
	select {
	case g.audio <- timedBlock{s: append([]float32(nil), s...), at: at}:
	default:
	}
}

// LiveCodec implements PacketSubscriber: the container's video codec.
func (g *recGroup) LiveCodec() output.Codec { return output.Codec(g.key.format.VideoCodec()) }

// LivePacket implements PacketSubscriber; a packet that does not fit in the
// queue is dropped, and the members wait for the next keyframe.
func (g *recGroup) LivePacket(p LivePacket) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.freed {
		p.Packet.Free()
		return
	}
	select {
	case g.packets <- p:
	default:
		p.Packet.Free()
	}
}

func (g *recGroup) has(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ids[id]
}

func (g *recGroup) isStopped() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stopped
}

// reserve claims the group for recording id, unless it is ending.
func (g *recGroup) reserve(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return false
	}
	g.ids[id] = true
	return true
}

// do runs f on the group's goroutine and waits for it.
func (g *recGroup) do(f func()) error {
	ack := make(chan struct{})
	select {
	case g.cmds <- func() { f(); close(ack) }:
	case <-g.done:
		return ErrClosed
	}
	select {
	case <-ack:
		return nil
	case <-g.done:
		return ErrClosed
	}
}

// add creates the file of recording id and starts writing into it. The
// muxer is made on the group's goroutine, which owns the encoders.
func (g *recGroup) add(id, path string) error {
	if !g.reserve(id) {
		return ErrClosed
	}
	var merr error
	err := g.do(func() {
		mux, err := transcode.NewMuxer(path, g.key.format, g.venc, g.aenc)
		if err != nil {
			merr = err
			return
		}
		g.members[id] = &recMember{id: id, path: path, mux: mux, keyed: g.venc == nil}
		if g.venc != nil && !g.reuse.Load() {
			// The file starts now, not at the next tick. Frame k covers
			// [k, k+1) frame intervals from g.start, rounded to the
			// nearest: the file then lasts its wall time to within a frame.
			now := time.Now()
			g.venc.ForceKeyframe()
			g.encodeFrame(now, g.ptsAt(now))
		}
	})
	if err == nil {
		err = merr
	}
	if err != nil {
		g.mu.Lock()
		delete(g.ids, id)
		g.mu.Unlock()
	}
	return err
}

// remove finishes recording id's file with everything queued for it.
func (g *recGroup) remove(id string) {
	_ = g.do(func() {
		if m := g.members[id]; m != nil {
			if g.venc != nil && !g.reuse.Load() {
				// The file lasts until now: its last frame ends here.
				now := time.Now()
				g.encodeFrame(now, g.ptsAt(now)-1)
			}
			g.drain()
			g.finish(m)
		}
	})
}

// drain writes the audio and live packets already queued, so that a file
// that ends while the machine is busy still holds everything until its end.
func (g *recGroup) drain() {
	for {
		select {
		case b := <-g.audio:
			g.encodeAudio(b)
		case p := <-g.packets:
			g.writeLive(p)
		default:
			return
		}
	}
}

func (g *recGroup) stop() {
	g.quitOnce.Do(func() { close(g.quit) })
	<-g.done
}

func (g *recGroup) finish(m *recMember) {
	delete(g.members, m.id)
	g.mu.Lock()
	delete(g.ids, m.id)
	g.mu.Unlock()
	err := m.mux.Close()
	if m.err != nil {
		err = m.err
	}
	if !m.start.IsZero() {
		base := strings.TrimSuffix(m.path, filepath.Ext(m.path))
		if terr := writeTimeline(base, g.timeline.cut(m.id, m.start, time.Now())); terr != nil {
			g.log.Warn("recording timeline", "id", m.id, "err", terr)
		}
	}
	var d float64
	switch {
	case g.venc != nil && m.keyed:
		d = float64(m.lastV-m.vOff+1) / float64(g.key.fps)
	case m.aSet:
		d = float64(m.lastA-m.aOff+int64(g.aenc.FrameSize())) / output.SampleRate
	}
	g.finished(m.id, math.Max(d, 0), err)
}

// run is the group's goroutine. It ends on stop, when its room closes or
// when its last member leaves; then it finishes every file. Its owner
// detaches it from the room and then calls free.
func (g *recGroup) run(roomDone <-chan struct{}) {
	defer close(g.done)
	defer func() {
		g.mu.Lock()
		g.stopped = true
		g.mu.Unlock()
		g.drain()
		for _, m := range g.members {
			g.finish(m)
		}
	}()
	var tick <-chan time.Time
	if g.venc != nil {
		t := time.NewTicker(time.Second / time.Duration(g.key.fps))
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-g.quit:
			return
		case <-roomDone:
			return
		case f := <-g.cmds:
			f()
		case b := <-g.audio:
			g.encodeAudio(b)
		case p := <-g.packets:
			g.writeLive(p)
		case now := <-tick:
			if !g.reuse.Load() {
				g.encodeAt(now)
			}
		}
		if g.empty() {
			return
		}
	}
}

// empty reports whether the group has no file left to write and none
// about to be added; it then refuses new ones.
func (g *recGroup) empty() bool {
	if len(g.members) > 0 {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopped = len(g.ids) == 0
	return g.stopped
}

// encodeAt composites and encodes the picture of wall-clock time now.
// Timestamps follow the wall clock, so a file lasts as long as the meeting
// even if the machine misses a tick.
func (g *recGroup) encodeAt(now time.Time) { g.encodeFrame(now, g.ptsAt(now)) }

// encodeFrame composites the picture of now as frame pts, unless a frame at
// or after pts was already made.
func (g *recGroup) encodeFrame(now time.Time, pts int64) {
	if pts <= g.lastPts {
		return
	}
	g.lastPts = pts
	pic, err := g.comp.Render(now)
	if err != nil {
		g.log.Warn("recording composite", "err", err)
		return
	}
	if err := g.venc.EncodeVideo(pic, pts, g.writeVideo); err != nil {
		g.log.Warn("recording video", "err", err)
	}
}

func (g *recGroup) ptsAt(t time.Time) int64 {
	return int64(math.Round(t.Sub(g.start).Seconds() * float64(g.key.fps)))
}

// writeLive writes one packet of the live encoder, or switches the group to
// its own encoder when the live output no longer has the group's settings.
func (g *recGroup) writeLive(p LivePacket) {
	defer p.Packet.Free()
	if !g.reuse.Load() {
		return
	}
	if p.Settings != g.key.settings() {
		g.log.Info("live output settings changed; recording encodes on its own from now on")
		g.reuse.Store(false)
		g.venc.ForceKeyframe()
		return
	}
	pts := max(g.ptsAt(p.At), g.lastPts+1)
	g.lastPts = pts
	p.Packet.SetPts(pts)
	p.Packet.SetDts(pts)
	p.Packet.SetDuration(1)
	if p.Key {
		p.Packet.SetFlags(p.Packet.Flags().Add(astiav.PacketFlagKey))
	}
	_ = g.writeVideo(p.Packet)
}

// encodeAudio keeps the audio on the wall clock: blocks lost on the way
// (a busy machine) become silence, audio running ahead is trimmed.
func (g *recGroup) encodeAudio(b timedBlock) {
	want := int64(b.at.Sub(g.start).Seconds() * output.SampleRate)
	s := b.s
	switch d := want - g.fed; {
	case want < 0:
		return
	case d > int64(len(s)):
		gap := make([]float32, d)
		if err := g.aenc.EncodeAudio(gap, false, g.writeAudio); err != nil {
			g.log.Warn("recording audio", "err", err)
		}
		g.fed += d
	case d < -int64(len(s)):
		return
	}
	if err := g.aenc.EncodeAudio(s, false, g.writeAudio); err != nil {
		g.log.Warn("recording audio", "err", err)
	}
	g.fed += int64(len(s))
}

func (g *recGroup) writeVideo(p *astiav.Packet) error {
	key := p.Flags().Has(astiav.PacketFlagKey)
	for _, m := range g.members {
		if !m.keyed {
			if !key {
				continue
			}
			m.keyed, m.vOff = true, p.Pts()
			m.start = g.start.Add(time.Duration(m.vOff) * time.Second / time.Duration(g.key.fps))
			m.aOff, m.aSet = m.vOff*output.SampleRate/int64(g.key.fps), true
			m.mux.SetOffset(g.venc, m.vOff)
			m.mux.SetOffset(g.aenc, m.aOff)
		}
		if err := m.mux.Write(g.venc, p); err != nil {
			g.fail(m, err)
			continue
		}
		m.lastV = p.Pts()
	}
	return nil
}

// fail ends a member whose file cannot be written, at once: the recording
// shows failed with the error while the others in the group go on.
func (g *recGroup) fail(m *recMember, err error) {
	m.err = err
	g.log.Error("writing recording", "id", m.id, "err", err)
	g.finish(m)
}

func (g *recGroup) writeAudio(p *astiav.Packet) error {
	for _, m := range g.members {
		if !m.keyed {
			continue
		}
		if !m.aSet {
			m.aOff, m.aSet = p.Pts(), true
			m.start = g.start.Add(time.Duration(m.aOff) * time.Second / output.SampleRate)
			m.mux.SetOffset(g.aenc, m.aOff)
		}
		if p.Pts() < m.aOff {
			continue
		}
		if err := m.mux.Write(g.aenc, p); err != nil {
			g.fail(m, err)
			continue
		}
		m.lastA = p.Pts()
	}
	return nil
}

// free releases the encoders and the compositor once run has ended and the
// group is detached from its room. A room call still under way is safe: the
// compositor ignores pictures once closed, and packets are freed at once.
func (g *recGroup) free() {
	g.mu.Lock()
	g.freed = true
	g.mu.Unlock()
	for drained := false; !drained; {
		select {
		case p := <-g.packets:
			p.Packet.Free()
		default:
			drained = true
		}
	}
	if g.comp != nil {
		g.comp.Close()
	}
	if g.venc != nil {
		g.venc.Close()
	}
	if g.aenc != nil {
		g.aenc.Close()
	}
}
