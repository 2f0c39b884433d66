package mcu

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/mixer"
)

// TestTimelineCut: joins, leaves and turns land at their offsets in the
// file, moved back by the detector's lag; a blip is dropped, a turn cut
// by a short pause stays one cue, and the WebVTT is well formed.
func TestTimelineCut(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ann, bob := mixer.Tile{ID: "p1", Name: "Ann"}, mixer.Tile{ID: "p2", Name: "Bob <b>"}
	speak := func(t mixer.Tile) mixer.Tile { t.Speaking = true; return t }
	l := newTimelineLog()
	l.observe([]mixer.Tile{ann}, at(0))
	l.observe([]mixer.Tile{speak(ann)}, at(1100))      // Ann from 1.0 s
	l.observe([]mixer.Tile{ann}, at(2200))             // ends 2.0 s
	l.observe([]mixer.Tile{speak(ann)}, at(2400))      // resumes 2.3 s: same turn
	l.observe([]mixer.Tile{ann, bob}, at(3000))        // Bob joins; Ann stops (2.8 s)
	l.observe([]mixer.Tile{ann, speak(bob)}, at(4000)) // a 50 ms blip of Bob
	l.observe([]mixer.Tile{ann, bob}, at(4050))        //
	l.observe([]mixer.Tile{speak(ann), bob}, at(5100)) // Ann from 5.0 s
	l.observe([]mixer.Tile{ann, speak(bob)}, at(6100)) // Bob takes over at 6.0 s
	l.observe([]mixer.Tile{ann}, at(7000))             // Bob leaves while talking
	tl := l.cut("r1", at(500), at(8000))
	var got []string
	for _, e := range tl.Events {
		got = append(got, e.Kind+" "+e.Name+" "+ftoa(e.Start)+"-"+ftoa(e.End))
	}
	want := []string{
		"present Ann 0-0",
		"speaking Ann 0.5-2.3",
		"joined Bob <b> 2.5-0",
		"speaking Ann 4.5-5.5",
		"speaking Bob <b> 5.5-6.3",
		"left Bob <b> 6.5-0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("timeline:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	vtt := tl.VTT()
	for _, s := range []string{"WEBVTT\n\n1\n00:00:00.500 --> 00:00:02.300\n<v Ann>Ann speaking\n", "Bob &lt;b&gt; joined", "00:00:06.500 --> 00:00:07.500\n"} {
		if !strings.Contains(vtt, s) {
			t.Errorf("VTT lacks %q:\n%s", s, vtt)
		}
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
