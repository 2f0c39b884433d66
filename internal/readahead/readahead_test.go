package readahead

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// A consumer that stalls does not stall the reading: packets keep being
// read while it sleeps, those beyond the depth are dropped and counted,
// and the channel closes when the source ends.
func TestReaderKeepsReadingWhileTheConsumerStalls(t *testing.T) {
	const total, depth = 100, 10
	var n atomic.Int32
	read := func() (*rtp.Packet, error) {
		i := n.Add(1)
		if i > total {
			return nil, errors.New("track ended")
		}
		return &rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(i)}}, nil
	}
	var dropped atomic.Int32
	ch := reader(read, depth, func() { dropped.Add(1) })
	deadline := time.Now().Add(5 * time.Second)
	for n.Load() <= total && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // the consumer is busy: nothing is taken
	}
	if n.Load() <= total {
		t.Fatalf("reading stopped at %d while the consumer stalled", n.Load())
	}
	var got []uint16
	for pkt := range ch {
		got = append(got, pkt.SequenceNumber)
	}
	if len(got) != depth || dropped.Load() != total-depth {
		t.Fatalf("got %d packets and %d dropped, want %d and %d", len(got), dropped.Load(), depth, total-depth)
	}
	for i, seq := range got {
		if seq != uint16(i+1) {
			t.Fatalf("packet %d has sequence %d: the oldest should be kept, in order", i, seq)
		}
	}
}
