package mixer

import (
	"image"
	"image/png"
	"os"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/transcode"
)

// needFont fails (under CI) or skips when the machine has no font for
// names: scripts/deps.sh installs one.
func needFont(t *testing.T) {
	t.Helper()
	_, path, err := LabelFont()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	t.Logf("font: %s", path)
}

func TestLabelFontCoversScripts(t *testing.T) {
	needFont(t)
	f, _, _ := LabelFont()
	for _, s := range []string{"王小明", "Анна", "José"} {
		if !covers(f, s) {
			t.Errorf("the label font has no glyphs for %q", s)
		}
	}
	// Glyphs, not boxes: a missing glyph draws the same .notdef box for
	// every character, so the three ideographs would draw three equal
	// masks; real glyphs differ.
	one := func(s string) []byte { return RenderLabel(s, 20, 200).Mask }
	a, b, c := one("王"), one("小"), one("明")
	if string(a) == string(b) || string(b) == string(c) || len(a) == 0 {
		t.Errorf("CJK characters render identical masks: tofu boxes")
	}
	tofu := one("\U000F0001") // private use: never in a font
	if string(tofu) == string(a) {
		t.Errorf("王 renders as the missing-glyph box")
	}
	if l := RenderLabel("a long name that cannot fit in a small tile", 14, 80); l.W > 80 || l.W < 40 {
		t.Errorf("long name is %d px wide in 80", l.W)
	}
}

func lumaAt(img *image.YCbCr, x, y int) int { return int(img.Y[img.YOffset(x, y)]) }

// TestCompositorNamesBordersAndCentring draws three tiles at 360p and
// checks the decoded canvas: every tile has its name box, the CJK name's
// pixels follow a rendering of the same string, the muted mark is red, the
// speaker has a border and the last row's tile is centred.
func TestCompositorNamesBordersAndCentring(t *testing.T) {
	needFont(t)
	c, err := NewCompositor(640, 360)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tiles := []Tile{{ID: "a", Name: "王小明"}, {ID: "b", Name: "Анна", Muted: true}, {ID: "c", Name: "Bob", Speaking: true}}
	c.SetTiles(tiles)
	grey := solid(t, 320, 180, transcode.RGB(128, 128, 128))
	defer grey.Close()
	now := time.Now()
	for _, tl := range tiles {
		if err := c.Push(tl.ID, grey.Frame(), now); err != nil {
			t.Fatal(err)
		}
	}
	pic, err := c.Render(now)
	if err != nil {
		t.Fatal(err)
	}
	img, err := transcode.Snapshot(pic)
	if err != nil {
		t.Fatal(err)
	}
	placed, _ := c.Placement()
	if want := image.Rect(160, 180, 480, 360); placed[2].Rect != want {
		t.Fatalf("last row tile at %v, want centred %v", placed[2].Rect, want)
	}
	if y := lumaAt(img, 40, 270); y > 30 {
		t.Errorf("left of the centred last tile is luma %d, want background", y)
	}
	for _, p := range placed {
		box, text, mark := LabelBoxOf(p.Tile, p.Rect)
		if box.Empty() || text.Mask == nil {
			t.Fatalf("%s: no label box", p.ID)
		}
		// The picture is grey (luma ~128) everywhere; the box is dark
		// with light text.
		dark, light := 0, 0
		for y := box.Min.Y; y < box.Max.Y; y++ {
			for x := box.Min.X; x < box.Max.X; x++ {
				switch l := lumaAt(img, x, y); {
				case l < 50:
					dark++
				case l > 200:
					light++
				}
			}
		}
		if dark < box.Dx()*box.Dy()/3 || light < 20 {
			t.Errorf("%s: label box %v has %d dark and %d light pixels", p.ID, box, dark, light)
		}
		if p.Muted {
			r, g, b := rgbAt(img, (mark.Min.X+mark.Max.X)/2, (mark.Min.Y+mark.Max.Y)/2)
			if r < 150 || g > 100 || b > 100 {
				t.Errorf("%s: muted mark is %d,%d,%d, want red", p.ID, r, g, b)
			}
		}
		if p.ID == "a" {
			// Where the rendering of "王小明" is solid the canvas is light,
			// where it is empty the canvas is dark.
			x0 := box.Min.X + max(LabelHeight(p.Rect.Dy())/4, 2)&^1
			y0 := box.Min.Y + (box.Dy()-text.H)/2
			bad, on := 0, 0
			for y := 0; y < text.H; y++ {
				for x := 0; x < text.W; x++ {
					m, l := text.Mask[y*text.W+x], lumaAt(img, x0+x, y0+y)
					if m > 180 {
						on++
						if l < 150 {
							bad++
						}
					} else if m < 20 && l > 100 {
						bad++
					}
				}
			}
			if on < 30 || bad > on/10 {
				t.Errorf("CJK label: %d solid glyph pixels, %d disagree with the rendering", on, bad)
			}
		}
	}
	r, g, b := rgbAt(img, 161, 270)
	if r < 200 || g < 150 || b > 80 {
		t.Errorf("speaker's border is %d,%d,%d, want the highlight", r, g, b)
	}
	if r, g, b := rgbAt(img, 1, 90); r > 200 && g > 150 && b < 80 {
		t.Errorf("a non-speaker has a border")
	}
}

func rgbAt(img *image.YCbCr, x, y int) (r, g, b int) {
	cr, cg, cb, _ := img.At(x, y).RGBA()
	return int(cr >> 8), int(cg >> 8), int(cb >> 8)
}

func TestWritePreview(t *testing.T) {
	if os.Getenv("MIXER_PREVIEW") == "" {
		t.Skip()
	}
	c, _ := NewCompositor(640, 360)
	defer c.Close()
	c.SetTiles([]Tile{{ID: "a", Name: "王小明"}, {ID: "b", Name: "Анна Каренина", Muted: true}, {ID: "c", Name: "Bob", Speaking: true}})
	grey := solid(t, 320, 180, transcode.RGB(200, 180, 160))
	defer grey.Close()
	now := time.Now()
	for _, id := range []string{"a", "b", "c"} {
		_ = c.Push(id, grey.Frame(), now)
	}
	pic, _ := c.Render(now)
	img, _ := transcode.Snapshot(pic)
	f, _ := os.Create(os.Getenv("MIXER_PREVIEW"))
	defer f.Close()
	_ = png.Encode(f, img)
}
