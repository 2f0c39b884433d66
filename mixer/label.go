package mixer

import (
	"image"
	"image/color"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// label is a rendered text mask: one coverage byte per pixel.
type label struct {
	mask []byte
	w, h int
}

// renderLabel draws text with the built-in 7x13 bitmap font, enlarged by an
// integer factor so that it is readable on big tiles, and clipped to maxW.
func renderLabel(text string, scale, maxW int) label {
	if text == "" || scale < 1 {
		return label{}
	}
	face := basicfont.Face7x13
	d := &font.Drawer{Face: face}
	w := d.MeasureString(text).Ceil()
	h := face.Metrics().Height.Ceil()
	if w <= 0 || h <= 0 {
		return label{}
	}
	img := image.NewAlpha(image.Rect(0, 0, w, h))
	d.Dst = img
	d.Src = image.NewUniform(color.Alpha{A: 255})
	d.Dot = fixed.P(0, face.Metrics().Ascent.Ceil())
	d.DrawString(text)

	outW := min(w*scale, maxW)
	outH := h * scale
	if outW <= 0 {
		return label{}
	}
	mask := make([]byte, outW*outH)
	for y := 0; y < outH; y++ {
		for x := 0; x < outW; x++ {
			mask[y*outW+x] = img.AlphaAt(x/scale, y/scale).A
		}
	}
	return label{mask: mask, w: outW, h: outH}
}
