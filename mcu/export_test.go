package mcu

import "time"

// GroupCount is the number of running recording groups, for tests.
func (rc *Recorder) GroupCount() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.groups)
}

// LiveReuse reports, for tests, whether each running group writes the live
// encoder's packets rather than encoding itself, keyed by recording id.
func (rc *Recorder) LiveReuse() map[string]bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := map[string]bool{}
	for _, g := range rc.groups {
		g.mu.Lock()
		for id := range g.ids {
			out[id] = g.reuse.Load()
		}
		g.mu.Unlock()
	}
	return out
}

// LossIgnored reports, for tests, whether participant p's video receiver
// is ignoring loss because its network path just changed.
func (p *Participant) LossIgnored() bool {
	d := p.downTrack()
	return d != nil && time.Now().UnixNano() < d.calmUntil.Load()
}
