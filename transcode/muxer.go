package transcode

import (
	"fmt"

	"github.com/asticode/go-astiav"

	"github.com/mcu-dev/mcu/output"
)

// Muxer writes encoded packets to a WebM or fragmented MP4 file. Both stay
// playable when the process dies mid-write: WebM is written cluster by
// cluster (at most one second each) and MP4 as self-contained fragments that
// start at each keyframe.
type Muxer struct {
	fc      *astiav.FormatContext
	streams map[*Encoder]*astiav.Stream
	offsets map[*Encoder]int64
	path    string
	closed  bool
}

// NewMuxer creates path in format f with one stream per encoder (nil ones
// are skipped) and writes the header.
func NewMuxer(path string, f output.Format, encs ...*Encoder) (m *Muxer, err error) {
	name := "webm"
	opts := astiav.NewDictionary()
	defer opts.Free()
	switch f {
	case output.WebM:
		_ = opts.Set("cluster_time_limit", "1000", 0)
		_ = opts.Set("cluster_size_limit", "2097152", 0)
	case output.MP4:
		name = "mp4"
		_ = opts.Set("movflags", "frag_keyframe+empty_moov+default_base_moof", 0)
		_ = opts.Set("frag_duration", "1000000", 0)
	default:
		return nil, fmt.Errorf("transcode: muxer: %w", output.ErrBadFormat)
	}
	fc, err := astiav.AllocOutputFormatContext(nil, name, path)
	if err != nil {
		return nil, fmt.Errorf("transcode: creating %s muxer: %w", name, err)
	}
	m = &Muxer{fc: fc, streams: map[*Encoder]*astiav.Stream{}, offsets: map[*Encoder]int64{}, path: path}
	defer func() {
		if err != nil {
			_ = m.free()
			m = nil
		}
	}()
	for _, e := range encs {
		if e == nil {
			continue
		}
		s := fc.NewStream(nil)
		if s == nil {
			return m, fmt.Errorf("transcode: adding %s stream failed", e.name)
		}
		if err := s.CodecParameters().FromCodecContext(e.cc); err != nil {
			return m, fmt.Errorf("transcode: %s stream parameters: %w", e.name, err)
		}
		s.SetTimeBase(e.cc.TimeBase())
		m.streams[e] = s
	}
	pb, err := astiav.OpenIOContext(path, astiav.NewIOContextFlags(astiav.IOContextFlagWrite))
	if err != nil {
		return m, fmt.Errorf("transcode: creating %s: %w", path, err)
	}
	fc.SetPb(pb)
	// Hand every finished cluster or fragment to the OS at once, so a crash
	// loses at most the one being written.
	fc.SetFlags(fc.Flags().Add(astiav.FormatContextFlagFlushPackets))
	if err := fc.WriteHeader(opts); err != nil {
		return m, fmt.Errorf("transcode: writing %s header: %w", name, err)
	}
	return m, nil
}

// SetOffset makes Write subtract offset (in enc's time base) from enc's
// packet timestamps, so that a file that joins a running encoder starts at 0.
func (m *Muxer) SetOffset(enc *Encoder, offset int64) { m.offsets[enc] = offset }

// Write writes one packet produced by enc. The packet's timestamps are in
// enc's time base; Write rescales them and leaves pkt otherwise untouched
// for other users.
func (m *Muxer) Write(enc *Encoder, pkt *astiav.Packet) error {
	if m.closed {
		return ErrClosed
	}
	s := m.streams[enc]
	if s == nil {
		return fmt.Errorf("transcode: muxer has no stream for %s", enc.name)
	}
	p := pkt.Clone()
	defer p.Free()
	p.SetStreamIndex(s.Index())
	if off := m.offsets[enc]; off != 0 {
		p.SetPts(p.Pts() - off)
		p.SetDts(p.Dts() - off)
	}
	p.RescaleTs(enc.cc.TimeBase(), s.TimeBase())
	if err := m.fc.WriteInterleavedFrame(p); err != nil {
		return fmt.Errorf("transcode: writing %s: %w", m.path, err)
	}
	return nil
}

// Close writes the trailer (duration and cues for WebM, the last fragment
// for MP4) and closes the file. It is safe to call twice.
func (m *Muxer) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	err := m.fc.WriteTrailer()
	// Closing the file flushes the last bytes: its error counts too.
	if cerr := m.free(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("transcode: finishing %s: %w", m.path, err)
	}
	return nil
}

func (m *Muxer) free() error {
	if m.fc == nil {
		return nil
	}
	var err error
	if pb := m.fc.Pb(); pb != nil {
		err = pb.Close()
	}
	m.fc.Free()
	m.fc = nil
	return err
}
