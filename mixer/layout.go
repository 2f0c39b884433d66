package mixer

import "image"

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
// row. Edges fall on even pixels so that 4:2:0 chroma lines up.
func Tiles(n, w, h int) []image.Rectangle {
	if n <= 0 {
		return nil
	}
	cols, rows := Grid(n)
	out := make([]image.Rectangle, 0, n)
	for i := 0; i < n; i++ {
		c, r := i%cols, i/cols
		out = append(out, image.Rect(even(c*w/cols), even(r*h/rows), even((c+1)*w/cols), even((r+1)*h/rows)))
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
