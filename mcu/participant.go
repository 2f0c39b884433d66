package mcu

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/mcu-dev/mcu/internal/readahead"
	"github.com/mcu-dev/mcu/mixer"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/signaling"
	"github.com/mcu-dev/mcu/transcode"
)

// pliThrottle is the shortest gap between two PLIs sent to one publisher.
const pliThrottle = 500 * time.Millisecond

// Participant is one member of a room with one PeerConnection: it publishes
// audio and video, and receives the room's composite and its own mix-minus.
type Participant struct {
	room *Room
	id   string
	name string
	out  signaling.Sender
	log  *slog.Logger
	// receiveOnly participants publish nothing: no tile, no voice.
	receiveOnly bool
	// publishOnly participants are sent nothing (canSubscribe=false).
	publishOnly bool
	// connected is true while the PeerConnection is up: the audio loop
	// encodes a mix for this participant only then.
	connected atomic.Bool

	pc       *webrtc.PeerConnection
	bwe      cc.BandwidthEstimator
	meter    *linkMeter
	down     *downTrack // this receiver's video, once its offer is in
	audioOut *webrtc.TrackLocalStaticSample
	audioIn  mixer.Track
	sync     *avSync
	inBlock  []float32 // owned by the room's audio loop
	outBlock []float32 // owned by the room's audio loop

	tracksAdded bool // owned by the signaling goroutine
	downMu      sync.Mutex
	gone        atomic.Bool
	leaveOnce   sync.Once
	left        chan struct{} // closed once the participant has left
	wg          sync.WaitGroup
	spawnMu     sync.Mutex
	closing     bool
	joined      time.Time

	hasVideo, hasAudio     atomic.Bool
	videoMuted, audioMuted atomic.Bool
	screen                 atomic.Bool // the video is a screen share
	bytesIn, bytesOut      atomic.Int64
	framesDecoded          atomic.Int64
	packetsLost            atomic.Int64
	plisSent               atomic.Int64
	decodeErrors           atomic.Int64
	strayPackets           atomic.Int64 // dropped far outside the stream's window
	overruns               atomic.Int64 // dropped because decoding fell behind
	lastStrayLog           atomic.Int64 // unix nanoseconds
	lastPLI                atomic.Int64 // unix nanoseconds

	statsMu   sync.Mutex
	lastStats statsSample
	rates     rates
}

type rates struct {
	in, out int64
	fps     float64
}

type statsSample struct {
	at                time.Time
	bytesIn, bytesOut int64
	frames            int64
}

func newParticipant(r *Room, id, name string, opts signaling.JoinOptions, out signaling.Sender) (*Participant, error) {
	pc, bwe, meter, err := r.rooms.newPeerConnection()
	if err != nil {
		return nil, fmt.Errorf("mcu: peer connection: %w", err)
	}
	// Receive-only participants all hear the full mix: they share the
	// room's one track, encoded once however many they are.
	audioOut := r.mixTrack
	if !opts.ReceiveOnly {
		audioOut, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: output.SampleRate, Channels: 2}, "audio", "mcu-"+r.name+"-"+id)
		if err != nil {
			_ = pc.Close()
			return nil, fmt.Errorf("mcu: audio track: %w", err)
		}
	}
	p := &Participant{
		room: r, id: id, name: name, out: out, log: r.log.With("participant", id), receiveOnly: opts.ReceiveOnly, publishOnly: opts.PublishOnly,
		pc: pc, bwe: bwe, meter: meter, audioOut: audioOut, joined: time.Now(), sync: newAVSync(), left: make(chan struct{}),
		inBlock:  make([]float32, mixer.BlockSamples),
		outBlock: make([]float32, mixer.BlockSamples),
	}
	p.lastStats.at = p.joined
	// Live audio: start after 40 ms of jitter absorption, never let more
	// than 200 ms queue up.
	p.audioIn.Prefill = 2 * mixer.BlockSamples
	p.audioIn.MaxQueued = 10 * mixer.BlockSamples
	pc.OnTrack(p.onTrack)
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.log.Debug("connection state", "state", s.String())
		switch s {
		case webrtc.PeerConnectionStateConnected:
			if !p.connected.Swap(true) && !p.publishOnly {
				if d := p.downTrack(); d != nil {
					d.connected.Store(true)
				}
				r.receivers.Add(1)
				r.wake()
			}
			r.RequestKeyframe()
		case webrtc.PeerConnectionStateDisconnected, webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
			if p.connected.Swap(false) && !p.publishOnly {
				if d := p.downTrack(); d != nil {
					d.connected.Store(false)
				}
				r.receivers.Add(-1)
			}
			if s == webrtc.PeerConnectionStateFailed {
				go p.Leave()
			}
		}
	})
	return p, nil
}

// ID implements signaling.Session.
func (p *Participant) ID() string { return p.id }

// Name is the participant's display name.
func (p *Participant) Name() string { return p.name }

func (p *Participant) info() signaling.Participant {
	return signaling.Participant{ID: p.id, Name: p.name,
		Video: p.hasVideo.Load() && !p.videoMuted.Load(), Audio: p.hasAudio.Load() && !p.audioMuted.Load(), Screen: p.screen.Load()}
}

func (p *Participant) isGone() bool { return p.gone.Load() }

// Offer implements signaling.Session: it applies the client's offer, binds
// the room's composite and this participant's mix-minus to the offered
// transceivers and answers with all local candidates.
func (p *Participant) Offer(sdp string) (string, error) {
	if p.gone.Load() {
		return "", ErrClosed
	}
	audio, video, err := offerShape(sdp)
	if err != nil {
		return "", &signaling.Error{Code: signaling.CodeBadRequest, Message: "invalid offer: " + err.Error()}
	}
	var restart bool
	if prev := p.pc.RemoteDescription(); prev != nil {
		restart = signaling.ICEUfrag(prev.SDP) != signaling.ICEUfrag(sdp)
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return "", &signaling.Error{Code: signaling.CodeBadRequest, Message: "invalid offer: " + err.Error()}
	}
	if d := p.downTrack(); d != nil && restart {
		p.log.Debug("ICE restart: loss ignored while the path changes", "for", pathCalm)
		d.newPath()
	}
	if !p.tracksAdded {
		var tracks []webrtc.TrackLocal
		if p.publishOnly {
			video, audio = false, false // nothing is sent to this participant
		}
		if video {
			codec, err := p.room.videoCodecFor(sdp)
			if err != nil {
				return "", err
			}
			d, err := newDownTrack(p.id, codec, p.bwe, p.meter)
			if err != nil {
				return "", fmt.Errorf("mcu: video track: %w", err)
			}
			d.connected.Store(p.connected.Load())
			p.downMu.Lock()
			p.down = d
			p.downMu.Unlock()
			p.room.addDown(d)
			tracks = append(tracks, d.track)
		}
		if audio {
			tracks = append(tracks, p.audioOut)
		}
		for _, t := range tracks {
			sender, err := p.pc.AddTrack(t)
			if err != nil {
				return "", fmt.Errorf("mcu: adding %s track: %w", t.Kind(), err)
			}
			video := t.Kind() == webrtc.RTPCodecTypeVideo
			p.spawn(func() { p.readRTCP(sender, video) })
		}
		p.tracksAdded = true
	}
	answer, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return "", &signaling.Error{Code: signaling.CodeBadRequest, Message: "cannot answer offer: " + err.Error()}
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("mcu: setting answer: %w", err)
	}
	select {
	case <-gathered:
	case <-time.After(3 * time.Second):
	}
	return p.pc.LocalDescription().SDP, nil
}

// offerShape checks that an offer has the shape the protocol allows: at
// most one audio and one video section, and nothing else. Each decoder
// costs CPU, so an offer with eight video sections is refused rather than
// decoded eight times into one tile. audio and video report the sections
// that can receive: a sendonly section (a WHIP publisher) gets nothing.
func offerShape(offer string) (audio, video bool, err error) {
	var d sdp.SessionDescription
	if err := d.UnmarshalString(offer); err != nil {
		return false, false, err
	}
	var na, nv int
	for _, m := range d.MediaDescriptions {
		_, sendOnly := m.Attribute("sendonly")
		_, inactive := m.Attribute("inactive")
		receives := !sendOnly && !inactive
		switch m.MediaName.Media {
		case "audio":
			na++
			audio = receives
		case "video":
			nv++
			video = receives
		default:
			return false, false, fmt.Errorf("media section %q is not supported (only audio and video)", m.MediaName.Media)
		}
	}
	if na > 1 || nv > 1 || na+nv == 0 {
		return false, false, fmt.Errorf("want at most one audio and one video section, got %d audio and %d video", na, nv)
	}
	return audio, video, nil
}

// Answer implements signaling.Session for server-initiated renegotiation.
func (p *Participant) Answer(sdp string) error {
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		return &signaling.Error{Code: signaling.CodeBadRequest, Message: "invalid answer: " + err.Error()}
	}
	return nil
}

// AddCandidate implements signaling.Session.
func (p *Participant) AddCandidate(c webrtc.ICECandidateInit) error {
	if err := p.pc.AddICECandidate(c); err != nil {
		return &signaling.Error{Code: signaling.CodeBadRequest, Message: "invalid candidate: " + err.Error()}
	}
	return nil
}

// SetSettings implements signaling.Session: it changes the room's output.
func (p *Participant) SetSettings(quality string, fps int) error {
	if _, err := p.room.SetSettings(quality, fps); err != nil {
		return &signaling.Error{Code: signaling.CodeBadRequest, Message: err.Error()}
	}
	return nil
}

// SetMuted implements signaling.Session. A muted camera's tile shows the
// placeholder at once; a muted microphone is left out of the mix. The
// streams keep flowing (and decoding, so unmuting needs no keyframe).
func (p *Participant) SetMuted(video, audio *bool) error {
	// The room's video loop sees the camera state on its next tick.
	if video != nil {
		p.videoMuted.Store(*video)
	}
	if audio != nil {
		p.audioMuted.Store(*audio)
		p.room.republish() // the name on the tile gets or loses its mark
	}
	info := p.info()
	p.room.Broadcast(signaling.Message{Type: signaling.TypeParticipantUpdated, Participant: &info})
	return nil
}

// SetScreen implements signaling.Session. The web client shares its screen
// by replacing its camera track, so the server cannot tell a share from a
// camera by the media: the client says so, and the room's presenter layout
// (automatic in the "auto" layout) shows this participant large.
func (p *Participant) SetScreen(on bool) error {
	if p.receiveOnly {
		return &signaling.Error{Code: signaling.CodeBadRequest, Message: "share: a receive-only participant has no video"}
	}
	if p.screen.Swap(on) == on {
		return nil
	}
	p.room.republish()
	info := p.info()
	p.room.Broadcast(signaling.Message{Type: signaling.TypeParticipantUpdated, Participant: &info})
	return nil
}

// SetView implements signaling.Session: it changes the room's layout. The
// signaling layer has checked the roomAdmin grant when tokens are in use.
func (p *Participant) SetView(layout string, pinned *string) error {
	if _, err := p.room.SetView(layout, pinned); err != nil {
		return &signaling.Error{Code: signaling.CodeBadRequest, Message: err.Error()}
	}
	return nil
}

// Leave implements signaling.Session: the participant leaves the room and
// everything it holds is freed. It is idempotent.
func (p *Participant) Leave() {
	p.leaveOnce.Do(func() {
		p.gone.Store(true)
		p.room.leave(p)
		p.close()
		close(p.left)
	})
}

// Done is closed once the participant has left the room, on request or
// because its connection failed.
func (p *Participant) Done() <-chan struct{} { return p.left }

// ReceiveOnly reports whether the participant only watches and listens.
func (p *Participant) ReceiveOnly() bool { return p.receiveOnly }

// spawn runs fn on a goroutine that close waits for, unless closing began.
func (p *Participant) spawn(fn func()) {
	p.spawnMu.Lock()
	defer p.spawnMu.Unlock()
	if p.closing {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		fn()
	}()
}

// downTrack is the participant's video track, nil before its offer.
func (p *Participant) downTrack() *downTrack {
	p.downMu.Lock()
	defer p.downMu.Unlock()
	return p.down
}

// close stops the PeerConnection, which ends the read loops, and waits for them.
func (p *Participant) close() {
	if d := p.downTrack(); d != nil {
		d.connected.Store(false)
		p.room.removeDown(d)
	}
	p.spawnMu.Lock()
	p.closing = true
	p.spawnMu.Unlock()
	p.gone.Store(true)
	if err := p.pc.Close(); err != nil {
		p.log.Debug("closing peer connection", "err", err)
	}
	p.wg.Wait()
	if p.connected.Swap(false) && !p.publishOnly {
		p.room.receivers.Add(-1)
	}
	p.sync.close()
}

// readRTCP drains a sender's RTCP (the interceptors need it read) and turns
// receivers' keyframe requests into one for the room encoder.
func (p *Participant) readRTCP(s *webrtc.RTPSender, video bool) {
	var ssrc uint32 // the video we send, whose loss reports count
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		d := p.downTrack()
		if !video || d == nil {
			continue
		}
		if ssrc == 0 {
			if enc := s.GetParameters().Encodings; len(enc) > 0 {
				ssrc = uint32(enc[0].SSRC)
			}
		}
		for _, pkt := range pkts {
			switch pkt := pkt.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				d.keyWanted.Store(true)
			case *rtcp.ReceiverReport:
				for _, rep := range pkt.Reports {
					if rep.SSRC == ssrc {
						d.reportLoss(rep.FractionLost)
					}
				}
			}
		}
	}
}

func (p *Participant) onTrack(t *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	codec := strings.ToLower(strings.TrimPrefix(t.Codec().MimeType, t.Kind().String()+"/"))
	if p.receiveOnly {
		// Nothing a receive-only participant sends is decoded or shown.
		p.log.Warn("receive-only participant sends media; ignored", "kind", t.Kind().String())
		return
	}
	p.log.Info("publishing", "kind", t.Kind().String(), "codec", codec)
	p.spawn(func() { p.readSenderReports(t, recv) })
	if t.Kind() == webrtc.RTPCodecTypeVideo {
		p.spawn(func() { p.readVideo(t, codec) })
	} else {
		p.spawn(func() { p.readAudio(t, codec) })
	}
}

// readSenderReports feeds the publisher's RTCP sender reports to lip sync.
func (p *Participant) readSenderReports(t *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	video := t.Kind() == webrtc.RTPCodecTypeVideo
	for {
		pkts, _, err := recv.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			if sr, ok := pkt.(*rtcp.SenderReport); ok && sr.SSRC == uint32(t.SSRC()) {
				p.sync.senderReport(sr, video)
			}
		}
	}
}

// releaseVideo returns the picture that is due now against this
// participant's audio clock (the caller frees it), or nil. Only the room's
// video loop calls it: it is the one consumer of the lip-sync queue, and
// the one that steers the audio delay.
func (p *Participant) releaseVideo(now time.Time) (*astiav.Frame, time.Time) {
	f, arrived, delay := p.sync.due(now, p.audioIn.Queued())
	switch {
	case delay > 0:
		p.audioIn.Delay(int(delay.Seconds() * mixer.SampleRate))
		p.log.Debug("delaying audio for lip sync", "by", delay)
	case delay < 0:
		p.audioIn.Undelay(int(-delay.Seconds() * mixer.SampleRate))
		p.log.Debug("reducing lip-sync audio delay", "by", -delay)
	}
	return f, arrived
}

// sendPLI asks the publisher for a keyframe, at most every pliThrottle.
func (p *Participant) sendPLI(ssrc webrtc.SSRC) {
	now := time.Now().UnixNano()
	last := p.lastPLI.Load()
	if now-last < int64(pliThrottle) || !p.lastPLI.CompareAndSwap(last, now) {
		return
	}
	if err := p.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(ssrc)}}); err == nil {
		p.plisSent.Add(1)
	}
}

// strayPacket counts a packet the guard dropped, logging at most one line
// every 10 s with the count so far.
func (p *Participant) strayPacket() {
	n := p.strayPackets.Add(1)
	now := time.Now().UnixNano()
	last := p.lastStrayLog.Load()
	if now-last >= int64(10*time.Second) && p.lastStrayLog.CompareAndSwap(last, now) {
		p.log.Warn("dropping RTP packets far outside the stream's sequence or timestamp window", "total", n)
	}
}

// Tracks are read ahead of their decoding (see package readahead): about
// two seconds of 720p video, or of audio, may wait before packets are
// dropped.
const (
	videoReadAhead = 512
	audioReadAhead = 100
)

// overrun counts a packet dropped because decoding fell too far behind.
func (p *Participant) overrun() { p.overruns.Add(1) }

// readVideo depacketizes, decodes and hands pictures to the compositor.
// After loss or a decoding error it drops pictures until the next keyframe
// (the tile keeps its last good picture) and asks for one.
func (p *Participant) readVideo(t *webrtc.TrackRemote, codec string) {
	var depack, fastDepack rtp.Depacketizer
	var isKey func([]byte) bool
	switch codec {
	case "vp8":
		depack, fastDepack, isKey = &codecs.VP8Packet{}, &codecs.VP8Packet{}, vp8Keyframe
	case "h264":
		depack, fastDepack, isKey = &codecs.H264Packet{}, &codecs.H264Packet{}, h264Keyframe
	default:
		p.log.Warn("unsupported video codec", "codec", codec)
		return
	}
	dec, err := transcode.NewStreamDecoder(codec)
	if err != nil {
		p.log.Error("video decoder", "err", err)
		return
	}
	defer dec.Close()
	p.hasVideo.Store(true)
	defer p.hasVideo.Store(false)
	newVideoFramer := func() *framer {
		return newFramer(128, depack, fastDepack, 90000, []samplebuilder.Option{samplebuilder.WithMaxTimeDelay(300 * time.Millisecond)}, false)
	}
	fr := newVideoFramer()
	guard := &rtpGuard{rate: 90000}
	ssrc := t.SSRC()
	needKey := true
	p.sendPLI(ssrc)
	var lastSeq uint16
	haveSeq := false
	var unpad unpadder
	for pkt := range readahead.Track(t, videoReadAhead, p.overrun) {
		p.bytesIn.Add(int64(pkt.MarshalSize()))
		ok, resynced := guard.accept(pkt)
		if !ok {
			p.strayPacket()
			continue
		}
		if resynced {
			fr, needKey, haveSeq, unpad = newVideoFramer(), true, false, unpadder{}
		}
		if haveSeq {
			if gap := pkt.SequenceNumber - lastSeq; gap > 1 && gap < 1000 {
				p.packetsLost.Add(int64(gap - 1))
			}
		}
		if !haveSeq || int16(pkt.SequenceNumber-lastSeq) > 0 {
			lastSeq, haveSeq = pkt.SequenceNumber, true
		}
		if !unpad.keep(pkt) {
			continue
		}
		for _, s := range fr.push(pkt) {
			// Anything the samplebuilder dropped (lost, too late, or a
			// picture whose start never came) may have been a reference:
			// decode nothing until a keyframe rather than show smears.
			if s.PrevDroppedPackets > 0 {
				needKey = true
			}
			if needKey {
				if !isKey(s.Data) {
					p.sendPLI(ssrc)
					continue
				}
				needKey = false
			}
			arrived := time.Now()
			ts := s.PacketTimestamp
			err := dec.DecodeVideo(s.Data, func(f *astiav.Frame) error {
				p.framesDecoded.Add(1)
				if p.videoMuted.Load() {
					return nil
				}
				p.sync.hold(f, ts, arrived)
				return nil
			})
			if err != nil {
				p.decodeErrors.Add(1)
				needKey = true
				p.sendPLI(ssrc)
			}
		}
	}
}

// readAudio decodes Opus and queues it for the room's audio loop.
func (p *Participant) readAudio(t *webrtc.TrackRemote, codec string) {
	if codec != "opus" {
		p.log.Warn("unsupported audio codec", "codec", codec)
		return
	}
	dec, err := transcode.NewStreamDecoder("opus")
	if err != nil {
		p.log.Error("audio decoder", "err", err)
		return
	}
	defer dec.Close()
	p.hasAudio.Store(true)
	defer p.hasAudio.Store(false)
	newAudioFramer := func() *framer {
		return newFramer(16, &codecs.OpusPacket{}, &codecs.OpusPacket{}, output.SampleRate, []samplebuilder.Option{samplebuilder.WithMaxTimeDelay(100 * time.Millisecond)}, true)
	}
	fr := newAudioFramer()
	guard := &rtpGuard{rate: output.SampleRate}
	for pkt := range readahead.Track(t, audioReadAhead, p.overrun) {
		p.bytesIn.Add(int64(pkt.MarshalSize()))
		ok, resynced := guard.accept(pkt)
		if !ok {
			p.strayPacket()
			continue
		}
		if resynced {
			fr = newAudioFramer()
		}
		for _, s := range fr.push(pkt) {
			if len(s.Data) == 0 {
				continue
			}
			n := 0
			muted := p.audioMuted.Load()
			if err := dec.DecodeAudio(s.Data, func(x []float32) {
				if !muted {
					p.audioIn.Append(x)
					n += len(x)
				}
			}); err != nil {
				p.decodeErrors.Add(1)
				continue
			}
			p.sync.audioQueued(s.PacketTimestamp, n)
		}
	}
}

// audioBlock returns the next 20 ms of this participant's voice, or nil when
// there is none. Called by the room's audio loop only.
func (p *Participant) audioBlock() []float32 {
	if !p.audioIn.Take(p.inBlock) {
		return nil
	}
	return p.inBlock
}

// mixBuf is the buffer the audio loop writes this participant's mix into.
func (p *Participant) mixBuf() []float32 { return p.outBlock }

func (p *Participant) writeAudio(data []byte) error {
	p.bytesOut.Add(int64(len(data)))
	return p.audioOut.WriteSample(media.Sample{Data: data, Duration: 20 * time.Millisecond})
}

// ParticipantInfo is a participant with live statistics.
type ParticipantInfo struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	JoinedAt      time.Time `json:"joined_at"`
	Video         bool      `json:"video"`
	Audio         bool      `json:"audio"`
	State         string    `json:"state"`
	BitrateIn     int64     `json:"bitrate_in"`
	BitrateOut    int64     `json:"bitrate_out"`
	DecodedFPS    float64   `json:"decoded_fps"`
	FramesDecoded int64     `json:"frames_decoded"`
	PacketsLost   int64     `json:"packets_lost"`
	PLIsSent      int64     `json:"plis_sent"`
	DecodeErrors  int64     `json:"decode_errors"`
	// StrayPackets counts RTP packets dropped for being far outside their
	// stream's sequence and timestamp window (garbage or a broken sender).
	StrayPackets int64 `json:"stray_packets"`
	// Overruns counts packets dropped because decoding fell too far behind
	// their arrival (video ones also count in PacketsLost).
	Overruns int64 `json:"overruns"`
	// AVOffsetMS is the smoothed capture-time offset between the pictures
	// shown and the audio played with them (negative: pictures late), once
	// lip sync runs (both streams' sender reports known).
	AVOffsetMS   *float64 `json:"av_offset_ms,omitempty"`
	AudioDelayMS float64  `json:"audio_delay_ms"`
	// Receive is the video this participant receives: codec, rung,
	// bandwidth estimate and loss (absent before its first offer).
	Receive *ReceiveInfo `json:"receive,omitempty"`
}

// Stats returns the participant's statistics. Rates cover at least the
// last second: a window is closed only once it is a second old, so several
// API clients polling at once do not shorten each other's windows.
func (p *Participant) Stats() ParticipantInfo {
	now := time.Now()
	in, frames := p.bytesIn.Load(), p.framesDecoded.Load()
	out := p.bytesOut.Load()
	d := p.downTrack()
	if d != nil {
		out += d.bytesSent.Load()
	}
	if p.receiveOnly {
		out += p.room.mixBytesOut.Load()
	}
	info := ParticipantInfo{
		ID: p.id, Name: p.name, JoinedAt: p.joined, Video: p.hasVideo.Load(), Audio: p.hasAudio.Load(),
		State: p.pc.ConnectionState().String(), FramesDecoded: frames,
		PacketsLost: p.packetsLost.Load(), PLIsSent: p.plisSent.Load(), DecodeErrors: p.decodeErrors.Load(), StrayPackets: p.strayPackets.Load(),
		Overruns: p.overruns.Load(),
	}
	if off, ok := p.sync.offsetMS(); ok {
		info.AVOffsetMS = &off
	}
	if d != nil {
		if rs := d.stats.Load(); rs != nil {
			c := *rs
			c.Switches = d.switches.Load()
			info.Receive = &c
		}
	}
	info.AudioDelayMS = float64(p.sync.delayedAudio().Milliseconds())

	p.statsMu.Lock()
	defer p.statsMu.Unlock()
	if dt := now.Sub(p.lastStats.at).Seconds(); dt >= 1 || p.rates == (rates{}) && dt > 0.05 {
		prev := p.lastStats
		p.rates = rates{
			in:  int64(float64(in-prev.bytesIn) * 8 / dt),
			out: int64(float64(out-prev.bytesOut) * 8 / dt),
			fps: float64(frames-prev.frames) / dt,
		}
		if dt >= 1 {
			p.lastStats = statsSample{at: now, bytesIn: in, bytesOut: out, frames: frames}
		}
	}
	info.BitrateIn, info.BitrateOut, info.DecodedFPS = p.rates.in, p.rates.out, p.rates.fps
	return info
}

// vp8Keyframe reads the VP8 payload header: bit 0 clear marks a keyframe.
func vp8Keyframe(b []byte) bool { return len(b) > 0 && b[0]&1 == 0 }

// h264Keyframe looks for an IDR or SPS NAL unit in Annex-B data.
func h264Keyframe(b []byte) bool {
	for i := 0; i+3 < len(b); i++ {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			switch b[i+3] & 0x1f {
			case 5, 7:
				return true
			}
		}
	}
	return false
}
