package mcu

import (
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"
)

// framer turns RTP packets into media samples. pion's samplebuilder does
// the work (reordering, waiting for retransmissions, dropping what is too
// late, counting losses), but it releases a sample only when the first
// packet of the next one arrives: one picture interval of latency (33 ms at
// 30 fps). The framer adds a fast path for the common case: when a sample's
// packets arrive complete and in order right after the previous sample, it
// is released as soon as its last packet (RTP marker bit) is in. Whatever
// the samplebuilder releases later for a timestamp already out is skipped,
// so samples leave once each and in order; after any gap or reordering the
// fast path stands aside until the samplebuilder has caught up.
type framer struct {
	sb     *samplebuilder.SampleBuilder
	depack rtp.Depacketizer // the fast path's own: depacketizers keep state
	// everyPacket makes every packet a sample's end (Opus: one frame per packet).
	everyPacket bool

	cur      []*rtp.Packet // fast path: packets of the sample being gathered
	next     uint16        // sequence number expected after the last sample out
	synced   bool          // next is known and nothing was missed since
	last     uint32        // timestamp of the last sample out
	released bool
	out      []*media.Sample
}

// newFramer makes a framer; sbDepack and fastDepack must be distinct
// depacketizers of the same codec.
func newFramer(maxLate uint16, sbDepack, fastDepack rtp.Depacketizer, rate uint32, opts []samplebuilder.Option, everyPacket bool) *framer {
	opts = append(opts, samplebuilder.WithRTPHeaders(true))
	return &framer{sb: samplebuilder.New(maxLate, sbDepack, rate, opts...), depack: fastDepack, everyPacket: everyPacket}
}

// push adds a packet and returns the samples now complete, valid until the
// next call.
func (f *framer) push(pkt *rtp.Packet) []*media.Sample {
	f.out = f.out[:0]
	f.sb.Push(pkt)
	for s := f.sb.Pop(); s != nil; s = f.sb.Pop() {
		if n := len(s.RTPHeaders); n > 0 && (!f.synced || int16(s.RTPHeaders[n-1].SequenceNumber+1-f.next) > 0) {
			f.next, f.synced = s.RTPHeaders[n-1].SequenceNumber+1, true
			f.cur = f.cur[:0]
		}
		if f.released && int32(s.PacketTimestamp-f.last) <= 0 {
			continue // already released by the fast path
		}
		f.release(s)
	}
	f.fast(pkt)
	return f.out
}

func (f *framer) release(s *media.Sample) {
	f.last, f.released = s.PacketTimestamp, true
	f.out = append(f.out, s)
}

// fast gathers in-order packets and releases a sample at its last packet.
func (f *framer) fast(pkt *rtp.Packet) {
	if !f.synced {
		return
	}
	d := int16(pkt.SequenceNumber - f.next - uint16(len(f.cur)))
	switch {
	case d < 0:
		return // a duplicate or a retransmission of something already out
	case d > 0:
		f.synced, f.cur = false, f.cur[:0] // a gap: leave it to the samplebuilder
		return
	}
	if len(f.cur) == 0 {
		if !f.depack.IsPartitionHead(pkt.Payload) || (f.released && int32(pkt.Timestamp-f.last) <= 0) {
			f.synced = false
			return
		}
	} else if pkt.Timestamp != f.cur[0].Timestamp {
		f.synced, f.cur = false, f.cur[:0]
		return
	}
	f.cur = append(f.cur, pkt)
	if !pkt.Marker && !f.everyPacket {
		return
	}
	var data []byte
	for _, p := range f.cur {
		b, err := f.depack.Unmarshal(p.Payload)
		if err != nil {
			f.synced, f.cur = false, f.cur[:0]
			return
		}
		data = append(data, b...)
	}
	f.next = pkt.SequenceNumber + 1
	f.cur = f.cur[:0]
	f.release(&media.Sample{Data: data, PacketTimestamp: pkt.Timestamp})
}

// unpadder drops padding-only packets, which senders use to probe their
// link (libwebrtc pads on the media SSRC when RTX is not negotiated), and
// renumbers the others as if the padding had never been sent. Without it
// the samplebuilder counts padding as dropped packets, and dropped packets
// make the decoder wait for a keyframe. Late packets (retransmissions) are
// renumbered against the padding that came after them.
type unpadder struct {
	skipped uint16
	recent  []uint16 // sequence numbers of the latest padding packets, oldest first
}

const unpadMemory = 128

// keep reports whether pkt carries media, renumbering it if so.
func (u *unpadder) keep(pkt *rtp.Packet) bool {
	if len(pkt.Payload) == 0 {
		u.skipped++
		if len(u.recent) == unpadMemory {
			u.recent = append(u.recent[:0], u.recent[1:]...)
		}
		u.recent = append(u.recent, pkt.SequenceNumber)
		return false
	}
	off := u.skipped
	for _, s := range u.recent {
		if int16(s-pkt.SequenceNumber) > 0 {
			off-- // this padding came after pkt
		}
	}
	pkt.SequenceNumber -= off
	return true
}
