package mcu

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mcu-dev/mcu/mixer"
)

// Timeline kinds.
const (
	TimelinePresent  = "present"  // in the room when the recording started
	TimelineJoined   = "joined"   // joined during the recording
	TimelineLeft     = "left"     // left during the recording
	TimelineSpeaking = "speaking" // the active speaker from Start to End
)

// speakerLag and speakerEndLag are how late the speaker detector sees the
// start of a turn (about one window) and its end (about two, as the
// smoothed level falls): speaking cues are moved back by them.
const (
	speakerLag    = time.Duration(mixer.SpeakerWindowBlocks) * audioBlock
	speakerEndLag = 2 * speakerLag
	// turnGap is the longest pause inside one turn.
	turnGap = 500 * time.Millisecond
)

// TimelineEvent is one entry of a recording's timeline; times are seconds
// from the start of the file.
type TimelineEvent struct {
	Kind          string  `json:"kind"`
	ParticipantID string  `json:"participant_id"`
	Name          string  `json:"name"`
	Start         float64 `json:"start_s"`
	End           float64 `json:"end_s,omitempty"`
}

// Timeline is who was in a recording and who spoke when.
type Timeline struct {
	Recording string          `json:"recording"`
	Duration  float64         `json:"duration_s"`
	Events    []TimelineEvent `json:"events"`
}

// timelineLog records, in wall-clock time, what a recording group's tiles
// show: joins, leaves and the active speaker. SetTiles feeds it on the
// room's video goroutine; files are cut from it when a member finishes.
type timelineLog struct {
	mu      sync.Mutex
	present map[string]mixer.Tile
	speaker string
	events  []wallEvent
	started bool // the first tiles were seen
}

type wallEvent struct {
	kind       string
	initial    bool // there when the group started, not a join
	id, name   string
	start, end time.Time // end only for speaking; zero while it goes on
}

func newTimelineLog() *timelineLog { return &timelineLog{present: map[string]mixer.Tile{}} }

// observe records the change from the previous tiles to tiles at now.
func (l *timelineLog) observe(tiles []mixer.Tile, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := make(map[string]bool, len(tiles))
	speaker := ""
	for _, t := range tiles {
		seen[t.ID] = true
		if _, ok := l.present[t.ID]; !ok {
			l.events = append(l.events, wallEvent{kind: TimelineJoined, initial: !l.started, id: t.ID, name: t.Name, start: now})
		}
		l.present[t.ID] = t
		if t.Speaking {
			speaker = t.ID
		}
	}
	for id, t := range l.present {
		if !seen[id] {
			l.events = append(l.events, wallEvent{kind: TimelineLeft, id: id, name: t.Name, start: now})
			delete(l.present, id)
		}
	}
	l.started = true
	if speaker == l.speaker {
		return
	}
	at := now.Add(-speakerLag)
	if l.speaker != "" {
		end := now.Add(-speakerEndLag)
		if speaker != "" {
			end = at // a handover: the next turn's start is the better clue
		}
		for i := len(l.events) - 1; i >= 0; i-- {
			if e := &l.events[i]; e.kind == TimelineSpeaking && e.id == l.speaker && e.end.IsZero() {
				if end.Before(e.start) {
					end = e.start
				}
				e.end = end
				break
			}
		}
	}
	l.speaker = speaker
	if speaker != "" {
		l.events = append(l.events, wallEvent{kind: TimelineSpeaking, id: speaker, name: l.present[speaker].Name, start: at})
	}
}

// cut returns the timeline of a file covering [from, to).
func (l *timelineLog) cut(id string, from, to time.Time) Timeline {
	l.mu.Lock()
	defer l.mu.Unlock()
	sec := func(t time.Time) float64 {
		d := t.Sub(from).Seconds()
		return float64(int64(max(d, 0)*1000+0.5)) / 1000
	}
	tl := Timeline{Recording: id, Duration: sec(to), Events: []TimelineEvent{}}
	// Who was there when the file started: everyone who joined before it
	// and had not left by then.
	in := map[string]string{}
	var order []string
	for _, e := range l.events {
		if !e.start.Before(from) && !e.initial {
			break
		}
		switch e.kind {
		case TimelineJoined:
			if _, ok := in[e.id]; !ok {
				order = append(order, e.id)
			}
			in[e.id] = e.name
		case TimelineLeft:
			delete(in, e.id)
		}
	}
	for _, pid := range order {
		if name, ok := in[pid]; ok {
			tl.Events = append(tl.Events, TimelineEvent{Kind: TimelinePresent, ParticipantID: pid, Name: name})
		}
	}
	lastTurn := -1 // index in tl.Events of the latest speaking event
	for _, e := range l.events {
		switch e.kind {
		case TimelineSpeaking:
			end := e.end
			if end.IsZero() || end.After(to) {
				end = to
			}
			if !end.After(from) || !e.start.Before(to) || end.Sub(e.start) < speakerLag {
				continue // outside the file, or a blip shorter than a window
			}
			if lastTurn >= 0 {
				// One turn cut by a breath (or a lost packet) stays one cue.
				if p := &tl.Events[lastTurn]; p.ParticipantID == e.id && sec(e.start)-p.End < turnGap.Seconds() {
					p.End = sec(end)
					continue
				}
			}
			tl.Events = append(tl.Events, TimelineEvent{Kind: e.kind, ParticipantID: e.id, Name: e.name, Start: sec(e.start), End: sec(end)})
			lastTurn = len(tl.Events) - 1
		default:
			if e.start.Before(from) || !e.start.Before(to) || e.initial {
				continue
			}
			tl.Events = append(tl.Events, TimelineEvent{Kind: e.kind, ParticipantID: e.id, Name: e.name, Start: sec(e.start)})
		}
	}
	sort.SliceStable(tl.Events, func(i, j int) bool { return tl.Events[i].Start < tl.Events[j].Start })
	return tl
}

// VTT renders the timeline as WebVTT: one cue per turn ("Name"), and a
// short cue for each join and leave.
func (tl Timeline) VTT() string {
	var b strings.Builder
	b.WriteString("WEBVTT\n\n")
	n := 0
	for _, e := range tl.Events {
		var text string
		end := e.End
		switch e.Kind {
		case TimelineSpeaking:
			text = "<v " + vttEscape(e.Name) + ">" + vttEscape(e.Name) + " speaking"
		case TimelineJoined:
			text, end = vttEscape(e.Name)+" joined", min(e.Start+2, tl.Duration)
		case TimelineLeft:
			text, end = vttEscape(e.Name)+" left", min(e.Start+2, tl.Duration)
		default:
			continue
		}
		if end <= e.Start {
			continue
		}
		n++
		fmt.Fprintf(&b, "%d\n%s --> %s\n%s\n\n", n, vttTime(e.Start), vttTime(end), text)
	}
	return b.String()
}

func vttEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\n", " ", "-->", "→").Replace(s)
}

func vttTime(s float64) string {
	ms := int64(s*1000 + 0.5)
	return fmt.Sprintf("%02d:%02d:%02d.%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}

// writeTimeline writes the WebVTT and JSON files of a recording next to it,
// each through a temporary file.
func writeTimeline(base string, tl Timeline) error {
	j, err := json.MarshalIndent(tl, "", "  ")
	if err != nil {
		return err
	}
	for path, data := range map[string][]byte{base + ".vtt": []byte(tl.VTT()), base + ".timeline.json": j} {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			_ = os.Remove(tmp)
			return fmt.Errorf("mcu: writing timeline: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("mcu: writing timeline: %w", err)
		}
	}
	return nil
}
