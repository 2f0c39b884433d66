package metrics

import (
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// Interceptor returns a pion interceptor factory that counts RTP bytes and
// the NACKs and PLIs of every PeerConnection: in is what peers send to the
// server, out what it sends them. Register it first in the
// interceptor.Registry, so that it sits next to the transport and also sees
// what the other interceptors send (generated NACKs, retransmissions). On
// nil Metrics it returns nil.
func (m *Metrics) Interceptor() interceptor.Factory {
	if m == nil {
		return nil
	}
	return counterFactory{m}
}

type counterFactory struct{ m *Metrics }

func (f counterFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	m := f.m
	return &counter{
		bytesIn: m.bytes.WithLabelValues(In), bytesOut: m.bytes.WithLabelValues(Out),
		nacksIn: m.nacks.WithLabelValues(In), nacksOut: m.nacks.WithLabelValues(Out),
		plisIn: m.plis.WithLabelValues(In), plisOut: m.plis.WithLabelValues(Out),
	}, nil
}

type adder interface{ Add(float64) }

// counter only counts: it passes every packet on unchanged.
type counter struct {
	interceptor.NoOp
	bytesIn, bytesOut adder
	nacksIn, nacksOut adder
	plisIn, plisOut   adder
}

func countRTCP(pkts []rtcp.Packet, nacks, plis adder) {
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.TransportLayerNack:
			n := 0
			for _, pair := range p.Nacks {
				n += len(pair.PacketList())
			}
			nacks.Add(float64(n))
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			plis.Add(1)
		}
	}
}

func (c *counter) BindRTCPReader(r interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := r.Read(b, a)
		if err != nil {
			return n, a, err
		}
		if a == nil {
			a = interceptor.Attributes{}
		}
		if pkts, perr := a.GetRTCPPackets(b[:n]); perr == nil {
			countRTCP(pkts, c.nacksIn, c.plisIn)
		}
		return n, a, nil
	})
}

func (c *counter) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	return interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, a interceptor.Attributes) (int, error) {
		countRTCP(pkts, c.nacksOut, c.plisOut)
		return w.Write(pkts, a)
	})
}

func (c *counter) BindLocalStream(_ *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		n, err := w.Write(h, payload, a)
		if err == nil {
			c.bytesOut.Add(float64(h.MarshalSize() + len(payload)))
		}
		return n, err
	})
}

func (c *counter) BindRemoteStream(_ *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := r.Read(b, a)
		if err == nil {
			c.bytesIn.Add(float64(n))
		}
		return n, a, err
	})
}
