package mixer

import (
	"errors"
	"fmt"
	"image"
	"sync"
	"time"

	"github.com/asticode/go-astiav"

	"github.com/mcu-dev/mcu/transcode"
)

// Colours of the composite picture.
var (
	// Background fills the bars around pictures that do not match their tile.
	Background = transcode.RGB(12, 12, 14)
	// PlaceholderColour fills a tile whose input shows no picture.
	PlaceholderColour = transcode.RGB(44, 48, 58)
	labelLuma         = transcode.RGB(230, 230, 230).Y
)

// DefaultStaleAfter is how long a tile keeps the last picture of an input
// that stopped sending before it turns into a placeholder.
const DefaultStaleAfter = 3 * time.Second

// Tile describes one input of the compositor.
type Tile struct {
	ID   string
	Name string
}

// Compositor draws the latest picture of each input into a grid on a canvas
// of its own size. It is driven by its owner's clock through Render and never
// waits for an input: an input without a fresh picture keeps its last one
// for StaleAfter, then shows a placeholder with its name.
//
// Push, End and SetTiles may be called from other goroutines than Render.
type Compositor struct {
	// StaleAfter is how long a picture is held once its input stops.
	StaleAfter time.Duration

	mu     sync.Mutex
	canvas *transcode.Canvas
	tiles  []*tileState
	byID   map[string]*tileState
	dirty  bool // whole canvas must be redrawn
	slots  int
	// drawnAt holds the push times of the pictures the last Render drew.
	drawnAt []time.Time
}

type tileState struct {
	Tile
	slot    int
	frame   *astiav.Frame // our reference to the latest picture; nil before the first
	updated time.Time
	fresh   bool // picture changed since last drawn
	timed   bool // the picture's first drawing was reported by DrawnPushTimes
	ended   bool
	rect    image.Rectangle
	drawn   image.Rectangle // where the picture was drawn; empty if placeholder
	holder  bool            // placeholder currently drawn
	label   label
}

// NewCompositor creates a compositor drawing on a w x h canvas.
func NewCompositor(w, h int) (*Compositor, error) {
	canvas, err := transcode.NewCanvas(w, h)
	if err != nil {
		return nil, err
	}
	return &Compositor{StaleAfter: DefaultStaleAfter, canvas: canvas, byID: map[string]*tileState{}, dirty: true}, nil
}

// ErrClosed is returned by a closed compositor.
var ErrClosed = errors.New("mixer: compositor closed")

// Resize switches to a new canvas size; everything is redrawn.
func (c *Compositor) Resize(w, h int) error {
	canvas, err := transcode.NewCanvas(w, h)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.canvas == nil {
		canvas.Close()
		return ErrClosed
	}
	c.canvas.Close()
	c.canvas = canvas
	c.relayout()
	return nil
}

// SetTiles sets the inputs in display order. Inputs that stay keep their
// pictures; inputs that go are released.
func (c *Compositor) SetTiles(tiles []Tile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.canvas == nil {
		return
	}
	next := make([]*tileState, 0, len(tiles))
	byID := make(map[string]*tileState, len(tiles))
	for _, t := range tiles {
		ts := c.byID[t.ID]
		if ts == nil {
			ts = &tileState{Tile: t, slot: c.slots}
			c.slots++
		}
		if ts.Name != t.Name {
			ts.Name = t.Name
			ts.label = label{}
		}
		next = append(next, ts)
		byID[t.ID] = ts
	}
	for id, ts := range c.byID {
		if byID[id] == nil {
			c.release(ts)
		}
	}
	c.tiles, c.byID = next, byID
	c.relayout()
}

// Layout returns the tile rectangles in display order.
func (c *Compositor) Layout() []image.Rectangle {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]image.Rectangle, len(c.tiles))
	for i, t := range c.tiles {
		out[i] = t.rect
	}
	return out
}

func (c *Compositor) relayout() {
	w, h := c.canvas.Size()
	rects := Tiles(len(c.tiles), w, h)
	for i, t := range c.tiles {
		t.rect = rects[i]
		t.label = label{}
	}
	c.dirty = true
}

func (c *Compositor) release(ts *tileState) {
	if ts.frame != nil {
		ts.frame.Free()
		ts.frame = nil
	}
	c.canvas.DropSlot(ts.slot)
}

// Push hands the compositor a new picture for input id, taken at now. The
// compositor keeps its own reference; the caller keeps ownership of f.
func (c *Compositor) Push(id string, f *astiav.Frame, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ts := c.byID[id]
	if ts == nil || c.canvas == nil {
		return nil
	}
	if ts.frame == nil {
		ts.frame = astiav.AllocFrame()
	} else {
		ts.frame.Unref()
	}
	if err := ts.frame.Ref(f); err != nil {
		return fmt.Errorf("mixer: holding picture of %s: %w", id, err)
	}
	ts.updated, ts.fresh, ts.ended, ts.timed = now, true, false, false
	return nil
}

// End marks input id as finished: its tile shows the placeholder from now on.
func (c *Compositor) End(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ts := c.byID[id]; ts != nil && !ts.ended {
		ts.ended = true
		if ts.frame != nil {
			ts.frame.Free()
			ts.frame = nil
		}
	}
}

// Render draws the picture for time now and returns the canvas frame, which
// stays owned by the compositor and is valid until the next call.
func (c *Compositor) Render(now time.Time) (*astiav.Frame, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.canvas == nil {
		return nil, ErrClosed
	}
	if err := c.canvas.Begin(); err != nil {
		return nil, err
	}
	c.drawnAt = c.drawnAt[:0]
	if c.dirty {
		w, h := c.canvas.Size()
		c.canvas.Fill(image.Rect(0, 0, w, h), Background)
		for _, t := range c.tiles {
			t.drawn, t.holder, t.fresh = image.Rectangle{}, false, t.frame != nil
		}
		c.dirty = false
	}
	for _, t := range c.tiles {
		live := t.frame != nil && !t.ended && (c.StaleAfter <= 0 || now.Sub(t.updated) <= c.StaleAfter)
		if !live {
			if !t.holder {
				c.drawPlaceholder(t)
			}
			continue
		}
		if !t.fresh && !t.holder {
			continue
		}
		sar := t.frame.SampleAspectRatio()
		fit := Fit(t.frame.Width(), t.frame.Height(), sar.Num(), sar.Den(), t.rect)
		if fit != t.drawn {
			c.canvas.Fill(t.rect, Background)
		}
		if err := c.canvas.Draw(t.slot, t.frame, fit); err != nil {
			return nil, err
		}
		t.drawn, t.holder, t.fresh = fit, false, false
		if !t.timed {
			t.timed = true
			c.drawnAt = append(c.drawnAt, t.updated)
		}
	}
	return c.canvas.Frame(), nil
}

// DrawnPushTimes returns the push times of the pictures drawn by the last
// Render and forgets them, so that the caller can measure how long a
// picture took from arrival to leaving in a composite.
func (c *Compositor) DrawnPushTimes() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := append([]time.Time(nil), c.drawnAt...)
	c.drawnAt = c.drawnAt[:0]
	return out
}

func (c *Compositor) drawPlaceholder(t *tileState) {
	c.canvas.Fill(t.rect, PlaceholderColour)
	if t.label.mask == nil && t.Name != "" {
		scale := max(1, t.rect.Dy()/90)
		t.label = renderLabel(t.Name, scale, t.rect.Dx()-8)
	}
	if t.label.mask != nil {
		x := t.rect.Min.X + (t.rect.Dx()-t.label.w)/2
		y := t.rect.Min.Y + t.rect.Dy()*5/8
		if y+t.label.h > t.rect.Max.Y {
			y = t.rect.Max.Y - t.label.h
		}
		c.canvas.DrawMask(x, y, t.label.mask, t.label.w, t.label.h, labelLuma)
	}
	t.holder, t.drawn = true, image.Rectangle{}
}

// Close frees the canvas and every held picture.
func (c *Compositor) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.tiles {
		c.release(t)
	}
	c.tiles, c.byID = nil, map[string]*tileState{}
	if c.canvas != nil {
		c.canvas.Close()
		c.canvas = nil
	}
}
