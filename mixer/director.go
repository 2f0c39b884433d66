package mixer

import "time"

// Hold times of the speaker layouts: a new speaker takes the main tile only
// after talking for SpeakerTakeAfter, and the main tile stays at least
// SpeakerKeepFor with whoever has it, so that short remarks and crosstalk do
// not make the picture jump.
var (
	SpeakerTakeAfter = 1500 * time.Millisecond
	SpeakerKeepFor   = 3 * time.Second
)

// director picks the main tile of the speaker, presenter and single
// layouts. It belongs to the compositor's rendering goroutine.
type director struct {
	main      string
	mainSince time.Time
	cand      string
	candSince time.Time
}

// choose returns the layout in effect and the index of the main tile in
// tiles (-1 for none) at time now.
func (d *director) choose(l Layout, pinned string, tiles []Tile, now time.Time) (Layout, int) {
	if len(tiles) == 0 {
		return l, -1
	}
	screen := -1
	for i, t := range tiles {
		if t.Screen {
			screen = i
			break
		}
	}
	if l == LayoutAuto {
		l = LayoutGrid
		if screen >= 0 {
			l = LayoutPresenter
		}
	}
	if l == LayoutGrid {
		return l, -1
	}
	if i := indexOf(tiles, pinned); pinned != "" && i >= 0 {
		d.set(pinned, now)
		return l, i
	}
	if l == LayoutPresenter && screen >= 0 {
		d.set(tiles[screen].ID, now)
		return l, screen
	}
	speaking := ""
	for _, t := range tiles {
		if t.Speaking {
			speaking = t.ID
			break
		}
	}
	switch {
	case indexOf(tiles, d.main) < 0:
		// Nobody holds the main tile yet (or they left): take it at once.
		first := speaking
		if first == "" {
			first = tiles[0].ID
		}
		d.set(first, now)
	case speaking == "" || speaking == d.main:
		d.cand = ""
	default:
		if d.cand != speaking {
			d.cand, d.candSince = speaking, now
		}
		if now.Sub(d.candSince) >= SpeakerTakeAfter && now.Sub(d.mainSince) >= SpeakerKeepFor {
			d.set(speaking, now)
		}
	}
	return l, indexOf(tiles, d.main)
}

func (d *director) set(id string, now time.Time) {
	if d.main != id {
		d.main, d.mainSince = id, now
	}
	d.cand = ""
}

func indexOf(tiles []Tile, id string) int {
	for i, t := range tiles {
		if t.ID == id {
			return i
		}
	}
	return -1
}
