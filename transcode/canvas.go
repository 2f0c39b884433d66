package transcode

import (
	"fmt"
	"image"

	"github.com/asticode/go-astiav"
)

// Canvas is the picture a compositor draws into: a yuv420p frame that is
// handed to an encoder after each draw. Scaling contexts are cached per slot
// so that a tile whose source keeps its size costs one sws_scale call.
type Canvas struct {
	frame   *astiav.Frame
	scalers map[int]*scaler
}

// NewCanvas allocates a w x h yuv420p canvas filled with black.
func NewCanvas(w, h int) (*Canvas, error) {
	if w <= 0 || h <= 0 || w%2 != 0 || h%2 != 0 {
		return nil, fmt.Errorf("transcode: canvas size %dx%d must be positive and even", w, h)
	}
	f := astiav.AllocFrame()
	f.SetWidth(w)
	f.SetHeight(h)
	f.SetPixelFormat(astiav.PixelFormatYuv420P)
	if err := f.AllocBuffer(0); err != nil {
		f.Free()
		return nil, fmt.Errorf("transcode: allocating %dx%d canvas: %w", w, h, err)
	}
	c := &Canvas{frame: f, scalers: map[int]*scaler{}}
	c.Fill(image.Rect(0, 0, w, h), YUV{16, 128, 128})
	return c, nil
}

// Frame returns the canvas frame. It stays owned by the canvas.
func (c *Canvas) Frame() *astiav.Frame { return c.frame }

// Size returns the canvas dimensions.
func (c *Canvas) Size() (w, h int) { return c.frame.Width(), c.frame.Height() }

// Begin makes the canvas safe to draw on: if an encoder still holds a
// reference to its buffer, the buffer is copied first.
func (c *Canvas) Begin() error {
	if err := makeWritable(c.frame); err != nil {
		return fmt.Errorf("transcode: making canvas writable: %w", err)
	}
	return nil
}

// Fill paints r with a flat colour. r's corners should be even.
func (c *Canvas) Fill(r image.Rectangle, col YUV) {
	r = r.Intersect(image.Rect(0, 0, c.frame.Width(), c.frame.Height()))
	if r.Empty() {
		return
	}
	fillRect(c.frame, r, col)
}

// Draw scales src (any pixel format and size) into r, using the scaler cached
// for slot.
func (c *Canvas) Draw(slot int, src *astiav.Frame, r image.Rectangle) error {
	r = r.Intersect(image.Rect(0, 0, c.frame.Width(), c.frame.Height()))
	if r.Empty() || src.Width() <= 0 || src.Height() <= 0 {
		return nil
	}
	s := c.scalers[slot]
	if s == nil {
		s = &scaler{}
		c.scalers[slot] = s
	}
	return s.scaleInto(src, c.frame, r)
}

// DrawMask blends luma into the canvas at (x, y) wherever the w x h coverage
// mask is non-zero; used for text.
func (c *Canvas) DrawMask(x, y int, mask []byte, w, h int, luma uint8) {
	cw, ch := c.frame.Width(), c.frame.Height()
	if x < 0 || y < 0 || x+w > cw || y+h > ch {
		return
	}
	drawMask(c.frame, x, y, mask, w, h, luma)
}

// DropSlot frees the scaler cached for slot.
func (c *Canvas) DropSlot(slot int) {
	if s := c.scalers[slot]; s != nil {
		s.free()
		delete(c.scalers, slot)
	}
}

// Close frees the canvas and its scalers.
func (c *Canvas) Close() {
	for k, s := range c.scalers {
		s.free()
		delete(c.scalers, k)
	}
	if c.frame != nil {
		c.frame.Free()
		c.frame = nil
	}
}
