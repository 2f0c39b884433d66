package mcu

import "github.com/pion/rtp"

// rtpGuard keeps packets that are far from a stream's recent sequence
// numbers and timestamps away from the sample builder, whose work per
// packet grows with how far apart packets are: a publisher writing random
// sequence numbers made it cost a core. Such packets are dropped and
// counted at a fixed cost each. A stream that really jumps (an encoder
// restarted by the browser) keeps counting from its new place: a run of
// consecutive packets outside the window moves the window there.
type rtpGuard struct {
	rate    uint32 // the stream's RTP clock rate
	started bool
	seq     uint16 // highest sequence number accepted
	ts      uint32 // timestamp of that packet
	next    uint16 // sequence number that continues the current run of strays
	run     int    // length of that run
	jump    uint16 // sequence number that confirms a big forward jump
	jumped  bool
	dropped int64
}

const (
	guardBehind = 512  // packets a late arrival may be behind the newest
	guardAhead  = 1024 // packets a stream may skip ahead (a burst of loss)
	guardTime   = 10   // seconds of timestamp distance accepted either way
	guardResync = 16   // consecutive strays that move the window
	guardStep   = 64   // a forward step this large moves the window only once confirmed
)

// accept reports whether p may go on to the sample builder; resynced says
// the window just moved and the caller should start a fresh sample builder.
func (g *rtpGuard) accept(p *rtp.Packet) (ok, resynced bool) {
	if !g.started {
		g.started, g.seq, g.ts = true, p.SequenceNumber, p.Timestamp
		return true, false
	}
	ds := int16(p.SequenceNumber - g.seq)
	dt := int64(int32(p.Timestamp - g.ts))
	if ds > -guardBehind && ds < guardAhead && abs64(dt) < int64(guardTime)*int64(g.rate) {
		g.run = 0
		switch {
		case ds > 0 && ds < guardStep, g.jumped && p.SequenceNumber == g.jump:
			g.seq, g.ts, g.jumped = p.SequenceNumber, p.Timestamp, false
		case ds >= guardStep:
			// After a burst of loss, or one stray packet that happens to
			// land in the window: the window follows only when the next
			// packet continues from it.
			g.jump, g.jumped = p.SequenceNumber+1, true
		}
		return true, false
	}
	g.dropped++
	if g.run > 0 && p.SequenceNumber == g.next {
		g.run++
	} else {
		g.run = 1
	}
	g.next = p.SequenceNumber + 1
	if g.run >= guardResync {
		g.seq, g.ts, g.run = p.SequenceNumber, p.Timestamp, 0
		return true, true
	}
	return false, false
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
