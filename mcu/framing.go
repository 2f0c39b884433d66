package mcu

import (
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"
)

// markerFlush removes one picture of latency from pion's samplebuilder. The
// samplebuilder finds a picture's end by the RTP marker bit but only
// releases it when the first packet of the next picture arrives (it wants
// that timestamp for the duration). markerFlush tracks the sequence numbers
// pushed since the last flush and says when every packet up to a marker has
// arrived and nothing after it: then Flush releases exactly the complete
// pictures, at once. On any gap it stays quiet and the samplebuilder's own
// rules (waiting for NACK retransmissions, dropping what is too late) apply.
type markerFlush struct {
	started bool
	base    uint16 // sequence number of seen[0]
	seen    []bool
	marker  int // index in seen of the newest marker packet, or -1
}

const markerWindow = 1024

// push records a packet and reports whether the caller should Flush.
func (m *markerFlush) push(seq uint16, marker bool) bool {
	if !m.started {
		m.started, m.base, m.marker = true, seq, -1
	}
	d := int(int16(seq - m.base))
	if d < 0 {
		return false // older than what was flushed: the samplebuilder decides
	}
	if d >= markerWindow {
		m.restart(seq)
		d = 0
	}
	for len(m.seen) <= d {
		m.seen = append(m.seen, false)
	}
	m.seen[d] = true
	if marker && d > m.marker {
		m.marker = d
	}
	if m.marker < 0 || len(m.seen) != m.marker+1 {
		return false
	}
	for _, ok := range m.seen {
		if !ok {
			return false
		}
	}
	m.base += uint16(m.marker + 1)
	m.seen, m.marker = m.seen[:0], -1
	return true
}

// restart forgets everything before seq, after the samplebuilder released a
// picture on its own (a gap was resolved or given up).
func (m *markerFlush) restart(seq uint16) {
	m.started, m.base, m.seen, m.marker = true, seq, m.seen[:0], -1
}

// framer turns RTP packets into media samples with pion's samplebuilder,
// releasing complete samples as soon as their last packet is in.
type framer struct {
	sb *samplebuilder.SampleBuilder
	mf markerFlush
	// everyPacket marks every packet as a sample's end (Opus: one frame per packet).
	everyPacket bool
	out         []*media.Sample
}

func newFramer(sb *samplebuilder.SampleBuilder, everyPacket bool) *framer {
	return &framer{sb: sb, everyPacket: everyPacket}
}

// push adds a packet and returns the samples now complete, valid until the
// next call.
func (f *framer) push(pkt *rtp.Packet) []*media.Sample {
	f.out = f.out[:0]
	f.sb.Push(pkt)
	end := pkt.Marker || f.everyPacket
	flushed := f.mf.push(pkt.SequenceNumber, end)
	if flushed {
		f.sb.Flush()
	}
	if f.pop() > 0 && !flushed {
		// The samplebuilder released something by its own rules: track
		// from this packet on.
		f.mf.restart(pkt.SequenceNumber)
		if f.mf.push(pkt.SequenceNumber, end) {
			f.sb.Flush()
			f.pop()
		}
	}
	return f.out
}

func (f *framer) pop() int {
	n := 0
	for s := f.sb.Pop(); s != nil; s = f.sb.Pop() {
		f.out = append(f.out, s)
		n++
	}
	return n
}
