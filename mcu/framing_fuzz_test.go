package mcu

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media/samplebuilder"
)

// fuzzPackets turns fuzz input into RTP packets the way a hostile or
// broken sender could send them. Each packet is a 4-byte header, then its
// payload: byte 0 holds the marker bit (0x80) and the payload length
// (0x7f), byte 1 the sequence number step (int8), bytes 2-3 the timestamp
// step (int16, in units of 30 ticks). Sequence numbers start just below
// the 16-bit wrap. At most maxFuzzPackets are made.
func fuzzPackets(data []byte) []*rtp.Packet {
	const maxFuzzPackets = 256
	var out []*rtp.Packet
	seq, ts := uint16(65500), uint32(0xffff0000)
	for len(data) >= 4 && len(out) < maxFuzzPackets {
		n := int(data[0] & 0x7f)
		marker := data[0]&0x80 != 0
		seq += uint16(int8(data[1]))
		ts += uint32(int32(int16(binary.BigEndian.Uint16(data[2:4]))) * 30)
		data = data[4:]
		n = min(n, len(data))
		payload := append([]byte(nil), data[:n]...)
		data = data[n:]
		out = append(out, &rtp.Packet{
			Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: 1, Marker: marker},
			Payload: payload,
		})
	}
	return out
}

// FuzzFramer pushes arbitrary packet sequences through the RTP guard and
// the VP8, H.264 and Opus framers as the participant's read loops set them
// up (a resync starts a new framer). Nothing may panic, and samples must
// leave in timestamp order, each once, between resyncs. Without the guard,
// sequence numbers that keep jumping make pion's samplebuilder scan its
// 65536-slot buffer on every packet (10-46 ms a packet measured).
func FuzzFramer(f *testing.F) {
	// A clean VP8 stream of three pictures, two packets each.
	var clean []byte
	for range 3 {
		clean = append(clean, 0x08, 1, 0, 100, 0x10, 0, 0, 0, 0, 0, 0, 0) // start of partition, keyframe tag
		clean = append(clean, 0x80|0x04, 1, 0, 0, 0x00, 1, 2, 3)          // continuation, marker
	}
	f.Add(clean)
	f.Add([]byte{0x85, 1, 0, 10, 0x10, 0x9d, 0x01, 0x2a, 0x00})                     // one-packet picture
	f.Add([]byte{0x81, 0xff, 0xff, 0xff, 0x10, 0x81, 2, 0, 0, 0x10})                // backwards steps
	f.Add([]byte{0x03, 1, 0, 1, 0x7c, 0x85, 0xaa, 0x83, 1, 0, 0, 0x7c, 0x45, 0xbb}) // H.264 FU-A start and end
	f.Add([]byte{0x06, 1, 0, 1, 0x18, 0, 2, 0x67, 0x42, 0x80})                      // H.264 STAP-A cut short
	f.Fuzz(func(t *testing.T, data []byte) {
		pkts := fuzzPackets(data)
		type stream struct {
			name  string
			rate  uint32
			frame func() *framer
		}
		for _, st := range []stream{
			{"vp8", 90000, func() *framer {
				return newFramer(128, &codecs.VP8Packet{}, &codecs.VP8Packet{}, 90000, []samplebuilder.Option{samplebuilder.WithMaxTimeDelay(300 * time.Millisecond)}, false)
			}},
			{"h264", 90000, func() *framer {
				return newFramer(128, &codecs.H264Packet{}, &codecs.H264Packet{}, 90000, []samplebuilder.Option{samplebuilder.WithMaxTimeDelay(300 * time.Millisecond)}, false)
			}},
			{"opus", 48000, func() *framer {
				return newFramer(16, &codecs.OpusPacket{}, &codecs.OpusPacket{}, 48000, []samplebuilder.Option{samplebuilder.WithMaxTimeDelay(100 * time.Millisecond)}, true)
			}},
		} {
			fr, guard := st.frame(), &rtpGuard{rate: st.rate}
			var last uint32
			out := false
			for i, p := range pkts {
				ok, resynced := guard.accept(p)
				if !ok {
					continue
				}
				if resynced {
					fr, out = st.frame(), false
				}
				for _, s := range fr.push(p) {
					if out && int32(s.PacketTimestamp-last) <= 0 {
						t.Fatalf("%s: packet %d released timestamp %d after %d", st.name, i, s.PacketTimestamp, last)
					}
					last, out = s.PacketTimestamp, true
					// What the read loops do with every sample.
					_ = vp8Keyframe(s.Data)
					_ = h264Keyframe(s.Data)
				}
			}
		}
	})
}
