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
	// the rung sends.
	rungHeadroom = 1.15
	// upHold is how long the estimate must fit the next rung up.
	upHold = 3 * time.Second
	// downLoss and upLoss are the reported loss fractions that push a
	// receiver down at once, and that it must stay under to climb.
	downLoss = 0.10
	upLoss   = 0.02
	// rungCheck is how often each receiver's rung is reconsidered.
	rungCheck = 250 * time.Millisecond
)

// rungChooser is one receiver's rung state machine; the room's video
// goroutine owns it.
type rungChooser struct {
	target    int       // the rung wanted, 0 is the top
	fitsSince time.Time // since when the rung above target fits
	probing   bool      // padding is sent so the estimate can reach the rung above
}

// choose returns the rung to be on. need[i] is the rate rung i sends (or
// will send) in bits per second, largest first; est is the bandwidth
// estimate (0 when unknown); loss the latest reported loss fraction;
// pinned, when >= 0, overrides the choice; ceiling is the highest rung
// allowed (0 for the top).
func (c *rungChooser) choose(now time.Time, need []float64, est, loss float64, pinned, ceiling int) int {
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
	fits := func(i int) bool { return est >= need[i]*rungHeadroom }
	// Down at once: the highest rung that fits, at least one down on
	// heavy loss.
	if !fits(c.target) || loss >= downLoss {
		to := c.target
		for to < last && !fits(to) {
			to++
		}
		if loss >= downLoss && to == c.target && to < last {
			to++
		}
		c.target, c.fitsSince, c.probing = to, time.Time{}, false
		return c.target
	}
	// Up slowly: the rung above must fit, with little loss, for upHold.
	if c.target > ceiling {
		up := c.target - 1
		if fits(up) && loss < upLoss {
			if c.fitsSince.IsZero() {
				c.fitsSince = now
			}
			if now.Sub(c.fitsSince) >= upHold {
				c.target, c.fitsSince, c.probing = up, time.Time{}, false
			}
		} else {
			c.fitsSince = time.Time{}
		}
		// Probe while the link looks clean: the estimate cannot grow
		// past about 1.5 times what is sent, so padding lets it show
		// whether the rung above would fit.
		c.probing = loss < upLoss && c.target > ceiling
	} else {
		c.probing = false
	}
	return c.target
}
