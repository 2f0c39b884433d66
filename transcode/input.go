package transcode

import (
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/asticode/go-astiav"

	"github.com/mcu-dev/mcu/output"
)

// SampleRate is the rate of the mixer's mono float32 audio.
const SampleRate = output.SampleRate

// Decoded is one piece of media read from a file: a picture or audio samples,
// stamped with its time in seconds from the start of the file.
type Decoded struct {
	// Video is set for a picture. It is only valid during the callback:
	// Ref or Clone it to keep it.
	Video *astiav.Frame
	// Audio holds mono float32 samples at SampleRate; valid during the callback.
	Audio []float32
	// Time is the presentation time in seconds since the file's start.
	Time float64
	// Duration of the picture in seconds when the file says so, else 0.
	Duration float64
}

// MediaFile reads and decodes the first video and first audio stream of a
// file, in file order.
type MediaFile struct {
	path   string
	fc     *astiav.FormatContext
	pkt    *astiav.Packet
	video  *fileStream
	audio  *fileStream
	rotate *videoFilter
	res    resampler
	start  int64 // microseconds; noPTS until known
	eof    bool
}

type fileStream struct {
	index int
	dec   *Decoder
	tb    astiav.Rational
}

// OpenFile opens path and prepares decoders for its first audio and video
// streams. The error names the file.
func OpenFile(path string) (m *MediaFile, err error) {
	m = &MediaFile{path: path, start: noPTS, res: resampler{rate: SampleRate}}
	defer func() {
		if err != nil {
			m.Close()
			m = nil
		}
	}()
	m.fc = astiav.AllocFormatContext()
	if m.fc == nil {
		return m, fmt.Errorf("%s: allocating format context failed", path)
	}
	if err := m.fc.OpenInput(path, nil, nil); err != nil {
		m.fc.Free()
		m.fc = nil
		return m, fmt.Errorf("%s: cannot open: %w", path, err)
	}
	if err := m.fc.FindStreamInfo(nil); err != nil {
		return m, fmt.Errorf("%s: cannot read stream info: %w", path, err)
	}
	for _, s := range m.fc.Streams() {
		par := s.CodecParameters()
		switch par.MediaType() {
		case astiav.MediaTypeVideo:
			if m.video != nil || par.Width() <= 0 {
				continue
			}
			dec, err := NewDecoder(par, 1)
			if err != nil {
				return m, fmt.Errorf("%s: video: %w", path, err)
			}
			m.video = &fileStream{index: s.Index(), dec: dec, tb: s.TimeBase()}
			if sd := s.SideData(astiav.PacketSideDataTypeDisplaymatrix); len(sd) >= 36 {
				if dm, err := astiav.NewDisplayMatrixFromBytes(sd); err == nil {
					if spec := rotationFilter(dm.Rotation()); spec != "" {
						m.rotate = newVideoFilter(spec)
					}
				}
			}
		case astiav.MediaTypeAudio:
			if m.audio != nil {
				continue
			}
			dec, err := NewDecoder(par, 1)
			if err != nil {
				return m, fmt.Errorf("%s: audio: %w", path, err)
			}
			m.audio = &fileStream{index: s.Index(), dec: dec, tb: s.TimeBase()}
		}
	}
	if m.video == nil && m.audio == nil {
		return m, fmt.Errorf("%s: %w", path, ErrNoMedia)
	}
	if st := m.fc.StartTime(); st != noPTS {
		m.start = st
	}
	m.pkt = astiav.AllocPacket()
	return m, nil
}

// Path is the file's path.
func (m *MediaFile) Path() string { return m.path }

// HasVideo tells whether the file has a video stream.
func (m *MediaFile) HasVideo() bool { return m.video != nil }

// HasAudio tells whether the file has an audio stream.
func (m *MediaFile) HasAudio() bool { return m.audio != nil }

// Read demuxes one packet and calls fn for everything it decodes to. At the
// end of the file it flushes the decoders and returns io.EOF. Damaged
// packets are skipped, as players do; an unreadable file is an error.
func (m *MediaFile) Read(fn func(Decoded) error) error {
	if m.eof {
		return io.EOF
	}
	m.pkt.Unref()
	err := m.fc.ReadFrame(m.pkt)
	if errors.Is(err, astiav.ErrEof) {
		m.eof = true
		if m.video != nil {
			if err := m.video.dec.Decode(nil, func(f *astiav.Frame) error { return m.emitVideo(f, fn) }); err != nil {
				return fmt.Errorf("%s: %w", m.path, err)
			}
		}
		if m.audio != nil {
			if err := m.audio.dec.Decode(nil, func(f *astiav.Frame) error { return m.emitAudio(f, fn) }); err != nil {
				return fmt.Errorf("%s: %w", m.path, err)
			}
			if rest := m.res.flush(); len(rest) > 0 {
				if err := fn(Decoded{Audio: rest, Time: math.NaN()}); err != nil {
					return err
				}
			}
		}
		return io.EOF
	}
	if err != nil {
		return fmt.Errorf("%s: reading: %w", m.path, err)
	}
	switch {
	case m.video != nil && m.pkt.StreamIndex() == m.video.index:
		err = m.video.dec.Decode(m.pkt, func(f *astiav.Frame) error { return m.emitVideo(f, fn) })
	case m.audio != nil && m.pkt.StreamIndex() == m.audio.index:
		err = m.audio.dec.Decode(m.pkt, func(f *astiav.Frame) error { return m.emitAudio(f, fn) })
	}
	var ce callbackError
	if errors.As(err, &ce) {
		return ce.err
	}
	// A decoding error on one packet (corrupt data) is not fatal.
	return nil
}

// callbackError carries an error returned by the caller's callback through
// the decoder so it is not mistaken for a decoding error.
type callbackError struct{ err error }

func (c callbackError) Error() string { return c.err.Error() }

func (m *MediaFile) seconds(pts int64, tb astiav.Rational) float64 {
	if pts == noPTS {
		return math.NaN()
	}
	us := astiav.RescaleQ(pts, tb, astiav.NewRational(1, 1_000_000))
	if m.start == noPTS {
		m.start = us
	}
	return float64(us-m.start) / 1e6
}

func (m *MediaFile) emitVideo(f *astiav.Frame, fn func(Decoded) error) error {
	d := Decoded{Time: m.seconds(bestEffortPTS(f), m.video.tb)}
	if dur := frameDuration(f); dur > 0 {
		d.Duration = float64(dur) * m.video.tb.Float64()
	}
	call := func(out *astiav.Frame) error {
		d.Video = out
		if err := fn(d); err != nil {
			return callbackError{err}
		}
		return nil
	}
	if m.rotate != nil {
		return m.rotate.apply(f, call)
	}
	return call(f)
}

func (m *MediaFile) emitAudio(f *astiav.Frame, fn func(Decoded) error) error {
	t := m.seconds(bestEffortPTS(f), m.audio.tb)
	s, err := m.res.convert(f)
	if err != nil {
		return err
	}
	if len(s) == 0 {
		return nil
	}
	if err := fn(Decoded{Audio: s, Time: t}); err != nil {
		return callbackError{err}
	}
	return nil
}

// Close frees everything the file holds. It is safe to call twice.
func (m *MediaFile) Close() {
	if m.video != nil {
		m.video.dec.Close()
		m.video = nil
	}
	if m.audio != nil {
		m.audio.dec.Close()
		m.audio = nil
	}
	if m.rotate != nil {
		m.rotate.close()
		m.rotate = nil
	}
	m.res.free()
	if m.pkt != nil {
		m.pkt.Free()
		m.pkt = nil
	}
	if m.fc != nil {
		m.fc.CloseInput()
		m.fc.Free()
		m.fc = nil
	}
}
