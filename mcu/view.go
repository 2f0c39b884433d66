package mcu

import (
	"fmt"
	"strings"

	"github.com/mcu-dev/mcu/mixer"
	"github.com/mcu-dev/mcu/signaling"
)

// What the room shows: who speaks (from the audio loop) and the layout (from
// operators). Both reach the video loop as immutable snapshots swapped in
// on change, so no loop locks the room on a tick.

// speakerSnapshot is the active speakers as the audio loop last found them.
type speakerSnapshot struct {
	version uint64
	// dominant is the loudest active speaker, "" for silence.
	dominant string
	active   []signaling.Speaker
}

// viewSnapshot is the room's layout and pinned participant.
type viewSnapshot struct {
	version uint64
	layout  mixer.Layout
	pinned  string
}

// View is a room's layout as the API and the websocket show it.
type View struct {
	Layout mixer.Layout `json:"layout_mode"`
	Pinned string       `json:"pinned,omitempty"`
}

// speakersChanged publishes the window's levels if who speaks changed, and
// tells clients. It runs on the audio loop.
func (r *Room) speakersChanged(levels []mixer.SpeakerLevel) {
	prev := r.speakers.Load()
	next := &speakerSnapshot{version: prev.version + 1}
	for _, l := range levels {
		if l.Active {
			if next.dominant == "" {
				next.dominant = l.ID
			}
			next.active = append(next.active, signaling.Speaker{ParticipantID: l.ID, Level: roundLevel(l.Level)})
		}
	}
	if sameSpeakers(prev.active, next.active) {
		// Only the levels moved: keep them fresh for the API, without
		// re-flowing anything or telling clients.
		r.speakerLevels.Store(&next.active)
		return
	}
	r.speakerLevels.Store(&next.active)
	r.speakers.Store(next)
	list := append([]signaling.Speaker{}, next.active...)
	r.broadcast(signaling.Message{Type: signaling.TypeSpeakers, Speakers: &list}, nil)
}

func roundLevel(v float64) float64 { return float64(int(v*1000+0.5)) / 1000 }

// sameSpeakers compares who speaks, in order, ignoring levels.
func sameSpeakers(a, b []signaling.Speaker) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ParticipantID != b[i].ParticipantID {
			return false
		}
	}
	return true
}

// Speakers returns the active speakers, loudest first, with their levels.
func (r *Room) Speakers() []signaling.Speaker {
	if p := r.speakerLevels.Load(); p != nil {
		return append([]signaling.Speaker{}, (*p)...)
	}
	return []signaling.Speaker{}
}

// decorate returns the tiles with the dominant speaker marked.
func decorate(tiles []mixer.Tile, dominant string) []mixer.Tile {
	out := make([]mixer.Tile, len(tiles))
	copy(out, tiles)
	for i := range out {
		out[i].Speaking = out[i].ID == dominant
	}
	return out
}

// View returns the room's layout and pinned participant.
func (r *Room) View() View {
	v := r.view.Load()
	return View{Layout: v.layout, Pinned: v.pinned}
}

// SetView changes the room's layout ("" keeps it) and pinned participant
// (nil keeps it, "" unpins). A pinned participant must be in the room.
func (r *Room) SetView(layout string, pinned *string) (View, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.view.Load()
	next := &viewSnapshot{version: cur.version + 1, layout: cur.layout, pinned: cur.pinned}
	if layout != "" {
		l, err := mixer.ParseLayout(layout)
		if err != nil {
			return r.viewLocked(), fmt.Errorf("layout: %s", strings.TrimPrefix(err.Error(), "mixer: "))
		}
		next.layout = l
	}
	if pinned != nil {
		if *pinned != "" && !r.hasPublisherLocked(*pinned) {
			return r.viewLocked(), fmt.Errorf("pinned: no participant %q with a tile in room %s", *pinned, r.name)
		}
		next.pinned = *pinned
	}
	if next.layout != cur.layout || next.pinned != cur.pinned {
		r.view.Store(next)
		r.log.Info("layout changed", "layout", next.layout, "pinned", next.pinned)
		r.RequestKeyframe()
	}
	pin := next.pinned
	// broadcast reads the membership snapshot: no lock needed, none taken.
	defer r.broadcast(signaling.Message{Type: signaling.TypeView, LayoutMode: string(next.layout), Pinned: &pin}, nil)
	return View{Layout: next.layout, Pinned: next.pinned}, nil
}

func (r *Room) viewLocked() View {
	v := r.view.Load()
	return View{Layout: v.layout, Pinned: v.pinned}
}

func (r *Room) hasPublisherLocked(id string) bool {
	for _, p := range r.participants {
		if p.id == id && !p.receiveOnly {
			return true
		}
	}
	return false
}

// republish refreshes the membership snapshot after a participant's
// microphone or screen share changed, so that tiles show it.
func (r *Room) republish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.closed {
		r.publishMembersLocked()
	}
}

// placement is the live composite's layout as clients get it, and the ids
// of every tile it was made for (also those it hides).
type placement struct {
	tiles []signaling.Tile
	ids   []string
}

// placedTiles converts the live compositor's placement into the layout
// clients get; tiles the layout hides are left out.
func placedTiles(placed []mixer.Placed) *placement {
	out := &placement{tiles: make([]signaling.Tile, 0, len(placed))}
	for _, p := range placed {
		out.ids = append(out.ids, p.ID)
		if p.Rect.Empty() {
			continue
		}
		t := tileOf(p.Tile, p.Rect)
		t.Main = p.Main
		out.tiles = append(out.tiles, t)
	}
	return out
}

// sameLayout compares two layouts as clients see them.
func sameLayout(a, b []signaling.Tile) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// unpinLocked forgets a pin on a participant who left.
func (r *Room) unpinLocked(id string) {
	if v := r.view.Load(); v.pinned == id {
		r.view.Store(&viewSnapshot{version: v.version + 1, layout: v.layout})
	}
}
