package transcode

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/asticode/go-astiav"
)

// VideoConfig describes a video encoder.
type VideoConfig struct {
	// Codec is "vp8" (libvpx) or "h264" (libx264).
	Codec         string
	Width, Height int
	FPS           int
	// Bitrate in bits per second.
	Bitrate int
	// KeyframeInterval in frames; 0 means two seconds.
	KeyframeInterval int
	// Threads for the encoder; 0 means 1. One thread per room encoder
	// scales better on a busy server than threads inside the encoder.
	Threads int
	// GlobalHeader puts codec headers in extradata (MP4) instead of in-band.
	GlobalHeader bool
	// ErrorResilient makes VP8 streams recover better from packet loss (live).
	ErrorResilient bool
	// Preset is libx264's speed preset (default "veryfast"); ignored for VP8.
	Preset string
	// Live caps H.264's bitrate over half a second at Bitrate, so that a
	// receiver's link sees no bursts above what it was promised.
	Live bool
}

// Encoder wraps one libavcodec encoder.
type Encoder struct {
	cc       *astiav.CodecContext
	pkt      *astiav.Packet
	name     string
	video    bool
	forceKey bool

	// audio only: samples waiting for a full encoder frame
	fifo   []float32
	aframe *astiav.Frame
	apts   int64
}

// NewVideoEncoder opens a VP8 or H.264 encoder.
func NewVideoEncoder(cfg VideoConfig) (*Encoder, error) {
	var codec *astiav.Codec
	opts := astiav.NewDictionary()
	defer opts.Free()
	switch cfg.Codec {
	case "vp8":
		codec = astiav.FindEncoderByName("libvpx")
		_ = opts.Set("deadline", "realtime", 0)
		_ = opts.Set("cpu-used", "8", 0)
		_ = opts.Set("lag-in-frames", "0", 0)
		if cfg.ErrorResilient {
			_ = opts.Set("error-resilient", "1", 0)
		}
	case "h264":
		codec = astiav.FindEncoderByName("libx264")
		preset := cfg.Preset
		if preset == "" {
			preset = "veryfast"
		}
		_ = opts.Set("preset", preset, 0)
		_ = opts.Set("tune", "zerolatency", 0)
		_ = opts.Set("profile", "baseline", 0)
		// ultrafast turns the in-loop deblocking filter off; on, it costs
		// a few per cent of the encoder and lifts SSIM by about 0.001 on a
		// noisy conference canvas (BenchmarkLiveEncoders). Every H.264
		// decoder runs it anyway: it is part of the baseline profile.
		_ = opts.Set("deblock", "0:0", 0)
	default:
		return nil, fmt.Errorf("transcode: unknown video codec %q (allowed: vp8, h264)", cfg.Codec)
	}
	if codec == nil {
		return nil, fmt.Errorf("transcode: %s encoder not available in this FFmpeg", cfg.Codec)
	}
	if cfg.FPS <= 0 || cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("transcode: bad video encoder settings %dx%d@%d", cfg.Width, cfg.Height, cfg.FPS)
	}
	cc := astiav.AllocCodecContext(codec)
	if cc == nil {
		return nil, fmt.Errorf("transcode: allocating %s encoder failed", cfg.Codec)
	}
	cc.SetWidth(cfg.Width)
	cc.SetHeight(cfg.Height)
	cc.SetPixelFormat(astiav.PixelFormatYuv420P)
	cc.SetTimeBase(astiav.NewRational(1, cfg.FPS))
	cc.SetFramerate(astiav.NewRational(cfg.FPS, 1))
	cc.SetBitRate(int64(cfg.Bitrate))
	gop := cfg.KeyframeInterval
	if gop <= 0 {
		gop = 2 * cfg.FPS
	}
	cc.SetGopSize(gop)
	threads := cfg.Threads
	if threads <= 0 {
		threads = 1
	}
	cc.SetThreadCount(threads)
	if cfg.Codec == "h264" {
		params := "keyint=" + strconv.Itoa(gop) + ":min-keyint=" + strconv.Itoa(gop) + ":scenecut=0"
		if cfg.Live {
			kbps := strconv.Itoa(cfg.Bitrate / 1000)
			params += ":vbv-maxrate=" + kbps + ":vbv-bufsize=" + strconv.Itoa(cfg.Bitrate/2000)
		}
		_ = opts.Set("x264-params", params, 0)
	}
	if cfg.GlobalHeader {
		cc.SetFlags(cc.Flags().Add(astiav.CodecContextFlagGlobalHeader))
	}
	if err := cc.Open(codec, opts); err != nil {
		cc.Free()
		return nil, fmt.Errorf("transcode: opening %s encoder: %w", cfg.Codec, err)
	}
	return &Encoder{cc: cc, pkt: astiav.AllocPacket(), name: cfg.Codec, video: true}, nil
}

// AudioConfig describes an audio encoder; it always encodes mono at SampleRate.
type AudioConfig struct {
	// Codec is "opus" (libopus) or "aac".
	Codec string
	// Bitrate in bits per second.
	Bitrate int
	// GlobalHeader puts codec headers in extradata (MP4).
	GlobalHeader bool
}

// NewAudioEncoder opens a mono "opus" or "aac" encoder at SampleRate.
func NewAudioEncoder(cfg AudioConfig) (*Encoder, error) {
	codecName, bitrate, globalHeader := cfg.Codec, cfg.Bitrate, cfg.GlobalHeader
	var codec *astiav.Codec
	var sf astiav.SampleFormat
	opts := astiav.NewDictionary()
	defer opts.Free()
	switch codecName {
	case "opus":
		codec = astiav.FindEncoderByName("libopus")
		sf = astiav.SampleFormatFlt
		_ = opts.Set("application", "voip", 0)
		_ = opts.Set("frame_duration", "20", 0)
	case "aac":
		codec = astiav.FindEncoderByName("aac")
		sf = astiav.SampleFormatFltp
	default:
		return nil, fmt.Errorf("transcode: unknown audio codec %q (allowed: opus, aac)", codecName)
	}
	if codec == nil {
		return nil, fmt.Errorf("transcode: %s encoder not available in this FFmpeg", codecName)
	}
	cc := astiav.AllocCodecContext(codec)
	if cc == nil {
		return nil, fmt.Errorf("transcode: allocating %s encoder failed", codecName)
	}
	cc.SetSampleRate(SampleRate)
	cc.SetSampleFormat(sf)
	cc.SetChannelLayout(astiav.ChannelLayoutMono)
	cc.SetTimeBase(astiav.NewRational(1, SampleRate))
	cc.SetBitRate(int64(bitrate))
	if globalHeader {
		cc.SetFlags(cc.Flags().Add(astiav.CodecContextFlagGlobalHeader))
	}
	if err := cc.Open(codec, opts); err != nil {
		cc.Free()
		return nil, fmt.Errorf("transcode: opening %s encoder: %w", codecName, err)
	}
	e := &Encoder{cc: cc, pkt: astiav.AllocPacket(), name: codecName, aframe: astiav.AllocFrame()}
	n := cc.FrameSize()
	if n <= 0 {
		n = 960
	}
	e.aframe.SetNbSamples(n)
	e.aframe.SetSampleFormat(sf)
	e.aframe.SetSampleRate(SampleRate)
	e.aframe.SetChannelLayout(astiav.ChannelLayoutMono)
	if err := e.aframe.AllocBuffer(0); err != nil {
		e.Close()
		return nil, fmt.Errorf("transcode: allocating %s frame: %w", codecName, err)
	}
	return e, nil
}

// Name is the codec name given at creation ("vp8", "h264", "opus", "aac").
func (e *Encoder) Name() string { return e.name }

// FrameSize is the number of samples per audio packet.
func (e *Encoder) FrameSize() int {
	if e.aframe != nil {
		return e.aframe.NbSamples()
	}
	return 0
}

// ForceKeyframe makes the next encoded picture a keyframe.
func (e *Encoder) ForceKeyframe() { e.forceKey = true }

// EncodeVideo encodes f with presentation time pts (in 1/fps units) and
// calls fn for each packet. A nil f flushes the encoder. The packet is
// reused after fn returns.
func (e *Encoder) EncodeVideo(f *astiav.Frame, pts int64, fn func(*astiav.Packet) error) error {
	if f != nil {
		f.SetPts(pts)
		if e.forceKey {
			f.SetPictureType(astiav.PictureTypeI)
			e.forceKey = false
		} else {
			f.SetPictureType(astiav.PictureTypeNone)
		}
	}
	return e.encode(f, fn)
}

// EncodeAudio queues mono samples and encodes every full frame; the packets'
// timestamps count samples from the first one. flush pads and drains the rest.
func (e *Encoder) EncodeAudio(s []float32, flush bool, fn func(*astiav.Packet) error) error {
	e.fifo = append(e.fifo, s...)
	n := e.aframe.NbSamples()
	for len(e.fifo) >= n || (flush && len(e.fifo) > 0) {
		chunk := e.fifo
		if len(chunk) > n {
			chunk = chunk[:n]
		}
		if err := makeWritable(e.aframe); err != nil {
			return fmt.Errorf("transcode: %s frame: %w", e.name, err)
		}
		if len(chunk) < n {
			padded := make([]float32, n)
			copy(padded, chunk)
			chunk = padded
		}
		if err := writeSamples(e.aframe, chunk); err != nil {
			return fmt.Errorf("transcode: %s frame: %w", e.name, err)
		}
		e.aframe.SetPts(e.apts)
		e.apts += int64(n)
		if err := e.encode(e.aframe, fn); err != nil {
			return err
		}
		rest := len(e.fifo) - min(n, len(e.fifo))
		copy(e.fifo, e.fifo[len(e.fifo)-rest:])
		e.fifo = e.fifo[:rest]
	}
	if flush {
		return e.encode(nil, fn)
	}
	return nil
}

func (e *Encoder) encode(f *astiav.Frame, fn func(*astiav.Packet) error) error {
	if err := e.cc.SendFrame(f); err != nil && !errors.Is(err, astiav.ErrEof) {
		return fmt.Errorf("transcode: %s encoder: %w", e.name, err)
	}
	for {
		e.pkt.Unref()
		err := e.cc.ReceivePacket(e.pkt)
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("transcode: %s encoder: %w", e.name, err)
		}
		if err := fn(e.pkt); err != nil {
			return err
		}
	}
}

// Close frees the encoder.
func (e *Encoder) Close() {
	if e.cc != nil {
		e.cc.Free()
		e.cc = nil
	}
	if e.pkt != nil {
		e.pkt.Free()
		e.pkt = nil
	}
	if e.aframe != nil {
		e.aframe.Free()
		e.aframe = nil
	}
}
