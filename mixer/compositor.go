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
// Push, End, SetTiles, Resize and Layout may be called from any goroutine:
// they only post to an inbox under a short lock. Render, DrawnPushTimes and
// Close belong to the one goroutine that owns the compositor; Render takes
// the inbox and then scales without holding any lock, so a producer never
// waits for a render.
type Compositor struct {
	// StaleAfter is how long a picture is held once its input stops.
	StaleAfter time.Duration

	mu sync.Mutex
	in inbox

	// Render state, owned by the rendering goroutine.
	canvas *transcode.Canvas
	tiles  []*tileState
	byID   map[string]*tileState
	dirty  bool // whole canvas must be redrawn
	slots  int
	// drawnAt holds the push times of the pictures the last Render drew.
	drawnAt []time.Time
}

// inbox is what producers posted since the last Render.
type inbox struct {
	closed  bool
	tiles   []Tile // the latest SetTiles, valid when tilesSet
	tilesOK bool
	known   map[string]bool // ids of the latest tile list
	w, h    int             // the latest size
	resized bool
	// pictures holds one picture per input; the frames are reused.
	pictures map[string]*pendingPicture
}

type pendingPicture struct {
	f     *astiav.Frame
	at    time.Time
	fresh bool // f holds a picture not yet taken by Render
	ended bool // End was called after the last Push
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
	return &Compositor{
		StaleAfter: DefaultStaleAfter, canvas: canvas, byID: map[string]*tileState{}, dirty: true,
		in: inbox{known: map[string]bool{}, w: w, h: h, pictures: map[string]*pendingPicture{}},
	}, nil
}

// ErrClosed is returned by a closed compositor.
var ErrClosed = errors.New("mixer: compositor closed")

// Resize switches to a new canvas size from the next Render; everything is
// redrawn then.
func (c *Compositor) Resize(w, h int) error {
	if w <= 0 || h <= 0 || w%2 != 0 || h%2 != 0 {
		return fmt.Errorf("mixer: canvas size %dx%d must be positive and even", w, h)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.in.closed {
		return ErrClosed
	}
	c.in.w, c.in.h, c.in.resized = w, h, true
	return nil
}

// SetTiles sets the inputs in display order from the next Render. Inputs
// that stay keep their pictures; inputs that go are released.
func (c *Compositor) SetTiles(tiles []Tile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.in.closed {
		return
	}
	c.in.tiles = append(c.in.tiles[:0], tiles...)
	c.in.tilesOK = true
	clear(c.in.known)
	for _, t := range tiles {
		c.in.known[t.ID] = true
	}
	for id, pp := range c.in.pictures {
		if !c.in.known[id] {
			pp.f.Free()
			delete(c.in.pictures, id)
		}
	}
}

// Layout returns the tile rectangles in display order, as the next Render
// draws them.
func (c *Compositor) Layout() []image.Rectangle {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.in.known)
	return Tiles(n, c.in.w, c.in.h)
}

// Push hands the compositor a new picture for input id, taken at now. The
// compositor keeps its own reference; the caller keeps ownership of f.
// Pictures of inputs that are not tiles are ignored.
func (c *Compositor) Push(id string, f *astiav.Frame, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.in.closed || !c.in.known[id] {
		return nil
	}
	pp := c.in.pictures[id]
	if pp == nil {
		pp = &pendingPicture{f: astiav.AllocFrame()}
		c.in.pictures[id] = pp
	} else {
		pp.f.Unref()
	}
	if err := pp.f.Ref(f); err != nil {
		pp.fresh = false
		return fmt.Errorf("mixer: holding picture of %s: %w", id, err)
	}
	pp.at, pp.fresh, pp.ended = now, true, false
	return nil
}

// End marks input id as finished: its tile shows the placeholder from the
// next Render on, until a new picture is pushed.
func (c *Compositor) End(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.in.closed || !c.in.known[id] {
		return
	}
	pp := c.in.pictures[id]
	if pp == nil {
		pp = &pendingPicture{f: astiav.AllocFrame()}
		c.in.pictures[id] = pp
	}
	pp.f.Unref()
	pp.fresh, pp.ended = false, true
}

// take applies what producers posted to the render state. The lock is held
// only while references are moved, never while scaling.
func (c *Compositor) take() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.in.closed {
		return ErrClosed
	}
	if c.in.resized {
		canvas, err := transcode.NewCanvas(c.in.w, c.in.h)
		if err != nil {
			return err
		}
		c.canvas.Close()
		c.canvas = canvas
		c.in.resized = false
		c.relayout()
	}
	if c.in.tilesOK {
		c.applyTiles(c.in.tiles)
		c.in.tilesOK = false
	}
	for id, pp := range c.in.pictures {
		ts := c.byID[id]
		if ts == nil {
			continue
		}
		switch {
		case pp.fresh:
			// Swap the frames: the tile gets the new picture, the inbox
			// keeps the old frame for the next Push.
			if ts.frame == nil {
				ts.frame = astiav.AllocFrame()
			}
			ts.frame, pp.f = pp.f, ts.frame
			pp.f.Unref()
			ts.updated, ts.fresh, ts.ended, ts.timed = pp.at, true, false, false
			pp.fresh = false
		case pp.ended:
			if ts.frame != nil {
				ts.frame.Free()
				ts.frame = nil
			}
			ts.ended = true
			pp.ended = false
		}
	}
	return nil
}

func (c *Compositor) applyTiles(tiles []Tile) {
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

// Render draws the picture for time now and returns the canvas frame, which
// stays owned by the compositor and is valid until the next call.
func (c *Compositor) Render(now time.Time) (*astiav.Frame, error) {
	if err := c.take(); err != nil {
		return nil, err
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
// Render, so that the owner can measure how long a picture took from
// arrival to leaving in a composite. The slice is reused by the next Render.
func (c *Compositor) DrawnPushTimes() []time.Time { return c.drawnAt }

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

// Close frees the canvas and every held picture. The owner calls it once
// it no longer renders; later Push and SetTiles calls do nothing.
func (c *Compositor) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.in.closed {
		return
	}
	c.in.closed = true
	for id, pp := range c.in.pictures {
		pp.f.Free()
		delete(c.in.pictures, id)
	}
	for _, t := range c.tiles {
		c.release(t)
	}
	c.tiles, c.byID = nil, map[string]*tileState{}
	c.canvas.Close()
	c.canvas = nil
}
