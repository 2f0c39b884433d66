package mcu

import (
	"fmt"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/mcu-dev/mcu/metrics"
	"github.com/mcu-dev/mcu/mixer"
	"github.com/mcu-dev/mcu/transcode"
)

// liveOutput is the room's live video: one compositor, one VP8 encoder and
// the one track every participant receives. It is a sink that lives on the
// room's video goroutine, which also drives its clock: nothing else touches
// it.
type liveOutput struct {
	comp     *mixer.Compositor
	enc      *transcode.Encoder
	track    *webrtc.TrackLocalStaticSample
	settings Settings
	threads  int
	pts      int64
	lastSent time.Time
	metrics  *metrics.Room // set by the video loop; nil-safe
}

func newLiveOutput(track *webrtc.TrackLocalStaticSample, s Settings, threads int) (*liveOutput, error) {
	w, h := s.Quality.Size()
	comp, err := mixer.NewCompositor(w, h)
	if err != nil {
		return nil, err
	}
	l := &liveOutput{comp: comp, track: track, settings: s, threads: threads}
	if l.enc, err = l.newEncoder(s); err != nil {
		comp.Close()
		return nil, err
	}
	return l, nil
}

func (l *liveOutput) newEncoder(s Settings) (*transcode.Encoder, error) {
	w, h := s.Quality.Size()
	enc, err := transcode.NewVideoEncoder(transcode.VideoConfig{
		Codec: "vp8", Width: w, Height: h, FPS: s.FPS, Bitrate: s.Quality.VideoBitrate(s.FPS),
		Threads: l.threads, ErrorResilient: true,
	})
	if err != nil {
		return nil, fmt.Errorf("mcu: live video encoder: %w", err)
	}
	return enc, nil
}

func (l *liveOutput) SetTiles(tiles []mixer.Tile) { l.comp.SetTiles(tiles) }

func (l *liveOutput) Picture(id string, f *astiav.Frame, arrived time.Time) {
	_ = l.comp.Push(id, f, arrived)
}

func (l *liveOutput) EndTile(id string) { l.comp.End(id) }

// apply switches to new settings: the new encoder first, so that nothing
// changes if it cannot be made.
func (l *liveOutput) apply(s Settings) error {
	enc, err := l.newEncoder(s)
	if err != nil {
		return err
	}
	w, h := s.Quality.Size()
	if err := l.comp.Resize(w, h); err != nil {
		enc.Close()
		return err
	}
	l.enc.Close()
	l.enc, l.settings, l.pts = enc, s, 0
	return nil
}

// encode composites and encodes the picture of tick now, writes it to the
// shared track and hands each packet to subs. It returns the bytes sent.
func (l *liveOutput) encode(now time.Time, key bool, subs []PacketSubscriber) (int64, error) {
	if key {
		l.enc.ForceKeyframe()
	}
	start := time.Now()
	pic, err := l.comp.Render(now)
	l.metrics.Composited(time.Since(start))
	if err != nil {
		return 0, fmt.Errorf("mcu: compositing: %w", err)
	}
	// The RTP clock follows the wall clock, also across skipped ticks.
	dur := time.Second / time.Duration(l.settings.FPS)
	if !l.lastSent.IsZero() && now.Sub(l.lastSent) > dur {
		dur = now.Sub(l.lastSent)
	}
	l.lastSent = now
	var sent int64
	start = time.Now()
	err = l.enc.EncodeVideo(pic, l.pts, func(pkt *astiav.Packet) error {
		data := pkt.Data()
		sent += int64(len(data))
		if len(subs) > 0 {
			isKey := pkt.Flags().Has(astiav.PacketFlagKey)
			for _, s := range subs {
				s.LivePacket(LivePacket{Packet: pkt.Clone(), At: now, Key: isKey, Settings: l.settings})
			}
		}
		return l.track.WriteSample(media.Sample{Data: data, Duration: dur})
	})
	l.metrics.Encoded(time.Since(start))
	l.pts++
	if err != nil {
		return sent, fmt.Errorf("mcu: encoding live video: %w", err)
	}
	return sent, nil
}

func (l *liveOutput) close() {
	l.enc.Close()
	l.comp.Close()
}
