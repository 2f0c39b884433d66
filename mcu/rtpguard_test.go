package mcu

import (
	"math/rand/v2"
	"testing"

	"github.com/pion/rtp"
)

func pkt(seq uint16, ts uint32) *rtp.Packet {
	return &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: ts}}
}

func TestRTPGuard(t *testing.T) {
	g := &rtpGuard{rate: 90000}
	// A normal stream, with wrap-around, reordering and a burst of loss.
	seq, ts := uint16(65000), uint32(4294900000)
	for i := 0; i < 2000; i++ {
		seq++
		ts += 3000
		if ok, _ := g.accept(pkt(seq, ts)); !ok {
			t.Fatalf("packet %d of a normal stream dropped", i)
		}
	}
	if ok, _ := g.accept(pkt(seq-100, ts-30000)); !ok {
		t.Fatal("late retransmission dropped")
	}
	seq += 500
	ts += 500 * 600 // several packets per picture
	if ok, _ := g.accept(pkt(seq, ts)); !ok {
		t.Fatal("packet after 500 lost dropped")
	}
	// Garbage: random sequence numbers and timestamps.
	r := rand.New(rand.NewPCG(1, 2))
	passed := 0
	for i := 0; i < 10000; i++ {
		if ok, _ := g.accept(pkt(uint16(r.Uint32()), r.Uint32())); ok {
			passed++
		}
	}
	if passed > 100 {
		t.Errorf("%d of 10000 random packets passed, want almost none", passed)
	}
	if g.dropped < 9900 {
		t.Errorf("dropped %d", g.dropped)
	}
	// The normal stream goes on.
	if ok, _ := g.accept(pkt(seq+1, ts+3000)); !ok {
		t.Fatalf("normal stream dropped after garbage: guard at %d/%d, packet %d/%d", g.seq, g.ts, seq+1, ts+3000)
	}
	// A stream that restarts elsewhere is followed after a short run.
	seq, ts = 30000, 12345
	resynced := false
	for i := 0; i < guardResync; i++ {
		seq++
		ts += 3000
		if _, rs := g.accept(pkt(seq, ts)); rs {
			resynced = true
		}
	}
	if ok, _ := g.accept(pkt(seq+1, ts+3000)); !ok || !resynced {
		t.Fatalf("restarted stream not followed (resynced %v)", resynced)
	}
}
