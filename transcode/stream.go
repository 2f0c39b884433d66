package transcode

import (
	"fmt"

	"github.com/asticode/go-astiav"
)

// StreamDecoder decodes a stream of compressed frames that arrive without a
// container, such as depacketized RTP.
type StreamDecoder struct {
	dec *Decoder
	pkt *astiav.Packet
	res *resampler

	scratch []byte
}

// inputPadding is AV_INPUT_BUFFER_PADDING_SIZE in FFmpeg 5.1.
const inputPadding = 64

// NewStreamDecoder opens a decoder by FFmpeg codec name: "vp8", "vp9",
// "h264" for video, "opus" for audio.
func NewStreamDecoder(codec string) (*StreamDecoder, error) {
	dec, err := NewDecoderByName(codec, 1)
	if err != nil {
		return nil, err
	}
	d := &StreamDecoder{dec: dec, pkt: astiav.AllocPacket()}
	if codec == "opus" {
		d.res = &resampler{rate: SampleRate}
	}
	return d, nil
}

// DecodeVideo decodes one compressed picture and calls fn with each decoded
// frame, valid only during the call.
func (d *StreamDecoder) DecodeVideo(data []byte, fn func(*astiav.Frame) error) error {
	if err := d.load(data); err != nil {
		return err
	}
	return d.dec.Decode(d.pkt, fn)
}

// DecodeAudio decodes one compressed audio packet and calls fn with its
// samples as mono float32 at SampleRate, valid only during the call.
func (d *StreamDecoder) DecodeAudio(data []byte, fn func([]float32)) error {
	if d.res == nil {
		return fmt.Errorf("transcode: %s is not an audio decoder", d.dec.Name())
	}
	if err := d.load(data); err != nil {
		return err
	}
	return d.dec.Decode(d.pkt, func(f *astiav.Frame) error {
		s, err := d.res.convert(f)
		if err != nil {
			return err
		}
		fn(s)
		return nil
	})
}

func (d *StreamDecoder) load(data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("transcode: empty %s packet", d.dec.Name())
	}
	// Decoders may read up to 64 bytes past the data (FFmpeg's input
	// padding), so the packet is made from the data plus zeroed padding.
	d.scratch = append(append(d.scratch[:0], data...), make([]byte, inputPadding)...)
	d.pkt.Unref()
	if err := d.pkt.FromData(d.scratch); err != nil {
		return fmt.Errorf("transcode: %s packet: %w", d.dec.Name(), err)
	}
	d.pkt.SetSize(len(data))
	return nil
}

// Close frees the decoder.
func (d *StreamDecoder) Close() {
	if d.dec != nil {
		d.dec.Close()
		d.dec = nil
	}
	if d.pkt != nil {
		d.pkt.Free()
		d.pkt = nil
	}
	if d.res != nil {
		d.res.free()
	}
}
