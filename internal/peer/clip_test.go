package peer

import (
	"image"
	"testing"
)

// clipPicture renders frame i of a w x h clip the way NewClip does (black
// code strip, then the mask blended towards white) into a luma-only image.
func clipPicture(w, h, i, n int) *image.YCbCr {
	mask := make([]byte, w*h)
	drawPattern(mask, w, h, i, n)
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			base := 100
			if y < codeHeight(h) {
				base = 16
			}
			m := int(mask[y*w+x])
			img.Y[img.YOffset(x, y)] = uint8((base*(255-m) + 235*m) / 255)
		}
	}
	return img
}

// place scales src (nearest neighbour) into r of a dw x dh picture.
func place(src *image.YCbCr, dw, dh int, r image.Rectangle) *image.YCbCr {
	dst := image.NewYCbCr(image.Rect(0, 0, dw, dh), image.YCbCrSubsampleRatio420)
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			sx, sy := (x-r.Min.X)*sw/r.Dx(), (y-r.Min.Y)*sh/r.Dy()
			dst.Y[dst.YOffset(x, y)] = src.Y[src.YOffset(sx, sy)]
		}
	}
	return dst
}

func TestClipBarCode(t *testing.T) {
	const w, h, n = 640, 360, 60
	clip := &Clip{Width: w, Height: h, Video: make([]ClipFrame, n)}
	for _, r := range []image.Rectangle{
		image.Rect(0, 0, w, h),          // as sent
		image.Rect(640, 360, 1280, 720), // a 2x2 tile of 720p
		image.Rect(426, 240, 852, 480),  // a 3x3 tile of 720p
		image.Rect(0, 60, 320, 240),     // a 2x2 tile of 360p
	} {
		for i := 0; i < n; i++ {
			img := place(clipPicture(w, h, i, n), 1280, 720, r)
			got, ok := clip.ReadIndex(img, r)
			if !ok || got != i {
				t.Fatalf("picture %d in %v: read %d, %v", i, r, got, ok)
			}
		}
	}
	// A flat tile (placeholder) has no valid code.
	flat := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for i := range flat.Y {
		flat.Y[i] = 60
	}
	if i, ok := clip.ReadIndex(flat, flat.Rect); ok {
		t.Errorf("placeholder read as picture %d", i)
	}
}

func TestClipNextKey(t *testing.T) {
	clip := &Clip{Video: []ClipFrame{{Key: true}, {}, {}, {Key: true}, {}}}
	for i, want := range []int{0, 3, 3, 3, 0} {
		if got := clip.nextKey(i); got != want {
			t.Errorf("nextKey(%d) = %d, want %d", i, got, want)
		}
	}
}
