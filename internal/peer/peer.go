// Package peer is a WebRTC client of the MCU for tests and the load
// generator: it joins a room over the websocket protocol, publishes a solid
// colour and a sine tone, a pre-encoded Clip, or nothing, and decodes what
// it receives or only counts it.
package peer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/gorilla/websocket"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/mcu-dev/mcu/internal/readahead"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/signaling"
	"github.com/mcu-dev/mcu/transcode"
)

// Options configures a client.
type Options struct {
	URL  string // ws://host:port/ws
	Room string
	Name string
	// Token is the access token: sent as access_token on the websocket and
	// as a bearer token by DialWHIP and DialWHEP; empty sends none.
	Token string
	// TLS configures wss:// connections (a test's self-signed server).
	TLS *tls.Config
	// NetworkTypes of the client's ICE candidates (default UDP4); TCP4
	// alone makes a client whose UDP is blocked.
	NetworkTypes []webrtc.NetworkType
	// Colour of the published picture; nil publishes no video.
	Colour *color.RGBA
	// Tone in Hz of the published audio; 0 publishes no audio.
	Tone float64
	// Quiet starts the audio track silent until SetTone(true).
	Quiet bool
	// Width, Height and FPS of the published video (default 320x240 at 15).
	Width, Height, FPS int
	// VideoCodec of the published Colour: "vp8" (default) or "h264".
	VideoCodec string
	// Codecs, when set, are the only video codecs the client offers
	// ("vp8", "h264"), for sending and receiving; VideoCodec must be one.
	Codecs []string
	// Decode the received video (tests) or only count frames (load).
	Decode bool
	// Clip, when set, is replayed as the published video and audio instead
	// of Colour and Tone; a keyframe request jumps to its next keyframe.
	Clip *Clip
	// Watch, when set (and Decode is not), is called with every received
	// picture as soon as its last packet is in, and the time its first
	// packet arrived. It runs on the receiving goroutine and must be quick.
	Watch func(img *image.YCbCr, at time.Time)
	// RestartICE, when set, makes the client notice a dead network path
	// within about a second and restart ICE over the same websocket (an
	// offer with new credentials and candidates), as a browser that moved
	// from one network to another does.
	RestartICE bool
	// UDPPorts, when set, is the range of the client's UDP ports (a test
	// can shape traffic to them).
	UDPPorts [2]uint16
	// ICEAddresses, when set, limits the addresses ICE gathers on.
	ICEAddresses func(net.IP) bool
}

// Client is one connected participant.
type Client struct {
	opts Options
	ws   *websocket.Conn
	pc   *webrtc.PeerConnection
	ID   string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	sendVideo    atomic.Bool
	quiet        atomic.Bool // the tone is off: the audio track sends silence
	restarting   atomic.Bool
	keyWanted    atomic.Bool // the server asked for a keyframe (Clip replay)
	disconnected atomic.Bool // the signaling connection has ended
	videoCodec   atomic.Pointer[string]

	sent []atomic.Int64 // unix nanoseconds each Clip picture was last sent

	mu        sync.Mutex
	layout    []signaling.Tile
	events    []signaling.Message
	last      *image.YCbCr
	audio     []float32
	frameGaps []time.Duration
	lastFrame time.Time

	FramesReceived atomic.Int64
	// ICERestarts counts the ICE restarts the client started.
	ICERestarts atomic.Int64
	// BytesReceived counts RTP bytes (header and payload) of both tracks,
	// VideoBytesReceived those of the video track.
	BytesReceived      atomic.Int64
	VideoBytesReceived atomic.Int64
	// VideoPackets and VideoPacketsLost count the video packets received
	// and the gaps in their sequence numbers.
	VideoPackets     atomic.Int64
	VideoPacketsLost atomic.Int64
	lastSeq          int             // owned by the video receiving goroutine; -1 before the first
	missing          map[uint16]bool // sequence numbers lost so far, until they arrive late
	joinedCh         chan signaling.Message
	answerCh         chan string
	resource         string // the WHIP/WHEP session URL
}

// Dial joins the room and negotiates media. It returns once the answer is
// applied. A "redirect" from a cluster node is followed (a few hops at
// most), as the web client does.
func Dial(ctx context.Context, o Options) (*Client, error) {
	for hops := 0; ; hops++ {
		c, err := dial(ctx, o)
		var rd redirectError
		if !errors.As(err, &rd) || hops == 3 {
			return c, err
		}
		o.URL = string(rd)
	}
}

// redirectError carries the websocket URL of the node that has the room.
type redirectError string

func (e redirectError) Error() string { return "peer: redirected to " + string(e) }

func dial(ctx context.Context, o Options) (*Client, error) {
	if o.Width == 0 {
		o.Width, o.Height = 320, 240
	}
	if o.FPS == 0 {
		o.FPS = 15
	}
	u := o.URL
	if o.Token != "" {
		u += "?access_token=" + url.QueryEscape(o.Token)
	}
	dialer := *websocket.DefaultDialer
	dialer.TLSClientConfig = o.TLS
	ws, _, err := dialer.DialContext(ctx, u, nil)
	if err != nil {
		return nil, fmt.Errorf("peer: dialing %s: %w", o.URL, err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{opts: o, ws: ws, ctx: cctx, cancel: cancel, lastSeq: -1, joinedCh: make(chan signaling.Message, 1), answerCh: make(chan string, 1)}
	c.sendVideo.Store(o.Colour != nil || o.Clip != nil)
	c.quiet.Store(o.Quiet)
	if o.Clip != nil {
		c.sent = make([]atomic.Int64, len(o.Clip.Video))
	}
	c.wg.Add(1)
	go c.readLoop()
	if err := c.negotiate(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Client) send(m signaling.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ws.WriteJSON(m)
}

func (c *Client) readLoop() {
	defer c.wg.Done()
	defer c.disconnected.Store(true)
	for {
		var m signaling.Message
		if err := c.ws.ReadJSON(&m); err != nil {
			return
		}
		switch m.Type {
		case signaling.TypeJoined, signaling.TypeRedirect:
			select {
			case c.joinedCh <- m:
			default:
			}
		case signaling.TypeAnswer:
			c.answerCh <- m.SDP
		case signaling.TypeCandidate:
			if c.pc != nil && m.Candidate != nil {
				_ = c.pc.AddICECandidate(*m.Candidate)
			}
		}
		c.mu.Lock()
		c.events = append(c.events, m)
		if m.Type == signaling.TypeLayout {
			c.layout = m.Layout
		}
		c.mu.Unlock()
	}
}

// Disconnected reports whether the signaling connection has ended.
func (c *Client) Disconnected() bool { return c.disconnected.Load() }

// Events returns the messages received so far.
func (c *Client) Events() []signaling.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]signaling.Message(nil), c.events...)
}

// Layout returns the tiles of the last layout event.
func (c *Client) Layout() []signaling.Tile {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.layout
}

// SentAt returns when picture i of the Clip was last sent (zero if never).
func (c *Client) SentAt(i int) time.Time {
	if i < 0 || i >= len(c.sent) {
		return time.Time{}
	}
	ns := c.sent[i].Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Send sends a raw protocol message.
func (c *Client) Send(m signaling.Message) error { return c.send(m) }

func newAPI(o Options) (*webrtc.API, error) {
	networks, fastICE, addrs := o.NetworkTypes, o.RestartICE, o.ICEAddresses
	me, err := mediaEngine(o.Codecs)
	if err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	if len(networks) == 0 {
		networks = []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	}
	se.SetNetworkTypes(networks)
	if o.UDPPorts[0] != 0 {
		if err := se.SetEphemeralUDPPortRange(o.UDPPorts[0], o.UDPPorts[1]); err != nil {
			return nil, err
		}
	}
	if addrs != nil {
		se.SetIPFilter(addrs)
	}
	if fastICE {
		// pion lists the interfaces once; a restart must see today's.
		n, err := newFreshNet()
		if err != nil {
			return nil, err
		}
		se.SetNet(n)
		// disconnected after 1 s without a reply, failed after 4 s more,
		// a check every 200 ms.
		se.SetICETimeouts(time.Second, 4*time.Second, 200*time.Millisecond)
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	// Its feedback loop writes once more after the connection closes and
	// logs the closed pipe as an error: dozens of lines at the end of every
	// load test that say nothing.
	lf.ScopeLevels["twcc_sender_interceptor"] = logging.LogLevelDisabled
	se.LoggerFactory = lf
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// mediaEngine offers pion's default codecs, or only Opus and the video
// codecs named ("vp8", "h264").
func mediaEngine(only []string) (*webrtc.MediaEngine, error) {
	me := &webrtc.MediaEngine{}
	if len(only) == 0 {
		return me, me.RegisterDefaultCodecs()
	}
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}, {Type: "transport-cc"}}
	params := map[string]webrtc.RTPCodecParameters{
		"vp8": {RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb}, PayloadType: 96},
		"h264": {RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: fb,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, PayloadType: 102},
	}
	for _, name := range only {
		p, ok := params[name]
		if !ok {
			return nil, fmt.Errorf("peer: unknown video codec %q", name)
		}
		if err := me.RegisterCodec(p, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, err
		}
	}
	return me, me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType:        111,
	}, webrtc.RTPCodecTypeAudio)
}

func (c *Client) negotiate(ctx context.Context) error {
	if err := c.send(signaling.Message{Type: signaling.TypeJoin, Room: c.opts.Room, Name: c.opts.Name}); err != nil {
		return err
	}
	select {
	case m := <-c.joinedCh:
		if m.Type == signaling.TypeRedirect {
			return redirectError(m.URL)
		}
		c.ID = m.ParticipantID
	case <-ctx.Done():
		return fmt.Errorf("peer: no joined message: %w (events %v)", ctx.Err(), c.Events())
	}
	api, err := newAPI(c.opts)
	if err != nil {
		return err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	c.pc = pc
	mime := webrtc.MimeTypeVP8
	if c.opts.VideoCodec == "h264" {
		mime = webrtc.MimeTypeH264
	}
	vt, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: mime}, "video", c.opts.Name)
	if err != nil {
		return err
	}
	at, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", c.opts.Name)
	if err != nil {
		return err
	}
	for _, t := range []webrtc.TrackLocal{vt, at} {
		tr, err := pc.AddTransceiverFromTrack(t, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
		if err != nil {
			return err
		}
		video := t == webrtc.TrackLocal(vt)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				pkts, _, err := tr.Sender().ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					switch p.(type) {
					case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
						if video {
							c.keyWanted.Store(true)
						}
					}
				}
			}
		}()
	}
	if c.opts.RestartICE {
		pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			if s == webrtc.PeerConnectionStateDisconnected || s == webrtc.PeerConnectionStateFailed {
				go c.restartICE() // ends with c.ctx at the latest
			}
		})
	}
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.wg.Add(1)
		go c.receive(t)
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := c.send(signaling.Message{Type: signaling.TypeOffer, SDP: pc.LocalDescription().SDP}); err != nil {
		return err
	}
	select {
	case sdp := <-c.answerCh:
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
			return err
		}
	case <-ctx.Done():
		return fmt.Errorf("peer: no answer: %w (events %v)", ctx.Err(), c.Events())
	}
	c.startPublishing(vt, at)
	return nil
}

// startPublishing sends the Clip, or the Colour and the Tone, on the tracks.
func (c *Client) startPublishing(vt, at *webrtc.TrackLocalStaticSample) {
	if c.opts.Clip != nil {
		c.wg.Add(2)
		go c.replayVideo(vt)
		go c.replayAudio(at)
		return
	}
	if c.opts.Colour != nil {
		c.wg.Add(1)
		go c.publishVideo(vt)
	}
	if c.opts.Tone > 0 {
		c.wg.Add(1)
		go c.publishAudio(at)
	}
}

// SetTone turns the published tone on or off; off, the track sends silence.
func (c *Client) SetTone(on bool) { c.quiet.Store(!on) }

// restartICE sends an offer with new ICE credentials and applies the
// server's answer; the participant stays in the room.
func (c *Client) restartICE() {
	if !c.restarting.CompareAndSwap(false, true) {
		return
	}
	defer c.restarting.Store(false)
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	if err := c.RestartICENow(ctx); err != nil && c.ctx.Err() == nil {
		c.mu.Lock()
		c.events = append(c.events, signaling.Message{Type: "ice_restart_failed", Message: err.Error()})
		c.mu.Unlock()
	}
}

// RestartICENow restarts ICE at once and returns when the server's answer
// is applied (the connection itself comes back afterwards).
func (c *Client) RestartICENow(ctx context.Context) error {
	c.ICERestarts.Add(1)
	offer, err := c.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		return fmt.Errorf("peer: ICE restart offer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(c.pc)
	if err := c.pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("peer: ICE restart: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := c.send(signaling.Message{Type: signaling.TypeOffer, SDP: c.pc.LocalDescription().SDP}); err != nil {
		return fmt.Errorf("peer: sending ICE restart offer: %w", err)
	}
	select {
	case sdp := <-c.answerCh:
		if err := c.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
			return fmt.Errorf("peer: ICE restart answer: %w", err)
		}
	case <-ctx.Done():
		return fmt.Errorf("peer: no answer to the ICE restart: %w", ctx.Err())
	}
	return nil
}

// ConnectionState is the PeerConnection's state.
func (c *Client) ConnectionState() webrtc.PeerConnectionState {
	return c.pc.ConnectionState()
}

// StopVideo stops sending pictures (the track stays, as when a camera freezes).
func (c *Client) StopVideo() { c.sendVideo.Store(false) }

func (c *Client) publishVideo(t *webrtc.TrackLocalStaticSample) {
	defer c.wg.Done()
	o := c.opts
	codec := "vp8"
	if o.VideoCodec == "h264" {
		codec = "h264"
	}
	enc, err := transcode.NewVideoEncoder(transcode.VideoConfig{Codec: codec, Width: o.Width, Height: o.Height, FPS: o.FPS, Bitrate: 300_000, KeyframeInterval: o.FPS})
	if err != nil {
		return
	}
	defer enc.Close()
	canvas, err := transcode.NewCanvas(o.Width, o.Height)
	if err != nil {
		return
	}
	defer canvas.Close()
	canvas.Fill(image.Rect(0, 0, o.Width, o.Height), transcode.RGB(o.Colour.R, o.Colour.G, o.Colour.B))
	tick := time.NewTicker(time.Second / time.Duration(o.FPS))
	defer tick.Stop()
	var pts int64
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-tick.C:
		}
		if !c.sendVideo.Load() {
			continue
		}
		_ = enc.EncodeVideo(canvas.Frame(), pts, func(p *astiav.Packet) error {
			return t.WriteSample(media.Sample{Data: p.Data(), Duration: time.Second / time.Duration(o.FPS)})
		})
		pts++
	}
}

func (c *Client) publishAudio(t *webrtc.TrackLocalStaticSample) {
	defer c.wg.Done()
	enc, err := transcode.NewAudioEncoder(transcode.AudioConfig{Codec: "opus", Bitrate: output.LiveAudioBitrate})
	if err != nil {
		return
	}
	defer enc.Close()
	block := make([]float32, 960)
	var n int
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-tick.C:
		}
		amp := 0.3
		if c.quiet.Load() {
			amp = 0
		}
		for i := range block {
			block[i] = float32(amp * math.Sin(2*math.Pi*c.opts.Tone*float64(n)/48000))
			n++
		}
		_ = enc.EncodeAudio(block, false, func(p *astiav.Packet) error {
			return t.WriteSample(media.Sample{Data: p.Data(), Duration: 20 * time.Millisecond})
		})
	}
}

// replayVideo sends the clip's pictures in a loop on the clip's clock.
func (c *Client) replayVideo(t *webrtc.TrackLocalStaticSample) {
	defer c.wg.Done()
	clip := c.opts.Clip
	dur := time.Second / time.Duration(clip.FPS)
	tick := time.NewTicker(dur)
	defer tick.Stop()
	i := 0
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-tick.C:
		}
		if !c.sendVideo.Load() {
			continue
		}
		if c.keyWanted.Swap(false) {
			i = clip.nextKey(i)
		}
		c.sent[i].Store(time.Now().UnixNano())
		_ = t.WriteSample(media.Sample{Data: clip.Video[i].Data, Duration: dur})
		i = (i + 1) % len(clip.Video)
	}
}

// replayAudio sends the clip's Opus packets in a loop, one every 20 ms.
func (c *Client) replayAudio(t *webrtc.TrackLocalStaticSample) {
	defer c.wg.Done()
	clip := c.opts.Clip
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i = (i + 1) % len(clip.Audio) {
		select {
		case <-c.ctx.Done():
			return
		case <-tick.C:
		}
		_ = t.WriteSample(media.Sample{Data: clip.Audio[i], Duration: 20 * time.Millisecond})
	}
}

// readAhead is how many received packets may wait for decoding: reading
// ahead of it keeps the transport-wide feedback's arrival times those of
// the network, not of the decoder (see package readahead).
const readAhead = 512

func (c *Client) receive(t *webrtc.TrackRemote) {
	defer c.wg.Done()
	codec := strings.ToLower(strings.TrimPrefix(t.Codec().MimeType, t.Kind().String()+"/"))
	if t.Kind() == webrtc.RTPCodecTypeAudio {
		dec, err := transcode.NewStreamDecoder("opus")
		if err != nil {
			return
		}
		defer dec.Close()
		for pkt := range readahead.Track(t, readAhead, nil) {
			c.BytesReceived.Add(int64(pkt.MarshalSize()))
			if !c.opts.Decode || len(pkt.Payload) == 0 {
				continue
			}
			_ = dec.DecodeAudio(pkt.Payload, func(s []float32) {
				c.mu.Lock()
				c.audio = append(c.audio, s...)
				c.mu.Unlock()
			})
		}
	}
	if codec != "vp8" && codec != "h264" {
		return
	}
	c.videoCodec.Store(&codec)
	if !c.opts.Decode {
		c.countVideo(t, codec)
		return
	}
	dec, err := transcode.NewStreamDecoder(codec)
	if err != nil {
		return
	}
	defer dec.Close()
	var depack rtp.Depacketizer = &codecs.VP8Packet{}
	if codec == "h264" {
		depack = &codecs.H264Packet{}
	}
	// Pictures wait for a missing packet (a retransmission) at most
	// 300 ms, as a browser's jitter buffer does, whatever the packet rate.
	sb := samplebuilder.New(256, depack, 90000, samplebuilder.WithMaxTimeDelay(300*time.Millisecond))
	var skipped uint16
	for pkt := range readahead.Track(t, readAhead, nil) {
		c.BytesReceived.Add(int64(pkt.MarshalSize()))
		c.VideoBytesReceived.Add(int64(pkt.MarshalSize()))
		c.countPacket(pkt.SequenceNumber)
		// Padding-only packets (a server probing the link) are dropped and
		// the sequence closed up behind them, as a browser's packet buffer
		// does, so that the sample builder sees no gap.
		if len(pkt.Payload) == 0 {
			skipped++
			continue
		}
		pkt.SequenceNumber -= skipped
		sb.Push(pkt)
		for s := sb.Pop(); s != nil; s = sb.Pop() {
			now := time.Now()
			c.mu.Lock()
			if !c.lastFrame.IsZero() {
				c.frameGaps = append(c.frameGaps, now.Sub(c.lastFrame))
			}
			c.lastFrame = now
			c.mu.Unlock()
			c.FramesReceived.Add(1)
			_ = dec.DecodeVideo(s.Data, func(f *astiav.Frame) error {
				img, err := transcode.Snapshot(f)
				if err != nil {
					return err
				}
				c.mu.Lock()
				c.last = img
				c.mu.Unlock()
				return nil
			})
		}
	}
}

// countPacket counts a video packet and the packets missing before it. A
// missing packet that arrives later (a retransmission) is no longer
// counted as lost, as receiver reports count.
func (c *Client) countPacket(seq uint16) {
	c.VideoPackets.Add(1)
	if c.lastSeq >= 0 {
		gap := int(seq - uint16(c.lastSeq) - 1)
		switch {
		case gap > 0 && gap < 1000:
			c.VideoPacketsLost.Add(int64(gap))
			if c.missing == nil {
				c.missing = map[uint16]bool{}
			}
			if len(c.missing) > 4096 {
				clear(c.missing)
			}
			for i := 1; i <= gap; i++ {
				c.missing[uint16(c.lastSeq)+uint16(i)] = true
			}
		case gap >= 1000: // late: a retransmission or reordering
			c.VideoPackets.Add(-1) // counted when it went missing
			if c.missing[seq] {
				delete(c.missing, seq)
				c.VideoPacketsLost.Add(-1)
				c.VideoPackets.Add(1)
			}
			return
		}
	}
	c.lastSeq = int(seq)
}

// countVideo counts received pictures: a picture starts with the first
// packet carrying a newer RTP timestamp, which on a loopback link is when
// the server sent it (its packets leave together). With Options.Watch it
// also assembles each picture on its marker bit, without waiting for the
// next one as a samplebuilder does, and decodes it.
func (c *Client) countVideo(t *webrtc.TrackRemote, codec string) {
	var (
		lastTS  uint32
		started bool
		asm     *assembler
	)
	if c.opts.Watch != nil {
		dec, err := transcode.NewStreamDecoder(codec)
		if err != nil {
			return
		}
		defer dec.Close()
		asm = &assembler{dec: dec, h264: codec == "h264", needKey: true, watch: c.opts.Watch, pli: func() {
			_ = c.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(t.SSRC())}})
		}}
	}
	for pkt := range readahead.Track(t, readAhead, nil) {
		n := int64(pkt.MarshalSize())
		c.BytesReceived.Add(n)
		c.VideoBytesReceived.Add(n)
		c.countPacket(pkt.SequenceNumber)
		now := time.Now()
		if !started || int32(pkt.Timestamp-lastTS) > 0 {
			c.mu.Lock()
			if started {
				c.frameGaps = append(c.frameGaps, now.Sub(c.lastFrame))
			}
			c.lastFrame = now
			c.mu.Unlock()
			lastTS, started = pkt.Timestamp, true
			c.FramesReceived.Add(1)
			if asm != nil {
				asm.start(pkt, now)
			}
		} else if asm != nil && pkt.Timestamp == asm.ts {
			asm.add(pkt)
		}
	}
}

// assembler puts VP8 pictures together from in-order packets and decodes
// them; a picture with a missing packet is dropped and decoding waits for
// the next keyframe.
type assembler struct {
	dec     *transcode.StreamDecoder
	watch   func(*image.YCbCr, time.Time)
	pli     func()
	lastPLI time.Time
	vp8     codecs.VP8Packet
	h264    bool
	avc     codecs.H264Packet

	ts       uint32
	at       time.Time
	next     uint16
	building bool
	ok       bool
	needKey  bool
	data     []byte
}

func (a *assembler) start(pkt *rtp.Packet, at time.Time) {
	if a.building {
		a.lost() // the previous picture never saw its marker
	}
	a.ts, a.at, a.building, a.data = pkt.Timestamp, at, true, a.data[:0]
	a.ok = a.h264 || a.vp8.IsPartitionHead(pkt.Payload)
	a.next = pkt.SequenceNumber
	a.add(pkt)
}

func (a *assembler) add(pkt *rtp.Packet) {
	if !a.building {
		return
	}
	if pkt.SequenceNumber != a.next {
		a.ok = false
	}
	a.next = pkt.SequenceNumber + 1
	if len(pkt.Payload) == 0 {
		// padding: nothing to add
	} else if a.h264 {
		if payload, err := a.avc.Unmarshal(pkt.Payload); err == nil {
			a.data = append(a.data, payload...)
		} else {
			a.ok = false
		}
	} else if payload, err := a.vp8.Unmarshal(pkt.Payload); err == nil {
		a.data = append(a.data, payload...)
	} else {
		a.ok = false
	}
	if !pkt.Marker {
		return
	}
	a.building = false
	if !a.ok {
		a.lost()
		return
	}
	if a.needKey {
		if !a.keyframe() {
			a.askKey()
			return
		}
		a.needKey = false
	}
	err := a.dec.DecodeVideo(a.data, func(f *astiav.Frame) error {
		img, err := transcode.Snapshot(f)
		if err != nil {
			return err
		}
		a.watch(img, a.at)
		return nil
	})
	if err != nil {
		a.lost()
	}
}

// keyframe reports whether the assembled picture is a keyframe: VP8's
// inverse key bit, or an H.264 IDR or SPS.
func (a *assembler) keyframe() bool {
	if len(a.data) == 0 {
		return false
	}
	if !a.h264 {
		return a.data[0]&1 == 0
	}
	for i := 0; i+3 < len(a.data); i++ {
		if a.data[i] == 0 && a.data[i+1] == 0 && a.data[i+2] == 1 {
			if t := a.data[i+3] & 0x1f; t == 5 || t == 7 {
				return true
			}
		}
	}
	return false
}

func (a *assembler) lost() {
	a.building, a.needKey = false, true
	a.askKey()
}

func (a *assembler) askKey() {
	if time.Since(a.lastPLI) >= 500*time.Millisecond {
		a.lastPLI = time.Now()
		a.pli()
	}
}

// VideoCodec is the codec of the received video ("vp8", "h264"), "" before
// it arrives.
func (c *Client) VideoCodec() string {
	if s := c.videoCodec.Load(); s != nil {
		return *s
	}
	return ""
}

// Picture returns the last decoded picture, or nil.
func (c *Client) Picture() *image.YCbCr {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// AudioSince returns the decoded audio received so far, from sample from on.
func (c *Client) Audio() []float32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]float32(nil), c.audio...)
}

// FrameGaps returns and clears the intervals between received pictures.
func (c *Client) FrameGaps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.frameGaps
	c.frameGaps = nil
	return g
}

// Leave sends "leave" (or DELETEs the WHIP/WHEP session) and closes
// everything. It returns the DELETE's failure.
func (c *Client) Leave() error {
	var err error
	if c.resource != "" {
		err = c.deleteResource()
	} else {
		_ = c.send(signaling.Message{Type: signaling.TypeLeave})
	}
	c.Close()
	return err
}

// Close hangs up without saying goodbye.
func (c *Client) Close() {
	c.cancel()
	if c.pc != nil {
		_ = c.pc.Close()
	}
	if c.ws != nil {
		_ = c.ws.Close()
	}
	c.wg.Wait()
}

// RGBAt returns the colour of the last picture at (x, y).
func RGBAt(img *image.YCbCr, x, y int) (r, g, b int, err error) {
	if img == nil {
		return 0, 0, 0, errors.New("no picture")
	}
	if !(image.Point{x, y}).In(img.Rect) {
		return 0, 0, 0, fmt.Errorf("(%d,%d) outside %v", x, y, img.Rect)
	}
	cr, cg, cb, _ := img.At(x, y).RGBA()
	return int(cr >> 8), int(cg >> 8), int(cb >> 8), nil
}
