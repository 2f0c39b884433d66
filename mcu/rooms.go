package mcu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"

	"github.com/mcu-dev/mcu/metrics"
	"github.com/mcu-dev/mcu/mixer"
	"github.com/mcu-dev/mcu/output"
	"github.com/mcu-dev/mcu/signaling"
	"github.com/mcu-dev/mcu/transcode"
)

// Config is what Rooms needs to run rooms.
type Config struct {
	// Quality and FPS are the output settings of new rooms.
	Quality output.Quality
	FPS     int
	// Codec is the live video codec of new rooms (default auto: each
	// receiver's offer decides, H.264 when it offers both).
	Codec output.Codec
	// LivePreset is libx264's preset for live H.264 (default ultrafast).
	LivePreset string
	// MaxParticipants per room (0 = 16): publishers, each a tile and a
	// decoder.
	MaxParticipants int
	// MaxViewers is the receive-only participants a room admits besides
	// (0 = 500): they cost sending only.
	MaxViewers int
	// MaxRooms open at once (0 = 100); a join that would open one more
	// gets server_full.
	MaxRooms int
	// UDPPortMin and UDPPortMax bound the media ports (0 = any).
	UDPPortMin, UDPPortMax uint16
	// PublicIPs are announced as host candidates instead of local ones (NAT 1:1).
	PublicIPs []string
	// IncludeLoopback offers 127.0.0.1 candidates (tests, single-machine use).
	IncludeLoopback bool
	// EncoderThreads per room video encoder (0 = 1).
	EncoderThreads int
	// ICEUDPMux, when set, carries every participant's UDP media on one
	// socket; the port range is then unused. Its owner closes it.
	ICEUDPMux ice.UDPMux
	// ICETCPMux, when set, adds passive ICE-TCP candidates for clients
	// whose network blocks UDP. Its owner closes it.
	ICETCPMux ice.TCPMux
	Log       *slog.Logger
	// Metrics receives the rooms' metrics; nil for none.
	Metrics *metrics.Metrics
	// Observer hears participants join and leave; nil for none.
	Observer Observer
}

// Rooms is the registry of open rooms: it creates a room on its first join
// and forgets it when it closes. It implements signaling.Backend.
type Rooms struct {
	cfg Config
	api *webrtc.API
	log *slog.Logger

	// pcMu serialises PeerConnection creation so that the bandwidth
	// estimator the congestion-control interceptor makes for the new
	// connection (newBWE, set from its callback) is known to be its own.
	pcMu     sync.Mutex
	newBWE   cc.BandwidthEstimator
	newMeter *linkMeter

	mu     sync.Mutex
	rooms  map[string]*Room
	hooks  []func(*Room)
	closed bool
	wg     sync.WaitGroup
}

// NewRooms prepares the WebRTC stack: VP8 (preferred), H.264 and Opus, with
// pion's NACK, RTCP report and TWCC interceptors.
func NewRooms(cfg Config) (*Rooms, error) {
	if cfg.Quality == "" {
		cfg.Quality = output.DefaultQuality
	}
	if cfg.FPS == 0 {
		cfg.FPS = output.DefaultFPS
	}
	if _, err := output.ParseQuality(string(cfg.Quality)); err != nil {
		return nil, fmt.Errorf("mcu: %w", err)
	}
	if _, err := output.ParseFPS(cfg.FPS); err != nil {
		return nil, fmt.Errorf("mcu: %w", err)
	}
	if cfg.Codec == "" {
		cfg.Codec = output.CodecAuto
	}
	if _, err := output.ParseCodec(string(cfg.Codec)); err != nil {
		return nil, fmt.Errorf("mcu: %w", err)
	}
	if cfg.LivePreset == "" {
		cfg.LivePreset = output.DefaultLivePreset
	}
	if cfg.MaxParticipants <= 0 {
		cfg.MaxParticipants = 16
	}
	if cfg.MaxViewers <= 0 {
		cfg.MaxViewers = 500
	}
	if cfg.MaxRooms <= 0 {
		cfg.MaxRooms = 100
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	// Find the font for names now, not on a room's first frame.
	if _, path, err := mixer.LabelFont(); err != nil {
		cfg.Log.Warn("names on tiles fall back to a Latin-only bitmap font", "err", err)
	} else {
		cfg.Log.Debug("font for names on tiles", "file", path)
	}
	me := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	for _, c := range []webrtc.RTPCodecParameters{
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb}, PayloadType: 96},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", RTCPFeedback: fb}, PayloadType: 102},
		{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f", RTCPFeedback: fb}, PayloadType: 104},
	} {
		if err := me.RegisterCodec(c, webrtc.RTPCodecTypeVideo); err != nil {
			return nil, fmt.Errorf("mcu: registering %s: %w", c.MimeType, err)
		}
	}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: output.SampleRate, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"},
		PayloadType:        111,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("mcu: registering opus: %w", err)
	}
	ir := &interceptor.Registry{}
	if f := cfg.Metrics.Interceptor(); f != nil {
		ir.Add(f) // first, next to the transport: it sees what the others send
	}
	rs := &Rooms{cfg: cfg, log: cfg.Log, rooms: map[string]*Room{}}
	// Next to the transport: sees the transport-wide sequence numbers the
	// outer interceptor stamps, and the raw feedback.
	ir.Add(linkMeterFactory{onNew: func(m *linkMeter) { rs.newMeter = m }})
	// Before the NACK responder: bounds what receivers can make us resend.
	ir.Add(nackLimiterFactory{})
	// pion's defaults without its stats interceptor, which nothing here
	// reads and which clones every packet's header on every track.
	if err := webrtc.ConfigureNack(me, ir); err != nil {
		return nil, fmt.Errorf("mcu: interceptors: %w", err)
	}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, fmt.Errorf("mcu: interceptors: %w", err)
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
		return nil, fmt.Errorf("mcu: interceptors: %w", err)
	}
	if err := webrtc.ConfigureTWCCSender(me, ir); err != nil {
		return nil, fmt.Errorf("mcu: interceptors: %w", err)
	}
	// Send-side bandwidth estimation: transport-wide sequence numbers on
	// what we send, GCC over the receivers' feedback. It only estimates:
	// pacing is left to the rungs' encoders.
	top := output.Ladder(cfg.Quality, cfg.FPS)[0].Bitrate
	congestion, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		return gcc.NewSendSideBWE(gcc.SendSideBWEPacer(gcc.NewNoOpPacer()),
			gcc.SendSideBWEInitialBitrate(top*5/4), gcc.SendSideBWEMinBitrate(50_000), gcc.SendSideBWEMaxBitrate(4*top))
	})
	if err != nil {
		return nil, fmt.Errorf("mcu: congestion control: %w", err)
	}
	congestion.OnNewPeerConnection(func(_ string, e cc.BandwidthEstimator) { rs.newBWE = e })
	ir.Add(congestion)
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(me, ir); err != nil {
		return nil, fmt.Errorf("mcu: transport-wide congestion control: %w", err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(cfg.IncludeLoopback)
	if cfg.UDPPortMin > 0 || cfg.UDPPortMax > 0 {
		if err := se.SetEphemeralUDPPortRange(cfg.UDPPortMin, cfg.UDPPortMax); err != nil {
			return nil, fmt.Errorf("mcu: UDP port range: %w", err)
		}
	}
	if len(cfg.PublicIPs) > 0 {
		for _, ip := range cfg.PublicIPs {
			if net.ParseIP(ip) == nil {
				return nil, fmt.Errorf("mcu: public IP %q is not an IP address", ip)
			}
		}
		se.SetNAT1To1IPs(cfg.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	if cfg.ICEUDPMux != nil {
		se.SetICEUDPMux(cfg.ICEUDPMux)
	}
	if cfg.ICETCPMux != nil {
		se.SetICETCPMux(cfg.ICETCPMux)
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6})
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	se.LoggerFactory = lf
	rs.api = webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se))
	return rs, nil
}

// newPeerConnection makes a PeerConnection and returns it with its
// bandwidth estimator and link meter.
func (s *Rooms) newPeerConnection() (*webrtc.PeerConnection, cc.BandwidthEstimator, *linkMeter, error) {
	s.pcMu.Lock()
	defer s.pcMu.Unlock()
	s.newBWE, s.newMeter = nil, nil
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	bwe, meter := s.newBWE, s.newMeter
	s.newBWE, s.newMeter = nil, nil
	return pc, bwe, meter, err
}

// OnRoom registers fn to be called for every new room, before anyone is in it.
func (s *Rooms) OnRoom(fn func(*Room)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, fn)
}

// Join implements signaling.Backend: it admits name into room, creating the
// room on first join.
func (s *Rooms) Join(room, name string, opts signaling.JoinOptions, out signaling.Sender) (signaling.Session, error) {
	for {
		r, err := s.roomFor(room)
		if errors.Is(err, ErrServerFull) {
			return nil, &signaling.Error{Code: signaling.CodeServerFull, Message: fmt.Sprintf("the server has its maximum of %d rooms open; try again later", s.cfg.MaxRooms)}
		}
		if err != nil {
			return nil, err
		}
		p, err := r.join(name, opts, out)
		if err == ErrClosed {
			continue // the room closed just now; make a new one
		}
		if err == ErrRoomFull {
			if opts.ReceiveOnly {
				return nil, &signaling.Error{Code: signaling.CodeRoomFull, Message: fmt.Sprintf("room %q has its maximum of %d viewers", room, s.cfg.MaxViewers)}
			}
			return nil, &signaling.Error{Code: signaling.CodeRoomFull, Message: fmt.Sprintf("room %q is full (%d participants)", room, s.cfg.MaxParticipants)}
		}
		if err != nil {
			return nil, err
		}
		return p, nil
	}
}

func (s *Rooms) roomFor(name string) (*Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if r := s.rooms[name]; r != nil && !r.isClosed() {
		return r, nil
	}
	if len(s.rooms) >= s.cfg.MaxRooms {
		return nil, ErrServerFull
	}
	r, err := newRoom(s, name)
	if err != nil {
		return nil, err
	}
	s.rooms[name] = r
	for _, h := range s.hooks {
		h(r)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		r.run()
		s.mu.Lock()
		if s.rooms[name] == r {
			delete(s.rooms, name)
		}
		idle := len(s.rooms) == 0
		s.mu.Unlock()
		if idle {
			// The last room is gone: give what its codecs freed back.
			transcode.ReleaseMemory()
		}
	}()
	return r, nil
}

// Room returns the open room called name.
func (s *Rooms) Room(name string) (*Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[name]
	if r == nil || r.isClosed() {
		return nil, fmt.Errorf("%w: %q", ErrRoomNotFound, name)
	}
	return r, nil
}

// List returns the open rooms sorted by name.
func (s *Rooms) List() []*Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		if !r.isClosed() {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// Close closes every room and waits for them.
func (s *Rooms) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for _, r := range rooms {
		r.Close()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
