package mcu

import (
	"errors"
	"time"

	"github.com/mcu-dev/mcu/metrics"
)

// ErrTooManyRecordings refuses a recording beyond the server's limit.
var ErrTooManyRecordings = errors.New("mcu: the server runs its maximum of recordings (limits.max_recordings)")

// Observer hears participants join and leave rooms. Its methods are called
// with no room lock held, on the joining or leaving goroutine; they must
// return quickly and must not call back into the room's membership.
type Observer interface {
	ParticipantJoined(r *Room, p *Participant)
	ParticipantLeft(r *Room, p *Participant)
}

// RoomCounters are a room's running totals, for metrics sampling.
type RoomCounters struct {
	FramesOut int64 // live frames encoded
	Receivers int   // participants whose connection is up
}

// Counters returns the room's running totals without locking it.
func (r *Room) Counters() RoomCounters {
	return RoomCounters{FramesOut: r.framesOut.Load(), Receivers: int(r.receivers.Load())}
}

// Metrics returns the room's metrics handle (nil without metrics).
func (r *Room) Metrics() *metrics.Room { return r.metrics }

// CreatedAt is when the room opened.
func (r *Room) CreatedAt() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.created
}

// MaxParticipants is the most participants a room admits.
func (s *Rooms) MaxParticipants() int { return s.cfg.MaxParticipants }

// ParticipantCounters are a participant's running totals.
type ParticipantCounters struct {
	PacketsLost  int64
	DecodeErrors int64
}

// Counters returns the participant's running totals.
func (p *Participant) Counters() ParticipantCounters {
	return ParticipantCounters{PacketsLost: p.packetsLost.Load(), DecodeErrors: p.decodeErrors.Load()}
}

// JoinedAt is when the participant joined.
func (p *Participant) JoinedAt() time.Time { return p.joined }

// RecorderHooks connect the recorder to the server's operations.
type RecorderHooks struct {
	// Admit is asked before a recording starts; its error refuses the
	// recording (disk full, draining, too many recordings).
	Admit func() error
	// Changed hears every recording that starts or ends (finished or
	// failed), with no recorder lock held. It must return quickly.
	Changed func(Recording)
}

// SetHooks installs h. Call it before the recorder is used.
func (rc *Recorder) SetHooks(h RecorderHooks) { rc.hooks = h }

func (rc *Recorder) admit() error {
	if rc.hooks.Admit == nil {
		return nil
	}
	return rc.hooks.Admit()
}

// Running returns the recordings being written now.
func (rc *Recorder) Running() []Recording {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []Recording
	for _, r := range rc.recs {
		if r.State == StateRecording {
			out = append(out, rc.snapshotLocked(r))
		}
	}
	return out
}

// Fail stops every running recording whose write error satisfies match
// (all of them when match is nil) and finalizes its file, which stays
// playable up to there; the recording's state becomes failed with the error
// reason(err) where err is its write error (nil when it had none). It
// returns the ids stopped.
func (rc *Recorder) Fail(match func(writeErr error) bool, reason func(writeErr error) error) []string {
	rc.mu.Lock()
	groups := make([]*recGroup, 0, len(rc.groups))
	for _, g := range rc.groups {
		groups = append(groups, g)
	}
	rc.mu.Unlock()
	var ids []string
	for _, g := range groups {
		ids = append(ids, g.failMembers(match, reason)...)
	}
	return ids
}

// failMembers finishes, on the group's goroutine, the members selected as in
// Recorder.Fail.
func (g *recGroup) failMembers(match func(error) bool, reason func(error) error) []string {
	var ids []string
	_ = g.do(func() {
		for id, m := range g.members {
			if match != nil && (m.err == nil || !match(m.err)) {
				continue
			}
			m.err = reason(m.err)
			g.finish(m)
			ids = append(ids, id)
		}
	})
	return ids
}
