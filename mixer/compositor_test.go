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

// TestCompositorWaiting checks the picture of a canvas without tiles: the
// placeholder colour with WaitingText across the middle, replaced by the
// tiles once there are some, and back when they are gone.
func TestCompositorWaiting(t *testing.T) {
	c, err := NewCompositor(640, 360)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// brightMiddle counts near-white pixels on the middle rows: the text.
	look := func(what string) (corner [3]uint32, bright int) {
		t.Helper()
		pic, err := c.Render(time.Now())
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		img, err := transcode.Snapshot(pic)
		if err != nil {
			t.Fatal(err)
		}
		r, g, b, _ := img.At(5, 5).RGBA()
		corner = [3]uint32{r >> 8, g >> 8, b >> 8}
		for y := 160; y < 200; y++ {
			for x := 0; x < 640; x++ {
				if r, g, b, _ := img.At(x, y).RGBA(); r>>8 > 180 && g>>8 > 180 && b>>8 > 180 {
					bright++
				}
			}
		}
		return corner, bright
	}
	isPlaceholder := func(c [3]uint32) bool {
		return c[0] > 30 && c[0] < 60 && c[2] > 45 && c[2] < 75
	}
	corner, bright := look("empty")
	if !isPlaceholder(corner) || bright < 200 {
		t.Fatalf("empty canvas: corner %v (want the placeholder colour 44,48,58), %d text pixels in the middle (want the waiting text)", corner, bright)
	}
	red := solid(t, 640, 360, transcode.RGB(255, 0, 0))
	defer red.Close()
	c.SetTiles([]Tile{{ID: "a"}})
	if err := c.Push("a", red.Frame(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if corner, bright = look("one tile"); corner[0] < 200 || bright != 0 {
		t.Fatalf("with a red tile: corner %v, %d text pixels; want red and no text", corner, bright)
	}
	c.SetTiles(nil)
	if corner, bright = look("tiles gone"); !isPlaceholder(corner) || bright < 200 {
		t.Fatalf("after the last tile went: corner %v, %d text pixels; want the waiting picture", corner, bright)
	}
}
