package mixer

import (
	"fmt"
	"image"
)

// Grid returns the columns and rows used for n tiles: 1 fills the canvas,
// 2 side by side, 3-4 in 2x2, 5-6 in 3x2, 7-9 in 3x3, 10-16 in 4x4.
// Beyond 16 the grid keeps growing as the smallest square that fits.
func Grid(n int) (cols, rows int) {
	switch {
	case n <= 1:
		return 1, 1
	case n == 2:
		return 2, 1
	case n <= 4:
		return 2, 2
	case n <= 6:
		return 3, 2
	case n <= 9:
		return 3, 3
	case n <= 16:
		return 4, 4
	}
	c := 5
	for c*c < n {
		c++
	}
	return c, c
}

// Tiles returns n tile rectangles on a w x h canvas, in input order, row by
// row; a last row with fewer tiles is centred. Edges fall on even pixels so
// that 4:2:0 chroma lines up.
func Tiles(n, w, h int) []image.Rectangle {
	if n <= 0 {
		return nil
	}
	cols, rows := Grid(n)
	// Rows that are never used (10 tiles in a 4x4 grid) are not drawn empty
	// at the bottom: the grid keeps its cell size and is centred instead.
	used := (n + cols - 1) / cols
	top := (rows - used) * h / rows / 2
	out := make([]image.Rectangle, 0, n)
	for i := 0; i < n; i++ {
		c, r := i%cols, i/cols
		shift := 0
		if r == used-1 {
			if inLast := n - r*cols; inLast < cols {
				shift = (cols - inLast) * w / cols / 2
			}
		}
		x0, x1 := shift+c*w/cols, shift+(c+1)*w/cols
		y0, y1 := top+r*h/rows, top+(r+1)*h/rows
		out = append(out, image.Rect(even(x0), even(y0), even(x1), even(y1)))
	}
	return out
}

// Layout names how a compositor arranges its tiles.
type Layout string

// Layouts.
const (
	// LayoutGrid shows every tile in a grid, in order.
	LayoutGrid Layout = "grid"
	// LayoutSpeaker shows the main tile (the active speaker or the pinned
	// participant) large and the others in a strip on the right.
	LayoutSpeaker Layout = "speaker"
	// LayoutPresenter is LayoutSpeaker with a screen share as the main
	// tile.
	LayoutPresenter Layout = "presenter"
	// LayoutSingle shows only the main tile.
	LayoutSingle Layout = "single"
	// LayoutAuto is LayoutGrid, and LayoutPresenter while someone shares
	// their screen.
	LayoutAuto Layout = "auto"
)

// Layouts lists the layouts in the order they are documented.
var Layouts = []Layout{LayoutAuto, LayoutGrid, LayoutSpeaker, LayoutPresenter, LayoutSingle}

// ParseLayout checks a layout name; "" is LayoutAuto.
func ParseLayout(s string) (Layout, error) {
	if s == "" {
		return LayoutAuto, nil
	}
	for _, l := range Layouts {
		if string(l) == s {
			return l, nil
		}
	}
	return "", fmt.Errorf("mixer: unknown layout %q (allowed: auto, grid, speaker, presenter, single)", s)
}

// Arrange returns the rectangle of each of n tiles on a w x h canvas in
// layout l, where main is the index of the main tile (ignored by the grid;
// -1 when there is none). A tile that is not shown gets an empty rectangle.
func Arrange(l Layout, n, main, w, h int) []image.Rectangle {
	if n <= 0 {
		return nil
	}
	if l == LayoutGrid || l == LayoutAuto || main < 0 || main >= n {
		return Tiles(n, w, h)
	}
	out := make([]image.Rectangle, n)
	if l == LayoutSingle || n == 1 {
		out[main] = image.Rect(0, 0, even(w), even(h))
		return out
	}
	// Speaker and presenter: the main tile on the left, a strip of the
	// others on the right, at least four slots high so faces stay small
	// next to the main picture, centred vertically.
	stripW := even(w / 5)
	out[main] = image.Rect(0, 0, even(w-stripW), even(h))
	slots := max(n-1, 4)
	used := n - 1
	top := (slots - used) * h / slots / 2
	k := 0
	for i := range out {
		if i == main {
			continue
		}
		out[i] = image.Rect(even(w-stripW), even(top+k*h/slots), even(w), even(top+(k+1)*h/slots))
		k++
	}
	return out
}

// Fit returns the largest rectangle with the aspect ratio of a srcW x srcH
// picture (times its sample aspect ratio sarNum/sarDen) that fits centred
// in tile: letterboxed or pillarboxed, never stretched.
func Fit(srcW, srcH, sarNum, sarDen int, tile image.Rectangle) image.Rectangle {
	tw, th := tile.Dx(), tile.Dy()
	if srcW <= 0 || srcH <= 0 || tw <= 0 || th <= 0 {
		return image.Rectangle{}
	}
	if sarNum <= 0 || sarDen <= 0 {
		sarNum, sarDen = 1, 1
	}
	// Display width over height is (srcW*sarNum) / (srcH*sarDen).
	dw, dh := int64(srcW)*int64(sarNum), int64(srcH)*int64(sarDen)
	w, h := tw, th
	if int64(tw)*dh > int64(th)*dw {
		// Tile is wider than the picture: full height, pillarbox.
		w = int(int64(th) * dw / dh)
	} else {
		// Letterbox.
		h = int(int64(tw) * dh / dw)
	}
	w, h = max(even(w), 2), max(even(h), 2)
	x := tile.Min.X + even((tw-w)/2)
	y := tile.Min.Y + even((th-h)/2)
	return image.Rect(x, y, x+w, y+h)
}

func even(v int) int { return v &^ 1 }
