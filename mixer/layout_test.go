package mixer

import (
	"image"
	"testing"
	"time"
)

func TestGrid(t *testing.T) {
	cases := []struct{ n, cols, rows int }{
		{0, 1, 1}, {1, 1, 1}, {2, 2, 1}, {3, 2, 2}, {4, 2, 2}, {5, 3, 2}, {6, 3, 2},
		{7, 3, 3}, {9, 3, 3}, {10, 4, 4}, {16, 4, 4}, {17, 5, 5}, {26, 6, 6},
	}
	for _, c := range cases {
		cols, rows := Grid(c.n)
		if cols != c.cols || rows != c.rows {
			t.Errorf("Grid(%d) = %dx%d, want %dx%d", c.n, cols, rows, c.cols, c.rows)
		}
	}
}

func TestTiles(t *testing.T) {
	cases := []struct {
		n, w, h int
		want    []image.Rectangle
	}{
		{1, 1280, 720, []image.Rectangle{image.Rect(0, 0, 1280, 720)}},
		{2, 1280, 720, []image.Rectangle{image.Rect(0, 0, 640, 720), image.Rect(640, 0, 1280, 720)}},
		// The last row's single tile is centred.
		{3, 640, 360, []image.Rectangle{image.Rect(0, 0, 320, 180), image.Rect(320, 0, 640, 180), image.Rect(160, 180, 480, 360)}},
		{2, 854, 480, []image.Rectangle{image.Rect(0, 0, 426, 480), image.Rect(426, 0, 854, 480)}},
		{5, 1280, 720, []image.Rectangle{
			image.Rect(0, 0, 426, 360), image.Rect(426, 0, 852, 360), image.Rect(852, 0, 1280, 360),
			image.Rect(212, 360, 638, 720), image.Rect(638, 360, 1066, 720)}},
		// 10 tiles use 3 rows of a 4x4 grid: the grid is centred vertically
		// and the last row's two tiles horizontally.
		{10, 640, 360, []image.Rectangle{
			image.Rect(0, 44, 160, 134), image.Rect(160, 44, 320, 134), image.Rect(320, 44, 480, 134), image.Rect(480, 44, 640, 134),
			image.Rect(0, 134, 160, 224), image.Rect(160, 134, 320, 224), image.Rect(320, 134, 480, 224), image.Rect(480, 134, 640, 224),
			image.Rect(160, 224, 320, 314), image.Rect(320, 224, 480, 314)}},
	}
	for _, c := range cases {
		got := Tiles(c.n, c.w, c.h)
		if len(got) != len(c.want) {
			t.Fatalf("Tiles(%d,%d,%d): %d tiles, want %d", c.n, c.w, c.h, len(got), len(c.want))
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("Tiles(%d,%d,%d)[%d] = %v, want %v", c.n, c.w, c.h, i, got[i], c.want[i])
			}
		}
	}
	// Tiles never overlap, stay on even pixels and cover the canvas rows they use.
	for n := 1; n <= 16; n++ {
		ts := Tiles(n, 854, 480)
		for i, a := range ts {
			if a.Min.X%2 != 0 || a.Min.Y%2 != 0 || a.Max.X%2 != 0 || a.Max.Y%2 != 0 {
				t.Errorf("n=%d tile %d %v has odd edges", n, i, a)
			}
			for j, b := range ts[i+1:] {
				if a.Overlaps(b) {
					t.Errorf("n=%d tiles %d and %d overlap: %v %v", n, i, i+1+j, a, b)
				}
			}
		}
	}
}

func TestFit(t *testing.T) {
	tile := image.Rect(0, 0, 640, 360)
	cases := []struct {
		name             string
		w, h, sarN, sarD int
		tile             image.Rectangle
		want             image.Rectangle
	}{
		{"same aspect fills", 1280, 720, 1, 1, tile, image.Rect(0, 0, 640, 360)},
		{"4:3 pillarboxed", 640, 480, 1, 1, tile, image.Rect(80, 0, 560, 360)},
		{"portrait phone stays portrait", 720, 1280, 1, 1, tile, image.Rect(218, 0, 420, 360)},
		{"wide letterboxed", 1000, 200, 1, 1, tile, image.Rect(0, 116, 640, 244)},
		{"anamorphic SAR widens past 16:9", 720, 576, 16, 11, image.Rect(0, 0, 1280, 720), image.Rect(0, 8, 1280, 712)},
		{"anamorphic 12:11 SAR", 720, 576, 12, 11, image.Rect(0, 0, 1280, 720), image.Rect(150, 0, 1130, 720)},
		{"offset tile", 640, 480, 1, 1, image.Rect(640, 360, 1280, 720), image.Rect(720, 360, 1200, 720)},
		{"zero size", 0, 0, 1, 1, tile, image.Rectangle{}},
	}
	for _, c := range cases {
		got := Fit(c.w, c.h, c.sarN, c.sarD, c.tile)
		if got != c.want {
			t.Errorf("%s: Fit = %v, want %v", c.name, got, c.want)
		}
		if !got.Empty() && !got.In(c.tile) {
			t.Errorf("%s: %v not inside tile %v", c.name, got, c.tile)
		}
	}
}

func TestArrange(t *testing.T) {
	// Speaker: the main tile (index 1) large on the left, the others in a
	// strip on the right, centred vertically in four slots.
	got := Arrange(LayoutSpeaker, 3, 1, 640, 360)
	want := []image.Rectangle{image.Rect(512, 90, 640, 180), image.Rect(0, 0, 512, 360), image.Rect(512, 180, 640, 270)}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("speaker[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	// Single: only the main tile, full canvas.
	got = Arrange(LayoutSingle, 3, 2, 640, 360)
	if !got[0].Empty() || !got[1].Empty() || got[2] != image.Rect(0, 0, 640, 360) {
		t.Errorf("single = %v", got)
	}
	// No main tile: a grid.
	if got = Arrange(LayoutSpeaker, 2, -1, 640, 360); got[0] != image.Rect(0, 0, 320, 360) {
		t.Errorf("speaker without main = %v", got)
	}
	for _, l := range Layouts {
		if p, err := ParseLayout(string(l)); err != nil || p != l {
			t.Errorf("ParseLayout(%q) = %q, %v", l, p, err)
		}
	}
	if _, err := ParseLayout("mosaic"); err == nil || err.Error() != `mixer: unknown layout "mosaic" (allowed: auto, grid, speaker, presenter, single)` {
		t.Errorf("ParseLayout(mosaic): %v", err)
	}
}

func TestDirectorHoldTimes(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	tiles := func(speaking string) []Tile {
		ts := []Tile{{ID: "a"}, {ID: "b"}, {ID: "c"}}
		for i := range ts {
			ts[i].Speaking = ts[i].ID == speaking
		}
		return ts
	}
	var d director
	steps := []struct {
		ms       int
		speaking string
		want     int
	}{
		{0, "", 0},     // nobody spoke: the first tile
		{500, "b", 0},  // b starts talking
		{1900, "b", 0}, // 1.4 s: not yet
		{2000, "b", 0}, // 1.5 s talking, but a has held only 2 s
		{3000, "b", 1}, // a held 3 s: b takes it
		{3500, "c", 1}, // c starts
		{4000, "", 1},  // c pauses: its count starts again
		{4100, "c", 1}, //
		{5500, "c", 1}, // 1.4 s
		{5600, "c", 1}, // 1.5 s, but b has held only 2.6 s
		{6000, "c", 2}, // b held 3 s
		{6100, "b", 2}, // b again: a remark
		{6500, "c", 2}, // c back, b never took it
		{20000, "", 2}, // silence keeps the last speaker
	}
	for _, s := range steps {
		l, main := d.choose(LayoutSpeaker, "", tiles(s.speaking), at(s.ms))
		if l != LayoutSpeaker || main != s.want {
			t.Fatalf("at %d ms (%q speaking): %s main %d, want %d", s.ms, s.speaking, l, main, s.want)
		}
	}
	// A pin wins at once; presenter follows a screen share; auto is a grid
	// until someone shares.
	if _, main := d.choose(LayoutSpeaker, "a", tiles("c"), at(20100)); main != 0 {
		t.Errorf("pinned a: main %d", main)
	}
	shared := tiles("")
	shared[1].Screen = true
	if l, main := d.choose(LayoutAuto, "", shared, at(20200)); l != LayoutPresenter || main != 1 {
		t.Errorf("auto with a share: %s main %d", l, main)
	}
	if l, main := d.choose(LayoutAuto, "", tiles("a"), at(20300)); l != LayoutGrid || main != -1 {
		t.Errorf("auto without a share: %s main %d", l, main)
	}
}
