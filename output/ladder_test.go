package output

import (
	"errors"
	"testing"
)

func TestLadder(t *testing.T) {
	for _, tc := range []struct {
		q     Quality
		fps   int
		names []string
		last  int // MaxFPS of the last rung
	}{
		{Q720, 30, []string{"720p", "360p", "180p"}, 15},
		{Q480, 30, []string{"480p", "360p", "180p"}, 15},
		{Q360, 30, []string{"360p", "180p"}, 15},
		{Q360, 15, []string{"360p", "180p"}, 15},
	} {
		l := Ladder(tc.q, tc.fps)
		if len(l) != len(tc.names) {
			t.Fatalf("%s%d: %d rungs, want %v", tc.q, tc.fps, len(l), tc.names)
		}
		for i, r := range l {
			if r.Name != tc.names[i] {
				t.Errorf("%s%d rung %d = %s, want %s", tc.q, tc.fps, i, r.Name, tc.names[i])
			}
			if i > 0 && r.Bitrate >= l[i-1].Bitrate {
				t.Errorf("%s%d: rung %s is not cheaper than the one above", tc.q, tc.fps, r.Name)
			}
		}
		if l[0].Bitrate != tc.q.VideoBitrate(tc.fps) || l[len(l)-1].MaxFPS != tc.last {
			t.Errorf("%s%d: %+v", tc.q, tc.fps, l)
		}
	}
}

func TestRungIndex(t *testing.T) {
	l := Ladder(Q720, 30)
	for name, want := range map[string]int{"": -1, "720p": 0, "480p": 1, "360p": 1, "180p": 2} {
		if got := RungIndex(l, name); got != want {
			t.Errorf("RungIndex(720p ladder, %q) = %d, want %d", name, got, want)
		}
	}
	if got := RungIndex(Ladder(Q360, 30), "720p"); got != 0 {
		t.Errorf("a cap above the room's size is its top rung, got %d", got)
	}
}

func TestParseCodecAndRung(t *testing.T) {
	if c, err := ParseCodec(" H264 "); err != nil || c != H264 {
		t.Fatalf("ParseCodec(H264) = %q, %v", c, err)
	}
	if c, err := ParseCodec(""); err != nil || c != CodecAuto {
		t.Fatalf("ParseCodec(\"\") = %q, %v", c, err)
	}
	if _, err := ParseCodec("av1"); !errors.Is(err, ErrBadCodec) {
		t.Fatalf("ParseCodec(av1) = %v", err)
	}
	if _, err := ParseRung("1080p"); !errors.Is(err, ErrBadRung) {
		t.Fatalf("ParseRung(1080p) = %v", err)
	}
}
