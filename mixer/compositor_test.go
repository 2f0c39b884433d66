package mixer

import (
	"image"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/transcode"
)

func solid(t *testing.T, w, h int, c transcode.YUV) *transcode.Canvas {
	t.Helper()
	cv, err := transcode.NewCanvas(w, h)
	if err != nil {
		t.Fatal(err)
	}
	cv.Fill(image.Rect(0, 0, w, h), c)
	return cv
}

// TestCompositorTileEdges redraws only the left tile of two and checks that
// the scaler writes nothing into its neighbour, at a width (854) whose tile
// edges are not aligned for SIMD.
func TestCompositorTileEdges(t *testing.T) {
	c, err := NewCompositor(854, 480)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetTiles([]Tile{{ID: "a", Name: "A"}, {ID: "b", Name: "B"}})
	red := solid(t, 426, 480, transcode.RGB(255, 0, 0))
	defer red.Close()
	blue := solid(t, 428, 480, transcode.RGB(0, 0, 255))
	defer blue.Close()
	green := solid(t, 640, 720, transcode.RGB(0, 255, 0)) // scaled down into the left tile
	defer green.Close()
	now := time.Now()
	if err := c.Push("a", red.Frame(), now); err != nil {
		t.Fatal(err)
	}
	if err := c.Push("b", blue.Frame(), now); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Render(now); err != nil {
		t.Fatal(err)
	}
	// Only the left tile changes from now on.
	for i := 0; i < 3; i++ {
		if err := c.Push("a", green.Frame(), now); err != nil {
			t.Fatal(err)
		}
		pic, err := c.Render(now)
		if err != nil {
			t.Fatal(err)
		}
		img, err := transcode.Snapshot(pic)
		if err != nil {
			t.Fatal(err)
		}
		rects := c.Layout()
		edge := rects[1].Min.X
		box, _, _ := LabelBoxOf(Tile{ID: "b", Name: "B"}, rects[1])
		for y := 0; y < 480; y += 37 {
			for x := edge; x < edge+32; x++ {
				if image.Pt(x, y).In(box) {
					continue // the name
				}
				r, g, b, _ := img.At(x, y).RGBA()
				if g>>8 > 100 || b>>8 < 180 {
					t.Fatalf("pixel (%d,%d) of the right tile is %d,%d,%d after redrawing the left one", x, y, r>>8, g>>8, b>>8)
				}
			}
		}
	}
}
