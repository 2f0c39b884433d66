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
	// LabelBox is the box behind a name, dark so that the light text reads
	// on any picture.
	LabelBox = transcode.RGB(16, 16, 20)
	// MutedMark is the square before the name of a muted microphone.
	MutedMark = transcode.RGB(220, 40, 40)
	// Highlight is the border around the active speaker's tile.
	Highlight = transcode.RGB(255, 196, 0)
	labelLuma = transcode.RGB(240, 240, 240).Y
)

// WaitingText is written on a canvas without tiles: viewers of a room
// nobody publishes in see that they are early, not a broken black picture.
const WaitingText = "Waiting for participants"

// DefaultStaleAfter is how long a tile keeps the last picture of an input
// that stopped sending before it turns into a placeholder.
const DefaultStaleAfter = 3 * time.Second

// Tile describes one input of the compositor.
type Tile struct {
	ID   string
	Name string
	// Muted marks the name of a participant whose microphone is off.
	Muted bool
	// Speaking marks the room's active speaker: a highlight border, and
	// the candidate for the main tile of the speaker layouts.
	Speaking bool
	// Screen marks a screen share: the main tile of the presenter layout.
	Screen bool
}

// Placed is a tile where the last Render put it; an empty Rect is a tile
// the layout does not show.
type Placed struct {
	Tile
	Rect image.Rectangle
	Main bool
}

// Compositor draws the latest picture of each input into a layout (a grid
// by default) on a canvas of its own size, with each input's name in the
// lower left of its tile. It is driven by its owner's clock through Render and never
// waits for an input: an input without a fresh picture keeps its last one
// for StaleAfter, then shows a placeholder with its name.
//
// Push, End, SetTiles, SetLayout, Resize and Layout may be called from any goroutine:
// they only post to an inbox under a short lock. Render, DrawnPushTimes,
// Placement and
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
	dir    director
	layout Layout // in effect, as chosen by dir
	main   int    // index of the main tile in tiles, or -1
	placed []Placed
	// placedVersion counts changes of placed.
	placedVersion uint64
	// drawnAt holds the push times of the pictures the last Render drew.
	drawnAt []time.Time
	waiting Label // WaitingText at the canvas's scale; reset on resize
}

// inbox is what producers posted since the last Render.
type inbox struct {
	closed  bool
	tiles   []Tile // the latest SetTiles, valid when tilesSet
	tilesOK bool
	known   map[string]bool // ids of the latest tile list
	w, h    int             // the latest size
	resized bool
	layout  Layout
	pinned  string
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
	marked  bool            // flags changed: overlays must be redrawn
}

// NewCompositor creates a compositor drawing on a w x h canvas.
func NewCompositor(w, h int) (*Compositor, error) {
	canvas, err := transcode.NewCanvas(w, h)
	if err != nil {
		return nil, err
	}
	return &Compositor{
		StaleAfter: DefaultStaleAfter, canvas: canvas, byID: map[string]*tileState{}, dirty: true,
		layout: LayoutGrid, main: -1,
		in: inbox{known: map[string]bool{}, w: w, h: h, pictures: map[string]*pendingPicture{}, layout: LayoutAuto},
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

// SetLayout chooses the layout from the next Render, and the participant
// pinned to the main tile ("" for the active speaker).
func (c *Compositor) SetLayout(l Layout, pinned string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.in.layout, c.in.pinned = l, pinned
}

// Layout returns the tile rectangles of a grid in display order, as the
// next Render draws them in the grid layout.
func (c *Compositor) Layout() []image.Rectangle {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.in.known)
	return Tiles(n, c.in.w, c.in.h)
}

// Placement returns where the last Render put each tile, and a version
// that changes whenever that changes. The slice is the compositor's own
// and stays valid until the placement changes.
func (c *Compositor) Placement() ([]Placed, uint64) { return c.placed, c.placedVersion }

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
func (c *Compositor) take(now time.Time) error {
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
		c.waiting = Label{}
		c.in.resized = false
		c.relayout()
	}
	if c.in.tilesOK {
		c.applyTiles(c.in.tiles)
		c.in.tilesOK = false
	}
	c.direct(now)
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
		if ts.Tile != t {
			ts.Tile, ts.marked = t, true
		}
		next = append(next, ts)
		byID[t.ID] = ts
	}
	for id, ts := range c.byID {
		if byID[id] == nil {
			c.release(ts)
		}
	}
	reorder := len(next) != len(c.tiles)
	for i := range next {
		reorder = reorder || next[i] != c.tiles[i]
	}
	c.tiles, c.byID = next, byID
	if reorder {
		c.relayout()
	} else {
		c.placeChanged()
	}
}

// direct lets the director pick the main tile for now and re-flows the
// canvas when the layout or the main tile changes.
func (c *Compositor) direct(now time.Time) {
	tiles := make([]Tile, len(c.tiles))
	for i, t := range c.tiles {
		tiles[i] = t.Tile
	}
	l, main := c.dir.choose(c.in.layout, c.in.pinned, tiles, now)
	if l != c.layout || main != c.main {
		c.layout, c.main = l, main
		c.relayout()
	}
}

func (c *Compositor) relayout() {
	w, h := c.canvas.Size()
	rects := Arrange(c.layout, len(c.tiles), c.main, w, h)
	for i, t := range c.tiles {
		t.rect = rects[i]
	}
	c.dirty = true
	c.placeChanged()
}

func (c *Compositor) placeChanged() {
	placed := make([]Placed, len(c.tiles))
	for i, t := range c.tiles {
		placed[i] = Placed{Tile: t.Tile, Rect: t.rect, Main: i == c.main}
	}
	c.placed = placed
	c.placedVersion++
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
	if err := c.take(now); err != nil {
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
		if len(c.tiles) == 0 {
			c.drawWaiting()
		}
		c.dirty = false
	}
	for _, t := range c.tiles {
		if t.rect.Empty() {
			continue
		}
		if t.marked {
			// Take the old border and label off with a full redraw.
			t.marked, t.fresh, t.holder, t.drawn = false, t.frame != nil, false, image.Rectangle{}
		}
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
		c.drawOverlays(t)
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

// drawWaiting draws the picture of a room without tiles: the placeholder
// colour with WaitingText in the middle.
func (c *Compositor) drawWaiting() {
	w, h := c.canvas.Size()
	c.canvas.Fill(image.Rect(0, 0, w, h), PlaceholderColour)
	if c.waiting.Mask == nil {
		c.waiting = RenderLabel(WaitingText, max(16, h/14), w-16)
	}
	if c.waiting.Mask != nil {
		c.canvas.DrawMask((w-c.waiting.W)/2, (h-c.waiting.H)/2, c.waiting.Mask, c.waiting.W, c.waiting.H, labelLuma)
	}
}

func (c *Compositor) drawPlaceholder(t *tileState) {
	c.canvas.Fill(t.rect, PlaceholderColour)
	c.drawOverlays(t)
	t.holder, t.drawn = true, image.Rectangle{}
}

// LabelHeight is the height in pixels of the name text on a tile of height
// h: readable on a 360p strip tile, not shouting on a 720p main tile.
func LabelHeight(h int) int { return min(max(h/10, 14), 34) }

// LabelBoxOf returns where the name box of a tile goes (the lower left
// corner, as wide as the name needs and at most the tile's width), the
// rendered name and, for a muted microphone, the mark's square.
func LabelBoxOf(t Tile, rect image.Rectangle) (box image.Rectangle, text Label, mark image.Rectangle) {
	px := LabelHeight(rect.Dy())
	margin, pad := even(max(px/3, 4)), even(max(px/4, 2))
	markW := 0
	if t.Muted {
		markW = even(px*2/3) + pad
	}
	text = RenderLabel(t.Name, px, rect.Dx()-2*margin-2*pad-markW)
	if text.Mask == nil && !t.Muted {
		return image.Rectangle{}, text, image.Rectangle{}
	}
	bw := even(pad + markW + text.W + pad + 1)
	bh := even(max(text.H, px) + 2*pad + 1)
	x0, y1 := rect.Min.X+margin, rect.Max.Y-margin
	box = image.Rect(x0, y1-bh, min(x0+bw, rect.Max.X), y1).Intersect(rect)
	if t.Muted {
		s := even(px * 2 / 3)
		my := box.Min.Y + even((bh-s)/2)
		mark = image.Rect(x0+pad, my, x0+pad+s, my+s)
	}
	return box, text, mark
}

// drawOverlays draws the highlight border and the name on a tile drawn
// just before. The text masks come from the cache: nothing is rendered
// here after a name's first frame at a size.
func (c *Compositor) drawOverlays(t *tileState) {
	r := t.rect
	if t.Speaking {
		b := max(2, even(min(r.Dx(), r.Dy())/40))
		c.canvas.Fill(image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+b), Highlight)
		c.canvas.Fill(image.Rect(r.Min.X, r.Max.Y-b, r.Max.X, r.Max.Y), Highlight)
		c.canvas.Fill(image.Rect(r.Min.X, r.Min.Y, r.Min.X+b, r.Max.Y), Highlight)
		c.canvas.Fill(image.Rect(r.Max.X-b, r.Min.Y, r.Max.X, r.Max.Y), Highlight)
	}
	box, text, mark := LabelBoxOf(t.Tile, r)
	if box.Empty() {
		return
	}
	c.canvas.Fill(box, LabelBox)
	pad := even(max(LabelHeight(r.Dy())/4, 2))
	x := box.Min.X + pad
	if !mark.Empty() {
		c.canvas.Fill(mark, MutedMark)
		x = mark.Max.X + pad
	}
	if text.Mask != nil {
		x = min(x, box.Max.X-text.W)
		y := box.Min.Y + (box.Dy()-text.H)/2
		c.canvas.DrawMask(x, y, text.Mask, text.W, text.H, labelLuma)
	}
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
