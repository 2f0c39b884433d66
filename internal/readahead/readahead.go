// Package readahead reads a remote track as fast as its packets arrive and
// hands them to a slower consumer.
//
// pion runs a track's interceptors inside ReadRTP: the transport-wide
// congestion control recorder stamps a packet's arrival when it is read,
// not when it reached the socket. A loop that decodes between reads
// therefore reports its own decoding time as network delay, and since the
// connection's other tracks are read on time, the feedback built in
// between reports the unread packets as lost. The sender's bandwidth
// estimate then falls for no reason on the network. Reading ahead on a
// goroutine of its own keeps the stamps honest.
package readahead

import (
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Track starts reading t and returns the packets read, in order; the
// channel closes when reading fails (the track ended). At most depth
// packets wait: when the consumer falls that far behind, newer packets
// are dropped and counted with dropped (which may be nil), so that a
// stalled consumer costs bounded memory and shows up as loss.
func Track(t *webrtc.TrackRemote, depth int, dropped func()) <-chan *rtp.Packet {
	return reader(func() (*rtp.Packet, error) {
		pkt, _, err := t.ReadRTP()
		return pkt, err
	}, depth, dropped)
}

// reader is Track for any packet source.
func reader(read func() (*rtp.Packet, error), depth int, dropped func()) <-chan *rtp.Packet {
	ch := make(chan *rtp.Packet, depth)
	go func() {
		defer close(ch)
		for {
			pkt, err := read()
			if err != nil {
				return
			}
			select {
			case ch <- pkt:
			default:
				if dropped != nil {
					dropped()
				}
			}
		}
	}()
	return ch
}
