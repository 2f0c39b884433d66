package mcu

import (
	"context"
	"fmt"
	"image"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/mcu-dev/mcu/mixer"
	"github.com/mcu-dev/mcu/signaling"
	"github.com/mcu-dev/mcu/transcode"
)

// keyframeThrottle is the shortest gap between two keyframes forced by
// receivers' PLIs.
const keyframeThrottle = 500 * time.Millisecond

// Settings are a room's output settings.
type Settings struct {
	Quality transcode.Quality `json:"quality"`
	FPS     int               `json:"fps"`
}

// AudioSink receives the room's full mix (everyone), 20 ms at a time, on the
// room's audio goroutine; it must copy s if it keeps it and must not block.
type AudioSink interface {
	WriteAudio(s []float32, at time.Time)
}

// EmptyRoomTimeout is how long a room that is still being recorded stays
// open after its last participant left.
var EmptyRoomTimeout = 30 * time.Second

// Room is one meeting: its participants, its compositor and encoder, and
// the loops that drive them. The video loop owns the encoder; the audio loop
// owns the per-participant Opus encoders; mu guards the rest.
type Room struct {
	srv  *Server
	name string
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc

	comp       *mixer.Compositor
	videoTrack *webrtc.TrackLocalStaticSample
	settingsCh chan struct{}

	mu           sync.Mutex
	participants []*Participant
	settings     Settings
	nextID       int
	closed       bool
	created      time.Time
	keyPending   bool
	lastKey      time.Time
	extraComps   map[*mixer.Compositor]struct{}
	audioSinks   map[AudioSink]struct{}
	holds        int
	emptySince   time.Time
	stats        roomStats
}

type roomStats struct {
	framesOut    int64
	bytesOut     int64
	keyframes    int64
	latency      []time.Duration // recent server-added latencies
	latencyIndex int
}

func newRoom(s *Server, name string) (*Room, error) {
	w, h := s.cfg.Quality.Size()
	comp, err := mixer.NewCompositor(w, h)
	if err != nil {
		return nil, err
	}
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "mcu-"+name)
	if err != nil {
		comp.Close()
		return nil, fmt.Errorf("mcu: room video track: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Room{
		srv: s, name: name, log: s.log.With("room", name),
		ctx: ctx, cancel: cancel,
		comp: comp, videoTrack: track,
		settingsCh: make(chan struct{}, 1),
		settings:   Settings{Quality: s.cfg.Quality, FPS: s.cfg.FPS},
		created:    time.Now(),
		extraComps: map[*mixer.Compositor]struct{}{}, audioSinks: map[AudioSink]struct{}{},
	}, nil
}

// Name is the room's name.
func (r *Room) Name() string { return r.name }

// Settings returns the room's output settings.
func (r *Room) Settings() Settings {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.settings
}

func (r *Room) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// run drives the room until it closes.
func (r *Room) run() {
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
	// Extra compositors belong to the recordings, which free them.
	r.comp.Close()
	r.log.Info("room closed")
}

// Close removes everyone and stops the room. It is idempotent.
func (r *Room) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
}

func (r *Room) join(name string, out signaling.Sender) (*Participant, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	if len(r.participants) >= r.srv.cfg.MaxParticipants {
		r.mu.Unlock()
		return nil, ErrRoomFull
	}
	r.nextID++
	id := fmt.Sprintf("p%d", r.nextID)
	r.mu.Unlock()

	p, err := newParticipant(r, id, name, out)
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
	list := r.participantListLocked()
	settings := r.settings
	r.mu.Unlock()

	r.log.Info("participant joined", "participant", id, "name", name)
	out.Send(signaling.Message{Type: signaling.TypeJoined, Room: r.name, ParticipantID: id, Participants: list,
		Quality: string(settings.Quality), FPS: settings.FPS})
	info := p.info()
	r.broadcast(signaling.Message{Type: signaling.TypeParticipantJoined, Participant: &info}, p)
	r.relayout()
	return p, nil
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
	r.participants = append(r.participants[:idx], r.participants[idx+1:]...)
	empty := len(r.participants) == 0
	held := r.holds > 0
	if empty {
		r.emptySince = time.Now()
	}
	r.mu.Unlock()
	r.log.Info("participant left", "participant", p.id)
	info := p.info()
	r.broadcast(signaling.Message{Type: signaling.TypeParticipantLeft, Participant: &info}, nil)
	if empty && !held {
		r.Close()
		return
	}
	r.relayout()
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
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Participant(nil), r.participants...)
}

// relayout gives every participant a tile in join order and tells everyone.
func (r *Room) relayout() {
	r.mu.Lock()
	tiles := make([]mixer.Tile, len(r.participants))
	for i, p := range r.participants {
		tiles[i] = mixer.Tile{ID: p.id, Name: p.name}
	}
	// Under r.mu, so that concurrent joins and leaves apply in order.
	for _, c := range r.compositorsLocked() {
		c.SetTiles(tiles)
	}
	r.mu.Unlock()
	r.broadcast(signaling.Message{Type: signaling.TypeLayout, Layout: r.Layout()}, nil)
	r.RequestKeyframe()
}

// Layout returns every participant's tile on the composite.
func (r *Room) Layout() []signaling.Tile {
	rects := r.comp.Layout()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]signaling.Tile, 0, len(rects))
	for i, p := range r.participants {
		if i >= len(rects) {
			break
		}
		out = append(out, tileOf(p, rects[i]))
	}
	return out
}

func tileOf(p *Participant, rc image.Rectangle) signaling.Tile {
	return signaling.Tile{ParticipantID: p.id, Name: p.name, X: rc.Min.X, Y: rc.Min.Y, W: rc.Dx(), H: rc.Dy()}
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
	var q transcode.Quality
	var err error
	if quality != "" {
		if q, err = transcode.ParseQuality(quality); err != nil {
			return r.Settings(), err
		}
	}
	if fps != 0 {
		if err := transcode.CheckFPS(fps); err != nil {
			return r.Settings(), err
		}
	}
	r.mu.Lock()
	s := r.settings
	if q != "" {
		s.Quality = q
	}
	if fps != 0 {
		s.FPS = fps
	}
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
		r.log.Info("output settings changed", "quality", s.Quality, "fps", s.FPS)
	}
	r.broadcast(signaling.Message{Type: signaling.TypeSettings, Quality: string(s.Quality), FPS: s.FPS}, nil)
	return s, nil
}

// RequestKeyframe asks the room encoder for a keyframe. Requests closer
// than keyframeThrottle to the previous keyframe are held, not dropped: the
// video loop serves them once the throttle allows.
func (r *Room) RequestKeyframe() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keyPending = true
}

// takeKeyframe reports whether the encoder should make a keyframe now.
func (r *Room) takeKeyframe(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.keyPending || now.Sub(r.lastKey) < keyframeThrottle {
		return false
	}
	r.keyPending, r.lastKey = false, now
	r.stats.keyframes++
	return true
}

// AddAudioSink makes s receive the full mix until removed.
func (r *Room) AddAudioSink(s AudioSink) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.audioSinks[s] = struct{}{}
}

// RemoveAudioSink stops s; once it returns, s gets no more audio.
func (r *Room) RemoveAudioSink(s AudioSink) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.audioSinks, s)
}

// AttachCompositor creates a compositor of its own size that receives every
// participant's pictures, for an output whose size differs from the live
// one (a recording). DetachCompositor frees it.
func (r *Room) AttachCompositor(w, h int) (*mixer.Compositor, error) {
	c, err := mixer.NewCompositor(w, h)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		c.Close()
		return nil, ErrClosed
	}
	tiles := make([]mixer.Tile, len(r.participants))
	for i, p := range r.participants {
		tiles[i] = mixer.Tile{ID: p.id, Name: p.name}
	}
	c.SetTiles(tiles)
	r.extraComps[c] = struct{}{}
	return c, nil
}

// DetachCompositor stops feeding c and frees it.
func (r *Room) DetachCompositor(c *mixer.Compositor) {
	r.mu.Lock()
	_, ok := r.extraComps[c]
	delete(r.extraComps, c)
	r.mu.Unlock()
	if ok {
		c.Close()
	}
}

func (r *Room) compositorsLocked() []*mixer.Compositor {
	out := make([]*mixer.Compositor, 0, 1+len(r.extraComps))
	out = append(out, r.comp)
	for c := range r.extraComps {
		out = append(out, c)
	}
	return out
}

// endTile shows participant id's placeholder on every compositor.
func (r *Room) endTile(id string) {
	r.mu.Lock()
	comps := r.compositorsLocked()
	r.mu.Unlock()
	for _, c := range comps {
		c.End(id)
	}
}

// pushFrame hands a participant's picture to every compositor of the room.
func (r *Room) pushFrame(id string, f *astiav.Frame, at time.Time) error {
	r.mu.Lock()
	comps := r.compositorsLocked()
	r.mu.Unlock()
	for _, c := range comps {
		if err := c.Push(id, f, at); err != nil {
			return err
		}
	}
	return nil
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

func (r *Room) newVideoEncoder(s Settings) (*transcode.Encoder, error) {
	w, h := s.Quality.Size()
	return transcode.NewVideoEncoder(transcode.VideoConfig{
		Codec: "vp8", Width: w, Height: h, FPS: s.FPS, Bitrate: s.Quality.VideoBitrate(s.FPS),
		Threads: r.srv.cfg.EncoderThreads, ErrorResilient: true,
	})
}

// videoLoop composites and encodes on the room's own clock, whatever the
// inputs do, and sends the same packets to every participant.
func (r *Room) videoLoop() {
	s := r.Settings()
	enc, err := r.newVideoEncoder(s)
	if err != nil {
		r.log.Error("video encoder", "err", err)
		r.Close()
		return
	}
	defer func() { enc.Close() }()
	ticker := time.NewTicker(time.Second / time.Duration(s.FPS))
	defer ticker.Stop()
	var pts int64
	var lastTick time.Time
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-r.settingsCh:
			ns := r.Settings()
			if ns == s {
				continue
			}
			// The new encoder first: if it cannot be made, nothing changes.
			e, err := r.newVideoEncoder(ns)
			if err != nil {
				r.log.Error("video encoder", "err", err)
				continue
			}
			w, h := ns.Quality.Size()
			if err := r.comp.Resize(w, h); err != nil {
				e.Close()
				r.log.Error("resizing compositor", "err", err)
				continue
			}
			enc.Close()
			enc, s, pts = e, ns, 0
			ticker.Reset(time.Second / time.Duration(s.FPS))
			r.broadcast(signaling.Message{Type: signaling.TypeLayout, Layout: r.Layout()}, nil)
		case now := <-ticker.C:
			if r.takeKeyframe(now) {
				enc.ForceKeyframe()
			}
			for _, p := range r.Participants() {
				p.releaseVideo(now)
			}
			pic, err := r.comp.Render(now)
			if err != nil {
				r.log.Error("compositing", "err", err)
				continue
			}
			fresh := r.comp.DrawnPushTimes()
			// The RTP clock follows the wall clock even when ticks are missed.
			dur := time.Second / time.Duration(s.FPS)
			if !lastTick.IsZero() && now.Sub(lastTick) > dur {
				dur = now.Sub(lastTick)
			}
			lastTick = now
			var sent int64
			err = enc.EncodeVideo(pic, pts, func(pkt *astiav.Packet) error {
				data := pkt.Data()
				sent += int64(len(data))
				return r.videoTrack.WriteSample(media.Sample{Data: data, Duration: dur})
			})
			pts++
			if err != nil {
				r.log.Warn("encoding video", "err", err)
			}
			done := time.Now()
			r.mu.Lock()
			r.stats.framesOut++
			r.stats.bytesOut += sent
			for _, t := range fresh {
				r.recordLatencyLocked(done.Sub(t))
			}
			r.mu.Unlock()
			r.checkEmpty(now)
		}
	}
}

func (r *Room) recordLatencyLocked(d time.Duration) {
	const keep = 512
	if len(r.stats.latency) < keep {
		r.stats.latency = append(r.stats.latency, d)
		return
	}
	r.stats.latency[r.stats.latencyIndex%keep] = d
	r.stats.latencyIndex++
}

// audioLoop mixes every 20 ms: the full mix for sinks, and for each
// participant the mix without their own voice, encoded with their own Opus
// encoder. It follows the wall clock: blocks missed while the machine was
// busy are made up (a few at a time) so that audio never falls behind.
func (r *Room) audioLoop() {
	m := &roomMixer{room: r, outs: map[*Participant]*mixOut{}, full: make([]float32, mixer.BlockSamples), lim: mixer.NewLimiter()}
	defer m.close()
	const block = 20 * time.Millisecond
	ticker := time.NewTicker(block)
	defer ticker.Stop()
	start := time.Now()
	var done int64
	for {
		select {
		case <-r.ctx.Done():
			return
		case now := <-ticker.C:
			due := int64(now.Sub(start) / block)
			if due-done > 5 {
				done = due - 5 // too far behind: skip rather than burst
			}
			for ; done < due; done++ {
				m.mixBlock(start.Add(time.Duration(done) * block))
			}
		}
	}
}

// roomMixer is the audio loop's state; only that goroutine touches it.
type roomMixer struct {
	room  *Room
	outs  map[*Participant]*mixOut
	full  []float32
	lim   *mixer.Limiter
	ins   [][]float32
	minus [][]float32
	lims  []*mixer.Limiter
	sinks []AudioSink
}

type mixOut struct {
	enc *transcode.Encoder
	lim *mixer.Limiter
}

func (m *roomMixer) mixBlock(at time.Time) {
	r := m.room
	ps := r.Participants()
	for p, o := range m.outs {
		if p.isGone() {
			o.close()
			delete(m.outs, p)
		}
	}
	m.ins, m.minus, m.lims = m.ins[:0], m.minus[:0], m.lims[:0]
	active := ps[:0:0]
	for _, p := range ps {
		o := m.outs[p]
		if o == nil {
			enc, err := transcode.NewAudioEncoder("opus", 48_000, false)
			if err != nil {
				r.log.Error("opus encoder", "err", err)
				continue
			}
			o = &mixOut{enc: enc, lim: mixer.NewLimiter()}
			m.outs[p] = o
		}
		active = append(active, p)
		m.ins = append(m.ins, p.audioBlock())
		m.minus = append(m.minus, p.mixBuf())
		m.lims = append(m.lims, o.lim)
	}
	mixer.Mix(m.ins, m.full, m.lim, m.minus, m.lims)
	for i, p := range active {
		if err := m.outs[p].enc.EncodeAudio(m.minus[i], false, func(pkt *astiav.Packet) error {
			return p.writeAudio(pkt.Data())
		}); err != nil {
			r.log.Warn("encoding audio", "participant", p.id, "err", err)
		}
	}
	r.mu.Lock()
	m.sinks = m.sinks[:0]
	for k := range r.audioSinks {
		m.sinks = append(m.sinks, k)
	}
	r.mu.Unlock()
	for _, k := range m.sinks {
		k.WriteAudio(m.full, at)
	}
}

func (m *roomMixer) close() {
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
	Name         string            `json:"name"`
	Settings     Settings          `json:"settings"`
	Participants []ParticipantInfo `json:"participants"`
	Layout       []signaling.Tile  `json:"layout"`
	CreatedAt    time.Time         `json:"created_at"`
	FramesOut    int64             `json:"frames_out"`
	Keyframes    int64             `json:"keyframes_forced"`
	VideoBytes   int64             `json:"video_bytes_out"`
	// LatencyMedianMS is the median time from a picture arriving to the
	// first composite containing it being sent.
	LatencyMedianMS float64 `json:"latency_median_ms"`
}

// Info returns a snapshot of the room with live participant statistics.
func (r *Room) Info() RoomInfo {
	ps := r.Participants()
	info := RoomInfo{Name: r.name, Settings: r.Settings(), Layout: r.Layout(), Participants: make([]ParticipantInfo, 0, len(ps))}
	for _, p := range ps {
		info.Participants = append(info.Participants, p.Stats())
	}
	r.mu.Lock()
	info.CreatedAt, info.FramesOut, info.VideoBytes, info.Keyframes = r.created, r.stats.framesOut, r.stats.bytesOut, r.stats.keyframes
	lat := append([]time.Duration(nil), r.stats.latency...)
	r.mu.Unlock()
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		info.LatencyMedianMS = float64(lat[len(lat)/2]) / float64(time.Millisecond)
	}
	return info
}
