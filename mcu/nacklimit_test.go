package mcu

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func TestNACKLimiter(t *testing.T) {
	now := time.Now()
	s := &nackStream{budget: 3000}
	sent := func(seq uint16, size int, ago time.Duration) {
		s.sent[seq%nackRing] = sentPacket{seq: seq, size: int32(size), at: now.Add(-ago).UnixNano()}
	}
	for seq := uint16(100); seq < 110; seq++ {
		sent(seq, 1000, 50*time.Millisecond)
	}
	sent(90, 1000, time.Second) // too old to be worth resending
	ask := func(seqs ...uint16) []uint16 {
		n := &rtcp.TransportLayerNack{MediaSSRC: 1, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}
		s.filter(n, now)
		var kept []uint16
		for _, p := range n.Nacks {
			kept = append(kept, p.PacketList()...)
		}
		return kept
	}
	if got := ask(90, 100, 101); !slices.Equal(got, []uint16{100, 101}) {
		t.Fatalf("first request kept %v, want 100 101 (90 is too old)", got)
	}
	if got := ask(100, 102); !slices.Equal(got, []uint16{100}) {
		t.Fatalf("budget of 3000 bytes: kept %v, want 100 only", got)
	}
	s.budget = 1e6
	if got := ask(100, 101); !slices.Equal(got, []uint16{101}) {
		t.Fatalf("third request for 100: kept %v, want 101 only", got)
	}
	if got := ask(200); len(got) != 0 {
		t.Fatalf("a packet never sent: kept %v", got)
	}
}

func TestLinkMeterQueue(t *testing.T) {
	m := &linkMeter{}
	base := time.Now().UnixMicro()
	// Ten packets 10 ms apart; the first five arrive 10 ms apart, the
	// next five each 30 ms later than the one before (a queue building).
	for i := range 10 {
		m.sent[i] = sentAt{seq: uint16(i), at: base + int64(i)*10_000}
	}
	fb := &rtcp.TransportLayerCC{BaseSequenceNumber: 0, PacketStatusCount: 10, ReferenceTime: 100,
		PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 10}}}
	for i := range 10 {
		d := int64(10_000)
		if i >= 5 {
			d = 30_000
		}
		if i == 0 {
			d = 0
		}
		fb.RecvDeltas = append(fb.RecvDeltas, &rtcp.RecvDelta{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: d})
	}
	m.feedback(fb)
	// The last packet left 90 ms after the first and arrived 40+150 ms after.
	if got := m.queueDelay(); got < 95*time.Millisecond || got > 105*time.Millisecond {
		t.Fatalf("queue %v, want about 100 ms", got)
	}
	var nilMeter *linkMeter
	if nilMeter.queueDelay() != 0 {
		t.Fatal("a nil meter must read no queue")
	}
}

// Loss counts only what feedback never reported received: a packet one
// feedback calls lost and the next calls received (a receiver reading its
// tracks on separate goroutines) is not lost; packets too recent for their
// feedback to have settled are not counted yet.
func TestLinkMeterLossSettles(t *testing.T) {
	m := &linkMeter{}
	now := time.Now()
	// 100 packets, 10 ms apart, sent 1.3 s to 0.3 s ago.
	for i := range 100 {
		m.sent[i] = sentAt{seq: uint16(i), at: now.Add(-1300*time.Millisecond + time.Duration(i)*10*time.Millisecond).UnixMicro()}
	}
	run := func(from, n uint16, sym uint16) *rtcp.TransportLayerCC {
		fb := &rtcp.TransportLayerCC{BaseSequenceNumber: from, PacketStatusCount: n, ReferenceTime: 100,
			PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: sym, RunLength: n}}}
		if sym != rtcp.TypeTCCPacketNotReceived {
			for range n {
				fb.RecvDeltas = append(fb.RecvDeltas, &rtcp.RecvDelta{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 10_000})
			}
		}
		return fb
	}
	m.feedback(run(0, 20, rtcp.TypeTCCPacketReceivedSmallDelta))
	m.feedback(run(20, 10, rtcp.TypeTCCPacketNotReceived)) // reported late...
	m.feedback(run(20, 10, rtcp.TypeTCCPacketReceivedSmallDelta))
	m.feedback(run(30, 10, rtcp.TypeTCCPacketNotReceived)) // ...and truly lost
	m.feedback(run(40, 60, rtcp.TypeTCCPacketReceivedSmallDelta))
	m.feedback(run(20, 10, rtcp.TypeTCCPacketNotReceived)) // a received packet stays received
	// Packets 0-89 are settled (sent over 400 ms ago): 10 of 90 lost.
	if got := m.loss(now); got < 0.105 || got > 0.117 {
		t.Fatalf("loss %.3f, want 10/90", got)
	}
	// Half a second later only packets 40-99 are in the window: none lost.
	if got := m.loss(now.Add(500 * time.Millisecond)); got != 0 {
		t.Fatalf("loss %.3f half a second later, want 0", got)
	}
	var nilMeter *linkMeter
	if nilMeter.loss(now) != 0 {
		t.Fatal("a nil meter must read no loss")
	}
}
