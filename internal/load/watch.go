package load

import (
	"image"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcu-dev/mcu/internal/peer"
	"github.com/mcu-dev/mcu/mixer"
	"github.com/mcu-dev/mcu/signaling"
)

// publishers maps a room's participant IDs to the clients that publish them.
type publishers struct {
	mu   sync.Mutex
	byID map[string]publisher
}

type publisher struct {
	c    *peer.Client
	clip *peer.Clip
}

func newPublishers() *publishers { return &publishers{byID: map[string]publisher{}} }

func (p *publishers) add(c *peer.Client, clip *peer.Clip) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.byID[c.ID] = publisher{c: c, clip: clip}
}

func (p *publishers) get(id string) (publisher, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pub, ok := p.byID[id]
	return pub, ok
}

// maxEndToEnd bounds a believable end-to-end time: a clip loops every two
// seconds, so an older picture would be taken for a newer one.
const maxEndToEnd = time.Second

// watcher reads the composite one receiver gets: for every tile whose
// picture changed, the time from its publisher sending that picture to the
// first packet of the composite showing it arriving.
type watcher struct {
	pubs   *publishers
	client atomic.Pointer[peer.Client]
	last   map[string]int // receiving goroutine only

	mu        sync.Mutex
	measuring bool
	e2e       []float64
	unread    int
}

func newWatcher(pubs *publishers) *watcher {
	return &watcher{pubs: pubs, last: map[string]int{}}
}

// attach gives the watcher its receiving client, for the layout events.
func (w *watcher) attach(c *peer.Client) { w.client.Store(c) }

// see is the peer.Options.Watch callback.
func (w *watcher) see(img *image.YCbCr, at time.Time) {
	c := w.client.Load()
	if c == nil {
		return
	}
	w.seeLayout(img, at, c.Layout())
}

func (w *watcher) seeLayout(img *image.YCbCr, at time.Time, layout []signaling.Tile) {
	for _, t := range layout {
		pub, ok := w.pubs.get(t.ParticipantID)
		if !ok {
			continue
		}
		tile := image.Rect(t.X, t.Y, t.X+t.W, t.Y+t.H)
		if !tile.In(img.Rect) {
			continue // a layout for another output size
		}
		i, ok := pub.clip.ReadIndex(img, mixer.Fit(pub.clip.Width, pub.clip.Height, 1, 1, tile))
		if !ok {
			w.mu.Lock()
			if w.measuring {
				w.unread++
			}
			w.mu.Unlock()
			continue
		}
		if prev, seen := w.last[t.ParticipantID]; seen && prev == i {
			continue
		}
		w.last[t.ParticipantID] = i
		sent := pub.c.SentAt(i)
		d := at.Sub(sent)
		if sent.IsZero() || d < 0 || d > maxEndToEnd {
			continue
		}
		w.mu.Lock()
		if w.measuring {
			w.e2e = append(w.e2e, float64(d)/float64(time.Millisecond))
		}
		w.mu.Unlock()
	}
}

// measure starts (on) or ends the measured window and returns what was
// timed since the last call.
func (w *watcher) measure(on bool) (e2e []float64, unread int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.measuring = on
	e2e, unread = w.e2e, w.unread
	w.e2e, w.unread = nil, 0
	return e2e, unread
}
