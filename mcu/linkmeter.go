package mcu

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// linkMeter reads a connection's transport-wide congestion feedback for
// itself: how long packets now queue on the way to the receiver. GCC sees
// the same feedback, but its overuse detector needs a quiet machine; a
// queue that grew by a tenth of a second is congestion whatever the CPU
// is doing, and that is what stops a probe before a capped link drops.
type linkMeter struct {
	interceptor.NoOp

	mu   sync.Mutex
	sent [linkRing]sentAt // by transport-wide sequence number
	base float64          // least one-way delay seen (µs, receiver's clock offset included)
	have bool             // base is set
	seen time.Time        // when base was last lowered or aged

	queue atomic.Int64 // queuing delay in the latest feedback, µs
	heard atomic.Int64 // when feedback last came, unix nanoseconds
}

// linkRing is the packets remembered: feedback comes within a few hundred
// milliseconds, long before 4096 packets have gone out.
const linkRing = 1 << 12

type sentAt struct {
	at    int64 // unix microseconds; 0 for none
	seq   uint16
	state uint8 // what feedback said of it: unreported, lost or received
}

const (
	unreported = iota
	reportedLost
	reportedReceived
)

// Loss is read from the same feedback, but only once it has settled. A
// receiver stamps a packet when its application reads it, and reads each
// track on a goroutine of its own (pion does): feedback built while one
// track's packets wait to be read reports them lost, and the next one
// reports them received. GCC counts the first report; the link meter
// counts a packet lost only if no feedback within lossSettle said it came.
const (
	lossSettle = 400 * time.Millisecond
	lossWindow = time.Second // the packets the loss is read over
	lossMin    = 20          // fewer reported packets than this: no reading
)

type linkMeterFactory struct{ onNew func(*linkMeter) }

func (f linkMeterFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	m := &linkMeter{}
	if f.onNew != nil {
		f.onNew(m)
	}
	return m, nil
}

// queueDelay is how much longer packets take to arrive than the fastest
// did lately.
func (m *linkMeter) queueDelay() time.Duration {
	if m == nil {
		return 0
	}
	return time.Duration(m.queue.Load()) * time.Microsecond
}

// loss is the fraction of the packets sent between lossWindow and
// lossSettle ago that feedback reported lost and never received; 0 when
// too few were reported (or there is no feedback at all).
func (m *linkMeter) loss(now time.Time) float64 {
	if m == nil {
		return 0
	}
	from, to := now.Add(-lossSettle-lossWindow).UnixMicro(), now.Add(-lossSettle).UnixMicro()
	reported, lost := 0, 0
	m.mu.Lock()
	for i := range m.sent {
		s := &m.sent[i]
		if s.at < from || s.at >= to || s.state == unreported {
			continue
		}
		reported++
		if s.state == reportedLost {
			lost++
		}
	}
	m.mu.Unlock()
	if reported < lossMin {
		return 0
	}
	return float64(lost) / float64(reported)
}

// silent reports whether feedback has stopped coming for longer than d
// (after it came once): whatever a probe does then is unseen.
func (m *linkMeter) silent(d time.Duration) bool {
	if m == nil {
		return false
	}
	heard := m.heard.Load()
	return heard != 0 && time.Since(time.Unix(0, heard)) > d
}

func (m *linkMeter) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	var id uint8
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == sdp.TransportCCURI {
			id = uint8(e.ID)
		}
	}
	if id == 0 {
		return w
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if ext := h.GetExtension(id); len(ext) >= 2 {
			seq := binary.BigEndian.Uint16(ext)
			m.mu.Lock()
			m.sent[seq%linkRing] = sentAt{seq: seq, at: time.Now().UnixMicro(), state: unreported}
			m.mu.Unlock()
		}
		return w.Write(h, payload, a)
	})
}

func (m *linkMeter) BindRTCPReader(r interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := r.Read(b, a)
		if err != nil {
			return n, a, err
		}
		if pkts, err := a.GetRTCPPackets(b[:n]); err == nil {
			for _, p := range pkts {
				if fb, ok := p.(*rtcp.TransportLayerCC); ok {
					m.feedback(fb)
				}
			}
		}
		return n, a, nil
	})
}

// feedback measures the queuing delay of the packets fb reports.
func (m *linkMeter) feedback(fb *rtcp.TransportLayerCC) {
	arrival := float64(fb.ReferenceTime) * 64000 // µs
	seq := fb.BaseSequenceNumber
	deltas := fb.RecvDeltas
	worst := -1.0
	now := time.Now()
	m.heard.Store(now.UnixNano())
	m.mu.Lock()
	defer m.mu.Unlock()
	// Let the least delay age by 1 ms a second (1000 ppm, more than
	// clocks drift), so that a receiver's clock drifting never reads as a
	// queue while a queue that stands for minutes still shows.
	if m.have {
		m.base += float64(now.Sub(m.seen).Microseconds()) / 1000
	}
	m.seen = now
	status := func(received bool) {
		s := &m.sent[seq%linkRing]
		known := s.seq == seq && s.at != 0
		switch {
		case !known:
		case received:
			s.state = reportedReceived
		case s.state == unreported:
			s.state = reportedLost
		}
		if received && len(deltas) > 0 {
			arrival += float64(deltas[0].Delta)
			deltas = deltas[1:]
			if known {
				d := arrival - float64(s.at)
				if !m.have || d < m.base {
					m.base, m.have = d, true
				}
				worst = max(worst, d-m.base)
			}
		}
		seq++
	}
	left := int(fb.PacketStatusCount)
	for _, c := range fb.PacketChunks {
		switch c := c.(type) {
		case *rtcp.RunLengthChunk:
			for i := 0; i < int(c.RunLength) && left > 0; i++ {
				status(c.PacketStatusSymbol != rtcp.TypeTCCPacketNotReceived)
				left--
			}
		case *rtcp.StatusVectorChunk:
			for _, s := range c.SymbolList {
				if left == 0 {
					break
				}
				status(s != rtcp.TypeTCCPacketNotReceived)
				left--
			}
		}
	}
	if worst >= 0 {
		m.queue.Store(int64(worst))
	}
}
