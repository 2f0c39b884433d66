package mcu

import (
	"fmt"
	"image"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/transcode"
)

// rtpMTU bounds an RTP packet's size, as pion's own tracks do.
const rtpMTU = 1200

// renditionIdle is how long a rendition nobody needs keeps its encoder, so
// that a receiver switching back and forth does not rebuild it each time.
const renditionIdle = 3 * time.Second

// renditionKey names one encoding of the room's canvas.
type renditionKey struct {
	codec output.Codec
	rung  int // index into the ladder, 0 is the room's own size
}

// rendition is one (codec, rung) of the room's live video: an encoder fed
// with the canvas (or its scaled copy) and an RTP packetizer. The room's
// video goroutine owns it.
type rendition struct {
	spec    output.Rung
	enc     *transcode.Encoder
	pack    rtp.Packetizer
	pts     int64
	every   int // encode one tick in every: the 180p rung runs at 15 fps
	lastKey time.Time
	keyWant bool
	used    time.Time // last tick a receiver or subscriber needed it

	// rate is the bits per second it sent, averaged over about 2 s.
	rate      float64
	rateBits  int64
	rateSince time.Time

	// this tick's output
	pkts  []*rtp.Packet
	keyed bool // this tick's picture is a keyframe
}

// liveVideoConfig is the encoder of rendition (codec, spec) in a room at
// roomFPS. A recording that writes a rendition's packets describes its
// stream with an encoder of the same settings, so that the parameter sets
// in its file header are the ones in the packets.
func liveVideoConfig(codec output.Codec, spec output.Rung, roomFPS, threads int, preset string) transcode.VideoConfig {
	return transcode.VideoConfig{
		Codec: string(codec), Width: spec.Width, Height: spec.Height, FPS: min(spec.MaxFPS, roomFPS),
		Bitrate: spec.Bitrate, Threads: threads, ErrorResilient: true, Preset: preset, Live: true,
	}
}

func newRendition(k renditionKey, spec output.Rung, roomFPS, threads int, preset string) (*rendition, error) {
	cfg := liveVideoConfig(k.codec, spec, roomFPS, threads, preset)
	fps := cfg.FPS
	enc, err := transcode.NewVideoEncoder(cfg)
	if err != nil {
		return nil, fmt.Errorf("mcu: live %s encoder at %s: %w", k.codec, spec.Name, err)
	}
	var pay rtp.Payloader = &codecs.VP8Payloader{EnablePictureID: true}
	if k.codec == output.H264 {
		pay = &codecs.H264Payloader{}
	}
	// The payload type and SSRC are each receiver's, set by its track.
	return &rendition{spec: spec, enc: enc, every: max(1, roomFPS/fps), keyWant: true,
		pack: rtp.NewPacketizer(rtpMTU, 0, 0, pay, rtp.NewFixedSequencer(0), 90000)}, nil
}

// due reports whether the rendition encodes on tick n.
func (r *rendition) due(n int64) bool { return n%int64(r.every) == 0 }

// encode encodes f (already at the rendition's size) with RTP timestamp
// ts, leaving the packets in r.pkts. sub, when set, gets each encoded
// packet (recordings that reuse the live output).
func (r *rendition) encode(f *astiav.Frame, ts uint32, now time.Time, sub func(*astiav.Packet, bool)) (int64, error) {
	r.pkts, r.keyed = r.pkts[:0], false
	if r.keyWant && now.Sub(r.lastKey) >= keyframeThrottle || r.lastKey.IsZero() {
		r.enc.ForceKeyframe()
		r.keyWant = false
	}
	var sent int64
	err := r.enc.EncodeVideo(f, r.pts, func(pkt *astiav.Packet) error {
		data := pkt.Data()
		key := pkt.Flags().Has(astiav.PacketFlagKey)
		if key {
			r.keyed, r.lastKey = true, now
		}
		if sub != nil {
			sub(pkt, key)
		}
		for _, p := range r.pack.Packetize(data, 0) {
			p.Timestamp = ts
			sent += int64(len(p.Payload) + 12)
			r.pkts = append(r.pkts, p)
		}
		return nil
	})
	r.pts++
	r.rateBits += sent * 8
	if r.rateSince.IsZero() {
		r.rateSince = now
	} else if dt := now.Sub(r.rateSince); dt >= 2*time.Second {
		r.rate = float64(r.rateBits) / dt.Seconds()
		r.rateBits, r.rateSince = 0, now
	}
	return sent, err
}

// wantKey asks for a keyframe as soon as the throttle allows.
func (r *rendition) wantKey() { r.keyWant = true }

// need is the rate the rendition has been sending, 0 for a rendition that
// is not running or not measured yet (rungNeed then counts on its budget).
func (r *rendition) need() float64 {
	if r == nil {
		return 0
	}
	return r.rate
}

func (r *rendition) close() { r.enc.Close() }

// rungScaler scales the canvas once per tick for each smaller rung in use.
type rungScaler struct {
	canvas *transcode.Canvas
	tick   int64 // the tick it last scaled
}

func (s *rungScaler) scale(src *astiav.Frame, tick int64) (*astiav.Frame, error) {
	if s.tick == tick {
		return s.canvas.Frame(), nil
	}
	if err := s.canvas.Begin(); err != nil {
		return nil, err
	}
	w, h := s.canvas.Size()
	if err := s.canvas.Draw(0, src, image.Rect(0, 0, w, h)); err != nil {
		return nil, fmt.Errorf("mcu: scaling the canvas to %dx%d: %w", w, h, err)
	}
	s.tick = tick
	return s.canvas.Frame(), nil
}
