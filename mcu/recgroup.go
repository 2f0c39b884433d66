package mcu

import (
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/mcu-dev/mcu/mixer"
	"github.com/mcu-dev/mcu/transcode"
)

// groupKey identifies recordings that can share encoders.
type groupKey struct {
	room      *Room
	format    transcode.Format
	quality   transcode.Quality
	fps       int
	audioOnly bool
}

// recGroup composites (at its own size) and encodes a room once for every
// recording with the same settings, and writes the packets into each
// recording's file. One goroutine (run) owns the encoders and the muxers.
type recGroup struct {
	rc   *Recorder
	key  groupKey
	room *Room
	log  *slog.Logger

	comp       *mixer.Compositor // nil for audio only
	venc, aenc *transcode.Encoder
	audio      chan timedBlock
	cmds       chan func()
	quit       chan struct{}
	quitOnce   sync.Once
	done       chan struct{}

	mu  sync.Mutex
	ids map[string]bool

	members map[string]*recMember // run goroutine only
	start   time.Time
	lastPts int64
	fed     int64 // audio samples given to the encoder
	ending  atomic.Bool
}

// timedBlock is 20 ms of the room's mix and the wall-clock time it belongs to.
type timedBlock struct {
	s  []float32
	at time.Time
}

type recMember struct {
	id    string
	mux   *transcode.Muxer
	keyed bool  // has received its first keyframe (or audio only)
	vOff  int64 // first video pts in the file
	aOff  int64 // first audio pts in the file
	aSet  bool  // aOff is known
	lastV int64
	lastA int64
	err   error
}

func newRecGroup(rc *Recorder, key groupKey) (g *recGroup, err error) {
	g = &recGroup{
		rc: rc, key: key, room: key.room,
		log:   rc.log.With("room", key.room.name, "format", key.format, "quality", key.quality, "fps", key.fps, "audio_only", key.audioOnly),
		audio: make(chan timedBlock, 100), cmds: make(chan func()), quit: make(chan struct{}), done: make(chan struct{}),
		ids: map[string]bool{}, members: map[string]*recMember{}, lastPts: -1,
	}
	defer func() {
		if err != nil {
			g.free()
		}
	}()
	mp4 := key.format == transcode.MP4
	if !key.audioOnly {
		w, h := key.quality.Size()
		if g.comp, err = key.room.AttachCompositor(w, h); err != nil {
			return g, err
		}
		g.venc, err = transcode.NewVideoEncoder(transcode.VideoConfig{
			Codec: key.format.VideoCodec(), Width: w, Height: h, FPS: key.fps,
			Bitrate: key.quality.VideoBitrate(key.fps), Threads: rc.srv.cfg.EncoderThreads, GlobalHeader: mp4,
		})
		if err != nil {
			return g, err
		}
	}
	abr := 64_000
	if mp4 {
		abr = 96_000
	}
	if g.aenc, err = transcode.NewAudioEncoder(key.format.AudioCodec(), abr, mp4); err != nil {
		return g, err
	}
	g.start = time.Now()
	key.room.Hold()
	key.room.AddAudioSink(g)
	return g, nil
}

// WriteAudio implements AudioSink; it never blocks the room's audio loop.
// A block dropped here is made up for with silence in run, so the file's
// audio stays on the wall clock like its video.
func (g *recGroup) WriteAudio(s []float32, at time.Time) {
	select {
	case g.audio <- timedBlock{s: append([]float32(nil), s...), at: at}:
	default:
	}
}

func (g *recGroup) has(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ids[id]
}

func (g *recGroup) stopped() bool {
	if g.ending.Load() {
		return true
	}
	select {
	case <-g.done:
		return true
	case <-g.quit:
		return true
	default:
		return false
	}
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
	g.mu.Lock()
	g.ids[id] = true
	g.mu.Unlock()
	var merr error
	err := g.do(func() {
		mux, err := transcode.NewMuxer(path, g.key.format, g.venc, g.aenc)
		if err != nil {
			merr = err
			return
		}
		g.members[id] = &recMember{id: id, mux: mux, keyed: g.venc == nil}
		if g.venc != nil {
			g.venc.ForceKeyframe()
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

// remove finishes recording id's file.
func (g *recGroup) remove(id string) {
	_ = g.do(func() {
		if m := g.members[id]; m != nil {
			g.finish(m)
		}
	})
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
	var d float64
	switch {
	case g.venc != nil && m.keyed:
		d = float64(m.lastV-m.vOff+1) / float64(g.key.fps)
	case m.aSet:
		d = float64(m.lastA-m.aOff+int64(g.aenc.FrameSize())) / transcode.SampleRate
	}
	g.rc.finished(m.id, math.Max(d, 0), err)
}

func (g *recGroup) run() {
	defer close(g.done)
	defer g.free()
	defer func() {
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
		case <-g.room.ctx.Done():
			return
		case f := <-g.cmds:
			f()
			if len(g.members) == 0 {
				g.ending.Store(true)
				return
			}
		case b := <-g.audio:
			g.encodeAudio(b)
		case now := <-tick:
			// Timestamps follow the wall clock, so a file lasts as long as
			// the meeting even if the machine misses a tick.
			pts := int64(math.Round(now.Sub(g.start).Seconds() * float64(g.key.fps)))
			if pts <= g.lastPts {
				continue
			}
			g.lastPts = pts
			for _, p := range g.room.Participants() {
				p.releaseVideo(now)
			}
			pic, err := g.comp.Render(now)
			if err != nil {
				g.log.Warn("recording composite", "err", err)
				continue
			}
			if err := g.venc.EncodeVideo(pic, pts, g.writeVideo); err != nil {
				g.log.Warn("recording video", "err", err)
			}
		}
	}
}

// encodeAudio keeps the audio on the wall clock: blocks lost on the way
// (a busy machine) become silence, audio running ahead is trimmed.
func (g *recGroup) encodeAudio(b timedBlock) {
	want := int64(b.at.Sub(g.start).Seconds() * transcode.SampleRate)
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
			m.aOff, m.aSet = m.vOff*transcode.SampleRate/int64(g.key.fps), true
			m.mux.SetOffset(g.venc, m.vOff)
			m.mux.SetOffset(g.aenc, m.aOff)
		}
		m.lastV = p.Pts()
		if err := m.mux.Write(g.venc, p); err != nil && m.err == nil {
			m.err = err
			g.log.Error("writing recording", "id", m.id, "err", err)
		}
	}
	return nil
}

func (g *recGroup) writeAudio(p *astiav.Packet) error {
	for _, m := range g.members {
		if !m.keyed {
			continue
		}
		if !m.aSet {
			m.aOff, m.aSet = p.Pts(), true
			m.mux.SetOffset(g.aenc, m.aOff)
		}
		if p.Pts() < m.aOff {
			continue
		}
		m.lastA = p.Pts()
		if err := m.mux.Write(g.aenc, p); err != nil && m.err == nil {
			m.err = err
			g.log.Error("writing recording", "id", m.id, "err", err)
		}
	}
	return nil
}

func (g *recGroup) free() {
	g.room.RemoveAudioSink(g)
	if g.comp != nil {
		g.room.DetachCompositor(g.comp)
		g.comp = nil
	}
	if g.venc != nil {
		g.venc.Close()
		g.venc = nil
	}
	if g.aenc != nil {
		g.aenc.Close()
		g.aenc = nil
	}
	if !g.start.IsZero() {
		g.start = time.Time{}
		g.room.Release()
	}
}
