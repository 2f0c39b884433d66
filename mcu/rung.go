package mcu

import "time"

// Rung choice for one receiver. The inputs are the send-side bandwidth
// estimate (GCC over transport-wide feedback) and the loss the receiver
// reports; the output is the rung the receiver should be on. Down is quick
// (the next check after the estimate falls short), up is slow (the estimate
// must hold for upHold), and the switch itself happens at the target rung's
// next keyframe (downTrack).
const (
	// rungHeadroom: a rung fits when the estimate is this much above what
	// the rung sends. A receiver stays on its rung until the estimate
	// has been under rungFloor times what it sends for downHold while the
	// link shows congestion: GCC answers one overuse with 0.85 times what
	// arrived, which is no reason to move, and an estimate that falls
	// only because less is sent (a still picture: GCC never estimates
	// past 1.5 times what arrives) says nothing about the link.
	rungHeadroom = 1.15
	rungFloor    = 0.75
	downHold     = 1500 * time.Millisecond
	// upHold is how long the estimate must fit the next rung up.
	upHold = 3 * time.Second
	// downLoss and upLoss are the reported loss fractions that push a
	// receiver down at once, and that it must stay under to climb.
	downLoss = 0.10
	upLoss   = 0.02
	// downQueue is the queuing delay that counts as congestion for
	// moving down (probes stop earlier, at probeQueueLimit).
	downQueue = 50 * time.Millisecond
	// rungCheck is how often each receiver's rung is reconsidered.
	rungCheck = 250 * time.Millisecond
)

// rungChooser is one receiver's rung state machine; the room's video
// goroutine owns it.
type rungChooser struct {
	target     int       // the rung wanted, 0 is the top
	fitsSince  time.Time // since when the rung above target fits
	shortSince time.Time // since when the estimate is short of target
	probing    bool      // a higher rung is allowed and the link looks clean: probe for it
}

// choose returns the rung to be on. need[i] is the rate rung i sends (or
// will send) in bits per second, largest first; est is the bandwidth
// estimate (0 when unknown); shown is the most the link has shown it
// carries (0 when unknown), which bounds est for climbing; loss the
// latest reported loss fraction; congested whether the link shows
// congestion now (a growing queue or loss); pinned, when >= 0, overrides
// the choice; ceiling is the highest rung allowed (0 for the top).
//
// The bound matters because pion's GCC lets its estimate grow 8% a
// second without limit once it is past 1.5 times what arrives: a
// receiver held on 180p behind a 700 kb/s link reads an estimate of
// 1 Mb/s after a few quiet seconds, which no packet ever showed.
func (c *rungChooser) choose(now time.Time, need []float64, est, shown, loss float64, congested bool, pinned, ceiling int) int {
	last := len(need) - 1
	if pinned >= 0 {
		c.target, c.probing, c.fitsSince = min(pinned, last), false, time.Time{}
		return c.target
	}
	if c.target < ceiling {
		c.target = ceiling
	}
	if c.target > last {
		c.target = last
	}
	if est <= 0 {
		return c.target // no estimate yet: stay
	}
	upEst := est
	if shown > 0 {
		upEst = min(est, shown)
	}
	fits := func(i int, e float64) bool { return e >= need[i]*rungHeadroom }
	short := congested && est < need[c.target]*rungFloor
	switch {
	case !short:
		c.shortSince = time.Time{}
	case c.shortSince.IsZero():
		c.shortSince = now
	}
	// Down quickly: to the highest rung that fits, at least one down on
	// heavy loss.
	if short && now.Sub(c.shortSince) >= downHold || loss >= downLoss {
		to := c.target
		for to < last && !fits(to, est) {
			to++
		}
		if loss >= downLoss && to == c.target && to < last {
			to++
		}
		c.target, c.fitsSince, c.shortSince, c.probing = to, time.Time{}, time.Time{}, false
		return c.target
	}
	// Up slowly: a higher rung must fit, with little loss, for upHold;
	// then straight to the highest one that fits.
	if c.target > ceiling {
		up := -1
		for i := ceiling; i < c.target; i++ {
			if fits(i, upEst) {
				up = i
				break
			}
		}
		if up >= 0 && loss < upLoss {
			if c.fitsSince.IsZero() {
				c.fitsSince = now
			}
			if now.Sub(c.fitsSince) >= upHold {
				c.target, c.fitsSince = up, time.Time{}
			}
		} else {
			c.fitsSince = time.Time{}
		}
	}
	// Probe while there is a higher rung to reach and the link looks
	// clean: a climb counts only on what the link has shown it carries,
	// so padding lets it show whether a higher rung would fit.
	c.probing = loss < upLoss && c.target > ceiling
	return c.target
}

// Probing. GCC lets its estimate grow about 8% a second, and a climb
// counts on it only up to 1.5 times what was sent (shownGrowth), so a
// receiver that dropped to a low rung would take half a minute to show
// that its link recovered. The prober finds out faster, as browsers do:
// it pads the receiver's stream up to a higher rate, a quarter more every
// half second, and a rate the link carried for half a second with no
// queue building and little loss counts as confirmed bandwidth. A queue,
// loss or silent feedback ends the probe at once, and the next one waits
// 2 s, then maxProbeBackoff. Small steps keep the overshoot on a capped
// link short of what its queue holds.
const (
	probeStep       = 1.25
	probeHold       = 500 * time.Millisecond
	maxProbeBackoff = 4 * time.Second
	probeResume     = 0.7
	// probeQueueLimit is the queuing delay that ends a probe: well before
	// a link's buffer (often 200-500 ms) overflows.
	probeQueueLimit = 80 * time.Millisecond
	// probeSilence is how long without transport-wide feedback ends a
	// probe: receivers send it every 100 ms or so, but a busy one (a
	// phone decoding, a loaded test machine) skips a beat or two, and
	// ending a probe on that costs seconds of back-off.
	probeSilence = 500 * time.Millisecond
	// probeMargin is how far past what the top rung needs a probe goes.
	probeMargin = 1.05
)

type prober struct {
	rate      float64   // total rate being probed; 0 when not probing
	failed    float64   // the rate the last probe ended at; the next starts near it
	since     time.Time // when rate was set
	confirmed float64   // a rate the link carried cleanly; 0 for none
	next      time.Time // earliest start of the next probe
	backoff   time.Duration
}

// update advances the probe. want is the total rate to show (0: nothing
// to probe for), est the estimate, media what the rung itself sends,
// congested whether the link shows a queue, silence or loss.
func (p *prober) update(now time.Time, want, est, media float64, congested bool) {
	if congested {
		if p.rate > 0 {
			p.backoff = min(maxProbeBackoff, max(2*time.Second, 2*p.backoff))
			p.next = now.Add(p.backoff)
			p.failed = p.rate
		}
		p.rate, p.confirmed = 0, 0
		return
	}
	if p.confirmed > 0 && est >= p.confirmed {
		p.confirmed = 0 // the estimate caught up
	}
	if want <= 0 {
		p.rate = 0
		return
	}
	switch {
	case p.rate == 0:
		if now.Before(p.next) {
			return
		}
		// Start from what is known, or just under where the last probe
		// ended: a link that is still capped sees a small overshoot, one
		// that was only noisy is back at that rate at once.
		p.rate, p.since = min(want, max(est, media, probeResume*p.failed)*probeStep), now
	case now.Sub(p.since) >= probeHold:
		p.confirmed = max(p.confirmed, p.rate)
		if p.rate < want {
			p.rate, p.since = min(want, p.rate*probeStep), now
		}
	}
}

// estimate is what the rung chooser should count on: the estimator's, or
// the confirmed probe rate while that is higher.
func (p *prober) estimate(est float64) float64 { return max(est, p.confirmed) }

// done ends probing after a switch up succeeded; the confirmed rate stays
// until the estimate reaches it or congestion shows.
func (p *prober) done() { p.rate, p.backoff = 0, 0 }

// shownGrowth is how far above what was sent lately an estimate counts
// for climbing: GCC's own bound on its estimate, which pion applies only
// while its estimate is under it.
const shownGrowth = 1.5

// rateWindow measures a byte counter's rate over its last few samples.
type rateWindow struct {
	at    [5]time.Time // a ring: four intervals of rungCheck, one second
	bytes [5]int64
	n     int
}

// add samples the counter at now and returns its rate in bits per second
// since the oldest sample kept; 0 until half a second is covered.
func (w *rateWindow) add(now time.Time, total int64) float64 {
	i := w.n % len(w.at)
	w.at[i], w.bytes[i] = now, total
	w.n++
	oldest := 0
	if w.n > len(w.at) {
		oldest = w.n % len(w.at)
	}
	span := now.Sub(w.at[oldest])
	if span < 500*time.Millisecond {
		return 0
	}
	return float64(total-w.bytes[oldest]) * 8 / span.Seconds()
}
