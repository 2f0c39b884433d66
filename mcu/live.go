package mcu

import (
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/mcu-dev/mcu/metrics"
	"github.com/mcu-dev/mcu/mixer"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/transcode"
)

// liveOutput is the room's live video: one compositor, and one encoder per
// (codec, rung) that some receiver is on or switching to. The canvas is
// drawn once per tick, scaled once per smaller rung in use, and encoded
// once per rendition; every receiver gets its rendition's packets on a
// track of its own. It is a sink that lives on the room's video goroutine,
// which also drives its clock: nothing else touches it.
type liveOutput struct {
	comp     *mixer.Compositor
	settings Settings
	ladder   []output.Rung
	threads  int
	preset   string
	base     time.Time // RTP time 0
	tsOffset uint32
	ticks    int64
	metrics  *metrics.Room                 // set by the video loop; nil-safe
	log      func(msg string, args ...any) // debug
	warn     func(msg string, args ...any)

	renditions map[renditionKey]*rendition
	failed     map[renditionKey]time.Time // renditions that could not open, until a retry
	// encoders lists the open renditions for the room API ("h264 360p").
	encoders *atomic.Pointer[[]string]
	scalers  map[int]*rungScaler
	need     []float64 // scratch: each rung's rate
}

func newLiveOutput(s Settings, threads int, preset string) (*liveOutput, error) {
	w, h := s.Quality.Size()
	comp, err := mixer.NewCompositor(w, h)
	if err != nil {
		return nil, err
	}
	return &liveOutput{comp: comp, settings: s, ladder: output.Ladder(s.Quality, s.FPS), threads: threads, preset: preset,
		base: time.Now(), tsOffset: uint32(time.Now().UnixNano()), log: func(string, ...any) {}, warn: func(string, ...any) {},
		renditions: map[renditionKey]*rendition{}, failed: map[renditionKey]time.Time{}, scalers: map[int]*rungScaler{}}, nil
}

func (l *liveOutput) SetTiles(tiles []mixer.Tile) { l.comp.SetTiles(tiles) }

func (l *liveOutput) Picture(id string, f *astiav.Frame, arrived time.Time) {
	_ = l.comp.Push(id, f, arrived)
}

func (l *liveOutput) EndTile(id string) { l.comp.End(id) }

// apply switches to new settings. A new size or frame rate rebuilds the
// ladder: every encoder is closed and every receiver starts again at its
// chooser's rung with a keyframe.
func (l *liveOutput) apply(s Settings, downs []*downTrack) error {
	if s.Quality != l.settings.Quality || s.FPS != l.settings.FPS {
		w, h := s.Quality.Size()
		if err := l.comp.Resize(w, h); err != nil {
			return err
		}
		l.closeRenditions()
		l.ladder = output.Ladder(s.Quality, s.FPS)
		for _, d := range downs {
			d.cur, d.chooser = -1, rungChooser{}
		}
	}
	l.settings = s
	return nil
}

// keyframeAll asks every running rendition for a keyframe (a new layout,
// a new receiver).
func (l *liveOutput) keyframeAll() {
	for _, r := range l.renditions {
		r.wantKey()
	}
}

// encode composites the picture of tick now, encodes it for every
// rendition in use and sends each connected receiver its packets. subs get
// the packets of their codec's rendition at the room's own size. It returns the
// bytes encoded, or -1 when nothing was in use (nothing composited).
func (l *liveOutput) encode(now time.Time, downs []*downTrack, subs []PacketSubscriber) (int64, error) {
	tick := l.ticks
	l.ticks++
	pin, ceiling := output.RungIndex(l.ladder, l.settings.Rung), max(0, output.RungIndex(l.ladder, l.settings.MaxRung))
	// Choose rungs, and mark the renditions in use.
	for _, d := range downs {
		if !d.connected.Load() {
			continue
		}
		if !now.Before(d.nextCheck) {
			l.chooseRung(d, now, pin, ceiling)
		}
		l.use(renditionKey{d.codec, d.chooser.target}, now)
		if d.cur >= 0 {
			l.use(renditionKey{d.codec, d.cur}, now)
		}
	}
	for _, s := range subs {
		l.use(renditionKey{s.LiveCodec(), 0}, now)
	}
	active := false
	for k, r := range l.renditions {
		if r.used.Equal(now) {
			active = true
		} else if now.Sub(r.used) >= renditionIdle {
			r.close()
			delete(l.renditions, k)
			l.log("live rendition closed", "codec", k.codec, "rung", r.spec.Name)
			l.publishEncoders()
		}
	}
	if !active {
		return -1, nil
	}
	start := time.Now()
	pic, err := l.comp.Render(now)
	l.metrics.Composited(time.Since(start))
	if err != nil {
		return 0, fmt.Errorf("mcu: compositing: %w", err)
	}
	// Receivers' keyframe requests go to the rendition they are on.
	for _, d := range downs {
		if d.keyWanted.Swap(false) && d.cur >= 0 {
			if r := l.renditions[renditionKey{d.codec, d.cur}]; r != nil {
				r.wantKey()
			}
		}
	}
	ts := l.tsOffset + uint32(now.Sub(l.base)*90000/time.Second)
	var sent int64
	start = time.Now()
	for k, r := range l.renditions {
		r.pkts = r.pkts[:0]
		if !r.used.Equal(now) || !r.due(tick) {
			continue
		}
		f := pic
		if k.rung > 0 {
			s := l.scalers[k.rung]
			if s == nil {
				c, err := transcode.NewCanvas(r.spec.Width, r.spec.Height)
				if err != nil {
					return sent, err
				}
				s = &rungScaler{canvas: c, tick: -1}
				l.scalers[k.rung] = s
			}
			if f, err = s.scale(pic, tick); err != nil {
				return sent, err
			}
		}
		var sub func(*astiav.Packet, bool)
		if k.rung == 0 && len(subs) > 0 {
			sub = func(pkt *astiav.Packet, key bool) {
				for _, s := range subs {
					if s.LiveCodec() == k.codec {
						s.LivePacket(LivePacket{Packet: pkt.Clone(), At: now, Key: key, Settings: l.settings.picture()})
					}
				}
			}
		}
		n, err := r.encode(f, ts, now, sub)
		sent += n
		if err != nil {
			return sent, fmt.Errorf("mcu: encoding live %s at %s: %w", k.codec, r.spec.Name, err)
		}
	}
	l.metrics.Encoded(time.Since(start))
	for _, d := range downs {
		if d.connected.Load() {
			l.feed(d, now)
		}
	}
	return sent, nil
}

// use marks rendition k as needed on this tick, opening it if need be.
func (l *liveOutput) use(k renditionKey, now time.Time) {
	r := l.renditions[k]
	if r == nil {
		if k.rung >= len(l.ladder) {
			return
		}
		if now.Before(l.failed[k]) {
			return
		}
		var err error
		if r, err = newRendition(k, l.ladder[k.rung], l.settings.FPS, l.threads, l.preset); err != nil {
			// Tried again every 10 s, not on every tick.
			l.failed[k] = now.Add(10 * time.Second)
			l.warn("cannot open a live rendition; its receivers get no video", "err", err)
			return
		}
		l.renditions[k] = r
		l.log("live rendition opened", "codec", k.codec, "rung", r.spec.Name)
		l.publishEncoders()
	}
	r.used = now
}

// chooseRung reconsiders receiver d's rung from its estimate and loss.
func (l *liveOutput) chooseRung(d *downTrack, now time.Time, pin, ceiling int) {
	d.nextCheck = now.Add(rungCheck)
	l.need = l.need[:0]
	for i := range l.ladder {
		// The estimate covers the whole connection: the mix's audio too.
		l.need = append(l.need, l.rungNeed(d.codec, i)+audioAllowance)
	}
	est, loss := d.readEstimator(now)
	// What the link has shown it carries: the video and padding sent over
	// the last second with the audio beside it (GCC's growth allowed on
	// top), or a rate a probe confirmed.
	shown, from := 0.0, est // from: where the next probe starts
	if sent := d.sent.add(now, d.bytesSent.Load()); sent > 0 {
		shown = shownGrowth * (sent + audioAllowance)
		from = min(est, shown)
	}
	before := d.chooser.target
	queue := d.link.queueDelay()
	congested := loss >= upLoss || queue > downQueue
	target := d.chooser.choose(now, l.need, d.probe.estimate(est), max(shown, d.probe.confirmed), loss, congested, pin, ceiling)
	if target < before {
		d.probe.done()
	}
	// Probe for the highest rung allowed while the chooser wants to climb,
	// a little past what that rung needs to fit: its rate moves from one
	// check to the next, and a probe that just reached yesterday's need
	// would show nothing today.
	want, media := 0.0, 0.0
	if d.chooser.probing && d.cur == target {
		want, media = l.need[ceiling]*rungHeadroom*probeMargin, l.need[target]
	}
	probing := d.probe.rate
	stop := probeStop(d, loss >= upLoss)
	d.probe.update(now, want, from, media, stop != "")
	if probing > 0 && d.probe.rate == 0 && stop != "" {
		l.log("probe ended", "participant", d.id, "rate", int(probing), "by", stop, "loss", loss, "queue_ms", queue.Milliseconds())
	}
	if target != before {
		l.log("receiver rung target", "participant", d.id, "from", l.ladder[before].Name, "to", l.ladder[target].Name,
			"estimate", int(est), "probed", int(d.probe.confirmed), "loss", loss)
	}
	info := &ReceiveInfo{Codec: string(d.codec), EstimateBPS: int(est), QueueMS: int(queue.Milliseconds()), ProbedBPS: int(d.probe.confirmed), Loss: loss,
		Probing: d.probe.rate > 0, Switches: d.switches.Load()}
	if d.cur >= 0 {
		info.Rung = l.ladder[d.cur].Name
	}
	if d.cur != target {
		info.Target = l.ladder[target].Name
	}
	d.stats.Store(info)
}

// probeStop says what ends d's probe now ("" for nothing): loss (lossy,
// from the rung check), a queue building, or feedback no longer coming.
func probeStop(d *downTrack, lossy bool) string {
	switch {
	case lossy:
		return "loss"
	case d.link.queueDelay() > probeQueueLimit:
		return "queue"
	case d.link.silent(probeSilence):
		return "no feedback"
	}
	return ""
}

// audioAllowance is what a receiver's audio takes besides its video: Opus
// at 48 kb/s with its RTP, SRTP and UDP overhead.
const audioAllowance = 64_000

// rungNeed is the rate rung i of codec sends: measured while it runs,
// else (or while it runs above its budget after a keyframe) its budget.
func (l *liveOutput) rungNeed(codec output.Codec, i int) float64 {
	budget := float64(l.ladder[i].Bitrate)
	rate := l.renditions[renditionKey{codec, i}].need()
	if rate == 0 || rate > budget {
		return budget
	}
	return rate
}

// feed sends receiver d this tick's packets of its rendition, switching to
// its target rung at the target's keyframe, and pads while it probes.
func (l *liveOutput) feed(d *downTrack, now time.Time) {
	target := l.renditions[renditionKey{d.codec, d.chooser.target}]
	if d.cur != d.chooser.target && target != nil {
		if len(target.pkts) > 0 && target.keyed {
			if d.cur >= 0 {
				d.switches.Add(1)
				l.metrics.RungSwitch()
				l.log("receiver switched rung", "participant", d.id, "from", l.ladder[d.cur].Name, "to", target.spec.Name)
			}
			d.cur = d.chooser.target
		} else {
			target.wantKey()
		}
	}
	if d.cur < 0 {
		return
	}
	r := l.renditions[renditionKey{d.codec, d.cur}]
	if r == nil || len(r.pkts) == 0 {
		return
	}
	d.send(r.pkts)
	if d.probe.rate > 0 {
		// Checked on every picture while probing, not only with the
		// rung: each tick of padding into a full link is lost. No
		// feedback is no news of the probe: stop too.
		if stop := probeStop(d, false); stop != "" {
			l.log("probe ended", "participant", d.id, "rate", int(d.probe.rate), "by", stop, "queue_ms", d.link.queueDelay().Milliseconds())
			d.probe.update(now, 0, 0, 0, true)
		}
	}
	if d.probe.rate > 0 && d.cur == d.chooser.target {
		// Padding makes up the difference between the probe's rate and
		// what the rung sends.
		if extra := d.probe.rate - l.rungNeed(d.codec, d.cur) - audioAllowance; extra > 0 {
			d.pad(extra * float64(r.every) / float64(l.settings.FPS))
		}
	}
}

// publishEncoders tells the room API which renditions are open.
func (l *liveOutput) publishEncoders() {
	if l.encoders == nil {
		return
	}
	names := make([]string, 0, len(l.renditions))
	for k, r := range l.renditions {
		names = append(names, string(k.codec)+" "+r.spec.Name)
	}
	slices.Sort(names)
	l.encoders.Store(&names)
}

func (l *liveOutput) closeRenditions() {
	for k, r := range l.renditions {
		r.close()
		delete(l.renditions, k)
	}
	l.publishEncoders()
	for k, s := range l.scalers {
		s.canvas.Close()
		delete(l.scalers, k)
	}
}

func (l *liveOutput) close() {
	l.closeRenditions()
	l.comp.Close()
}
