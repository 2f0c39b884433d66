package transcode

import (
	"errors"
	"fmt"

	"github.com/asticode/go-astiav"
)

// Decoder turns compressed packets into raw frames with libavcodec.
type Decoder struct {
	cc    *astiav.CodecContext
	frame *astiav.Frame
	name  string
}

// NewDecoder opens a decoder for a demuxed stream's parameters.
func NewDecoder(par *astiav.CodecParameters, threads int) (*Decoder, error) {
	codec := astiav.FindDecoder(par.CodecID())
	if codec == nil {
		return nil, fmt.Errorf("transcode: no decoder for %s", par.CodecID())
	}
	cc := astiav.AllocCodecContext(codec)
	if cc == nil {
		return nil, fmt.Errorf("transcode: allocating %s decoder failed", codec.Name())
	}
	if err := par.ToCodecContext(cc); err != nil {
		cc.Free()
		return nil, fmt.Errorf("transcode: configuring %s decoder: %w", codec.Name(), err)
	}
	return openDecoder(cc, codec, threads)
}

// NewDecoderByName opens a decoder by FFmpeg codec name ("vp8", "h264", "opus", ...),
// for streams that arrive without a container, such as RTP.
func NewDecoderByName(name string, threads int) (*Decoder, error) {
	codec := astiav.FindDecoderByName(name)
	if codec == nil {
		return nil, fmt.Errorf("transcode: no decoder named %q", name)
	}
	cc := astiav.AllocCodecContext(codec)
	if cc == nil {
		return nil, fmt.Errorf("transcode: allocating %s decoder failed", name)
	}
	if codec.ID() == astiav.CodecIDOpus {
		cc.SetSampleRate(SampleRate)
		cc.SetChannelLayout(astiav.ChannelLayoutStereo)
	}
	return openDecoder(cc, codec, threads)
}

func openDecoder(cc *astiav.CodecContext, codec *astiav.Codec, threads int) (*Decoder, error) {
	if threads > 0 {
		cc.SetThreadCount(threads)
	}
	if err := cc.Open(codec, nil); err != nil {
		cc.Free()
		return nil, fmt.Errorf("transcode: opening %s decoder: %w", codec.Name(), err)
	}
	return &Decoder{cc: cc, frame: astiav.AllocFrame(), name: codec.Name()}, nil
}

// Name is the decoder's codec name.
func (d *Decoder) Name() string { return d.name }

// Decode sends pkt (nil flushes) and calls fn with every frame it yields.
// The frame passed to fn is reused afterwards: Ref or Clone it to keep it.
func (d *Decoder) Decode(pkt *astiav.Packet, fn func(*astiav.Frame) error) error {
	if err := d.cc.SendPacket(pkt); err != nil && !errors.Is(err, astiav.ErrEof) {
		if !errors.Is(err, astiav.ErrEagain) {
			return fmt.Errorf("transcode: %s decoder: %w", d.name, err)
		}
	}
	for {
		d.frame.Unref()
		err := d.cc.ReceiveFrame(d.frame)
		if errors.Is(err, astiav.ErrEagain) || errors.Is(err, astiav.ErrEof) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("transcode: %s decoder: %w", d.name, err)
		}
		if err := fn(d.frame); err != nil {
			return err
		}
	}
}

// Close frees the decoder.
func (d *Decoder) Close() {
	if d.cc != nil {
		d.cc.Free()
		d.cc = nil
	}
	if d.frame != nil {
		d.frame.Free()
		d.frame = nil
	}
}
