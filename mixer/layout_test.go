package mixer

import (
	"image"
	"testing"
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
		{3, 640, 360, []image.Rectangle{image.Rect(0, 0, 320, 180), image.Rect(320, 0, 640, 180), image.Rect(0, 180, 320, 360)}},
		{2, 854, 480, []image.Rectangle{image.Rect(0, 0, 426, 480), image.Rect(426, 0, 854, 480)}},
		{5, 1280, 720, []image.Rectangle{
			image.Rect(0, 0, 426, 360), image.Rect(426, 0, 852, 360), image.Rect(852, 0, 1280, 360),
			image.Rect(0, 360, 426, 720), image.Rect(426, 360, 852, 720)}},
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
