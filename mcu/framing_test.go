package mcu

import "testing"

func TestMarkerFlush(t *testing.T) {
	type pkt struct {
		seq    uint16
		marker bool
		flush  bool
	}
	cases := []struct {
		name string
		pkts []pkt
	}{
		{"in order", []pkt{{10, false, false}, {11, false, false}, {12, true, true}, {13, true, true}}},
		{"reordered inside a picture", []pkt{{10, false, false}, {12, true, false}, {11, false, true}}},
		{"gap holds until retransmitted", []pkt{{10, false, false}, {12, true, false}, {13, false, false}, {14, true, false}, {11, false, true}}},
		{"wraps around", []pkt{{65534, false, false}, {65535, false, false}, {0, true, true}, {1, true, true}}},
		{"late duplicate ignored", []pkt{{10, true, true}, {10, true, false}, {11, true, true}}},
	}
	for _, c := range cases {
		var m markerFlush
		for i, p := range c.pkts {
			if got := m.push(p.seq, p.marker); got != p.flush {
				t.Errorf("%s: packet %d (seq %d): flush=%v, want %v", c.name, i, p.seq, got, p.flush)
			}
		}
	}
	// After a lost packet the samplebuilder gives up on its own; restart
	// lets flushing resume.
	var m markerFlush
	m.push(10, false)
	m.push(12, true) // 11 is lost for good
	m.restart(13)
	if !m.push(13, true) {
		t.Error("no flush after restart")
	}
}
