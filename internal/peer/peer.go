// Package peer is a WebRTC client of the MCU for tests and the load
// generator: it joins a room over the websocket protocol, publishes a solid
// colour and a sine tone (or nothing), and decodes what it receives.
package peer

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asticode/go-astiav"
	"github.com/gorilla/websocket"
	"github.com/pion/interceptor"
	"github.com/pion/logging"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"

	"github.com/mcu-dev/mcu/signaling"
	"github.com/mcu-dev/mcu/transcode"
)

// Options configures a client.
type Options struct {
	URL  string // ws://host:port/ws
	Room string
	Name string
	// Colour of the published picture; nil publishes no video.
	Colour *color.RGBA
	// Tone in Hz of the published audio; 0 publishes no audio.
	Tone float64
	// Width, Height and FPS of the published video (default 320x240 at 15).
	Width, Height, FPS int
	// Decode the received video (tests) or only count frames (load).
	Decode bool
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

	sendVideo atomic.Bool

	mu        sync.Mutex
	events    []signaling.Message
	last      *image.YCbCr
	audio     []float32
	frameGaps []time.Duration
	lastFrame time.Time

	FramesReceived atomic.Int64
	BytesReceived  atomic.Int64
	joinedCh       chan signaling.Message
	answerCh       chan string
}

// Dial joins the room and negotiates media. It returns once the answer is applied.
func Dial(ctx context.Context, o Options) (*Client, error) {
	if o.Width == 0 {
		o.Width, o.Height = 320, 240
	}
	if o.FPS == 0 {
		o.FPS = 15
	}
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, o.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("peer: dialing %s: %w", o.URL, err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{opts: o, ws: ws, ctx: cctx, cancel: cancel, joinedCh: make(chan signaling.Message, 1), answerCh: make(chan string, 1)}
	c.sendVideo.Store(o.Colour != nil)
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
	for {
		var m signaling.Message
		if err := c.ws.ReadJSON(&m); err != nil {
			return
		}
		switch m.Type {
		case signaling.TypeJoined:
			c.joinedCh <- m
		case signaling.TypeAnswer:
			c.answerCh <- m.SDP
		case signaling.TypeCandidate:
			if c.pc != nil && m.Candidate != nil {
				_ = c.pc.AddICECandidate(*m.Candidate)
			}
		}
		c.mu.Lock()
		c.events = append(c.events, m)
		c.mu.Unlock()
	}
}

// Events returns the messages received so far.
func (c *Client) Events() []signaling.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]signaling.Message(nil), c.events...)
}

// Send sends a raw protocol message.
func (c *Client) Send(m signaling.Message) error { return c.send(m) }

func newAPI() (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	se.LoggerFactory = lf
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

func (c *Client) negotiate(ctx context.Context) error {
	if err := c.send(signaling.Message{Type: signaling.TypeJoin, Room: c.opts.Room, Name: c.opts.Name}); err != nil {
		return err
	}
	select {
	case m := <-c.joinedCh:
		c.ID = m.ParticipantID
	case <-ctx.Done():
		return fmt.Errorf("peer: no joined message: %w (events %v)", ctx.Err(), c.Events())
	}
	api, err := newAPI()
	if err != nil {
		return err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return err
	}
	c.pc = pc
	vt, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", c.opts.Name)
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
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				if _, _, err := tr.Sender().ReadRTCP(); err != nil {
					return
				}
			}
		}()
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
	if c.opts.Colour != nil {
		c.wg.Add(1)
		go c.publishVideo(vt)
	}
	if c.opts.Tone > 0 {
		c.wg.Add(1)
		go c.publishAudio(at)
	}
	return nil
}

// StopVideo stops sending pictures (the track stays, as when a camera freezes).
func (c *Client) StopVideo() { c.sendVideo.Store(false) }

func (c *Client) publishVideo(t *webrtc.TrackLocalStaticSample) {
	defer c.wg.Done()
	o := c.opts
	enc, err := transcode.NewVideoEncoder(transcode.VideoConfig{Codec: "vp8", Width: o.Width, Height: o.Height, FPS: o.FPS, Bitrate: 300_000, KeyframeInterval: o.FPS})
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
	enc, err := transcode.NewAudioEncoder("opus", 48_000, false)
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
		for i := range block {
			block[i] = float32(0.3 * math.Sin(2*math.Pi*c.opts.Tone*float64(n)/48000))
			n++
		}
		_ = enc.EncodeAudio(block, false, func(p *astiav.Packet) error {
			return t.WriteSample(media.Sample{Data: p.Data(), Duration: 20 * time.Millisecond})
		})
	}
}

func (c *Client) receive(t *webrtc.TrackRemote) {
	defer c.wg.Done()
	codec := strings.ToLower(strings.TrimPrefix(t.Codec().MimeType, t.Kind().String()+"/"))
	if t.Kind() == webrtc.RTPCodecTypeAudio {
		dec, err := transcode.NewStreamDecoder("opus")
		if err != nil {
			return
		}
		defer dec.Close()
		for {
			pkt, _, err := t.ReadRTP()
			if err != nil {
				return
			}
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
	if codec != "vp8" {
		return
	}
	var dec *transcode.StreamDecoder
	if c.opts.Decode {
		var err error
		if dec, err = transcode.NewStreamDecoder("vp8"); err != nil {
			return
		}
		defer dec.Close()
	}
	sb := samplebuilder.New(256, &codecs.VP8Packet{}, 90000)
	for {
		pkt, _, err := t.ReadRTP()
		if err != nil {
			return
		}
		c.BytesReceived.Add(int64(pkt.MarshalSize()))
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
			if dec == nil {
				continue
			}
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

// Leave sends "leave" and closes everything.
func (c *Client) Leave() {
	_ = c.send(signaling.Message{Type: signaling.TypeLeave})
	c.Close()
}

// Close hangs up without saying goodbye.
func (c *Client) Close() {
	c.cancel()
	if c.pc != nil {
		_ = c.pc.Close()
	}
	_ = c.ws.Close()
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
