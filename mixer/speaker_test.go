package mixer

import (
	"math"
	"testing"
)

func sine(amp float64, n int) []float32 {
	b := make([]float32, 960)
	for i := range b {
		b[i] = float32(amp * math.Sin(2*math.Pi*440*float64(n*960+i)/48000))
	}
	return b
}

// TestSpeakerDetector: a tone becomes active within two windows and stops
// within a few after it ends; a single loud block (a click) never does;
// the louder of two speakers comes first.
func TestSpeakerDetector(t *testing.T) {
	d := NewSpeakerDetector()
	activeAt := map[string][]bool{}
	for n := 0; n < 100; n++ { // 2 s
		// a talks from 0.2 s to 1.2 s, b talks quietly from 0.6 s on, c
		// clicks once.
		if n >= 10 && n < 60 {
			d.Observe("a", sine(0.3, n))
		} else {
			d.Observe("a", nil)
		}
		if n >= 30 {
			d.Observe("b", sine(0.05, n))
		} else {
			d.Observe("b", make([]float32, 960))
		}
		if n == 20 {
			d.Observe("c", sine(0.9, n))
		} else {
			d.Observe("c", nil)
		}
		levels, ok := d.Next()
		if !ok {
			continue
		}
		for _, l := range levels {
			activeAt[l.ID] = append(activeAt[l.ID], l.Active)
		}
		if n == 49 && (levels[0].ID != "a" || levels[1].ID != "b" || !levels[1].Active) {
			t.Errorf("at 1 s: %+v, want a then b, both active", levels)
		}
	}
	// Windows are 100 ms: a starts in window 2, ends after window 11.
	a := activeAt["a"]
	first, last := -1, -1
	for i, on := range a {
		if on {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 2 || first > 3 || last < 11 || last > 15 {
		t.Errorf("a active in windows %d..%d, want from 2-3 to 11-15: %v", first, last, a)
	}
	for i, on := range activeAt["c"] {
		if on {
			t.Errorf("a single click made c a speaker in window %d", i)
		}
	}
}
