package mcu

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"
)

// vp8Frames packetizes n pictures of size bytes each (the first a keyframe).
func vp8Frames(n, size int) [][]*rtp.Packet {
	pk := rtp.NewPacketizer(1200, 96, 1, &codecs.VP8Payloader{}, rtp.NewFixedSequencer(65000), 90000)
	var out [][]*rtp.Packet
	for i := 0; i < n; i++ {
		data := make([]byte, size)
		data[0] = byte(i) | 1
		data[1] = byte(i)
		out = append(out, pk.Packetize(data, 3000))
	}
	return out
}

func newTestFramer() *framer {
	return newFramer(128, &codecs.VP8Packet{}, &codecs.VP8Packet{}, 90000, []samplebuilder.Option{samplebuilder.WithMaxTimeDelay(300 * time.Millisecond)}, false)
}

func TestFramerReleasesAtTheMarker(t *testing.T) {
	frames := vp8Frames(20, 3000) // three packets a picture, across a sequence wrap
	f := newTestFramer()
	var got []uint32
	for i, fr := range frames {
		for j, p := range fr {
			out := f.push(p)
			for _, s := range out {
				got = append(got, s.PacketTimestamp)
				if len(s.Data) != 3000 || s.Data[1] != byte(len(got)-1) {
					t.Fatalf("picture %d: %d bytes, tag %d", len(got)-1, len(s.Data), s.Data[1])
				}
			}
			// From the second picture on, each leaves with its last packet.
			if i > 0 && j == len(fr)-1 && len(got) != i+1 {
				t.Fatalf("after the last packet of picture %d, %d pictures are out", i, len(got))
			}
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+3000 {
			t.Fatalf("pictures out of order or repeated: %v", got)
		}
	}
}

func TestFramerFallsBackOnReorderAndLoss(t *testing.T) {
	frames := vp8Frames(30, 3000)
	var order []*rtp.Packet
	for i, fr := range frames {
		switch i {
		case 4: // reordered inside a picture
			order = append(order, fr[0], fr[2], fr[1])
		case 7: // middle packet lost
			order = append(order, fr[0], fr[2])
		default:
			order = append(order, fr...)
		}
	}
	f := newTestFramer()
	seen := map[uint32]bool{}
	var last uint32
	for _, p := range order {
		for _, s := range f.push(p) {
			if seen[s.PacketTimestamp] {
				t.Fatalf("picture %d released twice", s.PacketTimestamp)
			}
			if len(seen) > 0 && int32(s.PacketTimestamp-last) <= 0 {
				t.Fatalf("picture %d after %d", s.PacketTimestamp, last)
			}
			seen[s.PacketTimestamp], last = true, s.PacketTimestamp
		}
	}
	// The samplebuilder holds what follows the damaged picture 7 until it
	// gives up on it (300 ms of RTP time later); then everything but
	// picture 7 comes out, the last one or two waiting for successors.
	if len(seen) < 27 {
		t.Fatalf("%d of 30 pictures released", len(seen))
	}
	if seen[frames[7][0].Timestamp] {
		t.Error("a picture with a lost packet was released")
	}
}

// A sender probing its link pads after some pictures' last packet, on the
// media SSRC: the pictures must still come out whole, at their marker, with
// nothing counted as dropped (which would make the decoder wait for a
// keyframe). A retransmission that arrives after padding is renumbered to
// where it belongs.
func TestFramerIgnoresPadding(t *testing.T) {
	frames := vp8Frames(12, 2500)
	var stream []*rtp.Packet
	seq := uint16(65500) // across a wrap
	for i, fr := range frames {
		for _, p := range fr {
			q := *p
			q.SequenceNumber = seq
			seq++
			stream = append(stream, &q)
		}
		if i%3 == 1 {
			for range 4 {
				stream = append(stream, &rtp.Packet{Header: rtp.Header{Version: 2, Padding: true, SequenceNumber: seq, Timestamp: fr[0].Timestamp}})
				seq++
			}
		}
	}
	// The last packet of picture 7 arrives late, after the padding that
	// follows it.
	var late *rtp.Packet
	for i, p := range stream {
		if p.Timestamp == frames[7][0].Timestamp && p.Marker {
			late = p
			stream = append(stream[:i:i], stream[i+1:]...)
			break
		}
	}
	for i, p := range stream {
		if p.Timestamp == frames[8][0].Timestamp {
			stream = append(stream[:i:i], append([]*rtp.Packet{late}, stream[i:]...)...)
			break
		}
	}
	f := newTestFramer()
	var u unpadder
	var got []uint32
	for _, p := range stream {
		if !u.keep(p) {
			continue
		}
		for _, s := range f.push(p) {
			if s.PrevDroppedPackets > 0 {
				t.Fatalf("picture at %d: %d packets counted as dropped", s.PacketTimestamp, s.PrevDroppedPackets)
			}
			if len(s.Data) != 2500 {
				t.Fatalf("picture at %d: %d bytes", s.PacketTimestamp, len(s.Data))
			}
			got = append(got, s.PacketTimestamp)
		}
	}
	if len(got) < len(frames)-1 {
		t.Fatalf("%d of %d pictures out: %v", len(got), len(frames), got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+3000 {
			t.Fatalf("pictures out of order or missing: %v", got)
		}
	}
}
