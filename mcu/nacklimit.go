package mcu

import (
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// Retransmissions a receiver can get. A receiver behind a congested link
// loses packets, and a simple NACK generator (pion's asks again for every
// missing packet every 100 ms) would make the server resend hundreds of
// them into the very link that dropped them, keeping it congested. The
// limiter sits between the transport and pion's NACK responder and lets a
// request through only for a packet sent less than nackMaxAge ago, at most
// nackRepeats times, and within a byte budget of nackShare of what the
// stream sends.
const (
	nackMaxAge  = 500 * time.Millisecond
	nackRepeats = 2
	nackShare   = 0.25
	nackBurst   = 64 << 10 // bytes
	nackRing    = 1024     // packets remembered per stream: seconds of video
)

type nackLimiterFactory struct{}

func (nackLimiterFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &nackLimiter{streams: map[uint32]*nackStream{}}, nil
}

type nackLimiter struct {
	interceptor.NoOp
	mu      sync.Mutex
	streams map[uint32]*nackStream
}

// nackStream is one outgoing stream's recent packets and request budget.
type nackStream struct {
	sent   [nackRing]sentPacket
	budget float64 // bytes of retransmission allowed now
}

type sentPacket struct {
	at    int64 // unix nanoseconds; 0 for none
	size  int32
	seq   uint16
	asked uint8
}

func (l *nackLimiter) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	s := &nackStream{budget: nackBurst}
	l.mu.Lock()
	l.streams[info.SSRC] = s
	l.mu.Unlock()
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if len(payload) > 0 {
			l.mu.Lock()
			p := &s.sent[h.SequenceNumber%nackRing]
			if p.seq != h.SequenceNumber || p.at == 0 {
				// A first send, not a retransmission.
				*p = sentPacket{seq: h.SequenceNumber, size: int32(len(payload)), at: time.Now().UnixNano()}
				s.budget = min(nackBurst, s.budget+nackShare*float64(len(payload)))
			}
			l.mu.Unlock()
		}
		return w.Write(h, payload, a)
	})
}

func (l *nackLimiter) UnbindLocalStream(info *interceptor.StreamInfo) {
	l.mu.Lock()
	delete(l.streams, info.SSRC)
	l.mu.Unlock()
}

func (l *nackLimiter) BindRTCPReader(r interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := r.Read(b, a)
		if err != nil {
			return n, a, err
		}
		pkts, err := a.GetRTCPPackets(b[:n])
		if err != nil {
			return n, a, nil // not ours to judge
		}
		changed := false
		now := time.Now()
		l.mu.Lock()
		for _, p := range pkts {
			if nack, ok := p.(*rtcp.TransportLayerNack); ok {
				if s := l.streams[nack.MediaSSRC]; s != nil && s.filter(nack, now) {
					changed = true
				}
			}
		}
		l.mu.Unlock()
		if !changed {
			return n, a, nil
		}
		out, err := rtcp.Marshal(pkts)
		if err != nil || len(out) > len(b) {
			return n, a, nil
		}
		return copy(b, out), interceptor.Attributes{}, nil
	})
}

// filter keeps the requests of nack the stream's budget allows; it
// reports whether it removed any.
func (s *nackStream) filter(nack *rtcp.TransportLayerNack, now time.Time) bool {
	var keep []uint16
	total := 0
	for _, pair := range nack.Nacks {
		for _, seq := range pair.PacketList() {
			total++
			p := &s.sent[seq%nackRing]
			if p.seq != seq || p.at == 0 || now.UnixNano()-p.at > int64(nackMaxAge) || p.asked >= nackRepeats || s.budget < float64(p.size) {
				continue
			}
			p.asked++
			s.budget -= float64(p.size)
			keep = append(keep, seq)
		}
	}
	if len(keep) == total {
		return false
	}
	nack.Nacks = rtcp.NackPairsFromSequenceNumbers(keep)
	return true
}
