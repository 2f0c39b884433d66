package mixer

import (
	"math"
	"sort"
)

// Speaker detection, in the spirit of LiveKit's audio level algorithm: each
// 20 ms block gets a level from its loudness in dBov; over a window of
// blocks a participant whose blocks are loud often enough gets the mean
// level of the loud ones, and that is smoothed across windows, so a cough
// or a click does not make a speaker and a breath does not end one.
const (
	// SpeakerWindowBlocks is how many 20 ms blocks one observation covers.
	SpeakerWindowBlocks = 5
	// speakerLoudDBov is the loudness (dB below full scale) a block must
	// reach to count as speech.
	speakerLoudDBov = 40
	// speakerMinLoudShare is the share of loud blocks in a window that
	// counts as talking.
	speakerMinLoudShare = 0.4
	// speakerAttack and speakerRelease: each window moves the smoothed
	// level this share of the way to the window's level, faster down than
	// up so that the end of a turn is seen within a few windows.
	speakerAttack  = 0.5
	speakerRelease = 0.75
	// SpeakerActiveLevel is the smoothed level above which someone speaks.
	SpeakerActiveLevel = 0.02
)

// SpeakerLevel is one participant's smoothed audio level, 0 (silence) to 1
// (full scale).
type SpeakerLevel struct {
	ID     string
	Level  float64
	Active bool
}

// SpeakerDetector turns participants' audio blocks into smoothed levels and
// the active speakers. It belongs to one goroutine (the room's audio loop).
type SpeakerDetector struct {
	blocks int
	state  map[string]*speakerState
}

type speakerState struct {
	loud     int
	sum      float64
	smoothed float64
	seen     bool
}

// NewSpeakerDetector returns a detector with nobody speaking.
func NewSpeakerDetector() *SpeakerDetector {
	return &SpeakerDetector{state: map[string]*speakerState{}}
}

// Observe takes participant id's block (nil for silence or no audio).
// Every participant should be observed once per block before Next.
func (d *SpeakerDetector) Observe(id string, block []float32) {
	s := d.state[id]
	if s == nil {
		s = &speakerState{}
		d.state[id] = s
	}
	s.seen = true
	if len(block) == 0 {
		return
	}
	var sq float64
	for _, v := range block {
		sq += float64(v) * float64(v)
	}
	rms := math.Sqrt(sq / float64(len(block)))
	if rms <= 0 {
		return
	}
	if dbov := -20 * math.Log10(rms); dbov <= speakerLoudDBov {
		s.loud++
		s.sum += rms
	}
}

// Next ends one block. At the end of each window it returns the levels of
// everyone observed in it, loudest first, and true; otherwise nil, false.
// Participants not observed in a window are forgotten.
func (d *SpeakerDetector) Next() ([]SpeakerLevel, bool) {
	d.blocks++
	if d.blocks < SpeakerWindowBlocks {
		return nil, false
	}
	d.blocks = 0
	out := make([]SpeakerLevel, 0, len(d.state))
	for id, s := range d.state {
		if !s.seen {
			delete(d.state, id)
			continue
		}
		level := 0.0
		if float64(s.loud) >= speakerMinLoudShare*SpeakerWindowBlocks {
			level = s.sum / float64(s.loud)
		}
		if level >= s.smoothed {
			s.smoothed += (level - s.smoothed) * speakerAttack
		} else {
			s.smoothed += (level - s.smoothed) * speakerRelease
		}
		if s.smoothed < 1e-4 {
			s.smoothed = 0
		}
		out = append(out, SpeakerLevel{ID: id, Level: s.smoothed, Active: s.smoothed >= SpeakerActiveLevel})
		s.loud, s.sum, s.seen = 0, 0, false
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Level != out[j].Level {
			return out[i].Level > out[j].Level
		}
		return out[i].ID < out[j].ID
	})
	return out, true
}
