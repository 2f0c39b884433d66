package mcu

import (
	"testing"
	"time"
)

func TestRungChooser(t *testing.T) {
	need := []float64{2_000_000, 600_000, 150_000}
	t0 := time.Unix(1000, 0)
	var c rungChooser
	if got := c.choose(t0, need, 0, 0, 0, true, -1, 0); got != 0 {
		t.Fatalf("no estimate: rung %d, want the top", got)
	}
	if got := c.choose(t0, need, 2_500_000, 0, 0, true, -1, 0); got != 0 {
		t.Fatalf("2.5 Mb/s: rung %d, want 0", got)
	}
	// An estimate that falls while the link shows no congestion (less is
	// sent: GCC never estimates past 1.5x what arrives) moves nothing.
	for i := range 8 {
		if got := c.choose(t0.Add(time.Duration(i)*rungCheck), need, 300_000, 0, 0, false, -1, 0); got != 0 {
			t.Fatalf("app-limited estimate: rung %d, want 0", got)
		}
	}
	// One overuse (0.85 of what arrives) is no reason to move.
	if got := c.choose(t0.Add(time.Second), need, 1_700_000, 0, 0, true, -1, 0); got != 0 {
		t.Fatalf("one dip: rung %d, want 0", got)
	}
	if got := c.choose(t0.Add(2500*time.Millisecond), need, 2_000_000, 0, 0, true, -1, 0); got != 0 {
		t.Fatalf("after one dip: rung %d, want 0", got)
	}
	// The link falls to 700 kb/s: down to 360p after downHold.
	if got := c.choose(t0.Add(3*time.Second), need, 720_000, 0, 0.01, true, -1, 0); got != 0 {
		t.Fatalf("720 kb/s at first: rung %d, want 0", got)
	}
	if got := c.choose(t0.Add(3*time.Second+downHold), need, 720_000, 0, 0.01, true, -1, 0); got != 1 {
		t.Fatalf("720 kb/s for a second: rung %d, want 1", got)
	}
	// Heavy loss pushes down one more even when the estimate fits.
	if got := c.choose(t0.Add(5*time.Second), need, 700_000, 0, 0.2, true, -1, 0); got != 2 {
		t.Fatalf("20%% loss: rung %d, want 2", got)
	}
	// Up one rung only after the estimate held for upHold, with probing on.
	tu := t0.Add(10 * time.Second)
	if got := c.choose(tu, need, 800_000, 0, 0, true, -1, 0); got != 2 || !c.probing {
		t.Fatalf("first fit: rung %d probing %v, want 2 and probing", got, c.probing)
	}
	if got := c.choose(tu.Add(upHold/2), need, 800_000, 0, 0, true, -1, 0); got != 2 {
		t.Fatalf("half the hold: rung %d, want 2", got)
	}
	if got := c.choose(tu.Add(upHold), need, 800_000, 0, 0, true, -1, 0); got != 1 {
		t.Fatalf("after the hold: rung %d, want 1", got)
	}
	// A dip restarts the hold.
	tu = tu.Add(upHold)
	c.choose(tu.Add(time.Second), need, 2_400_000, 0, 0, true, -1, 0)
	c.choose(tu.Add(2*time.Second), need, 700_000, 0, 0, true, -1, 0)
	if got := c.choose(tu.Add(4500*time.Millisecond), need, 2_400_000, 0, 0, true, -1, 0); got != 1 {
		t.Fatalf("hold restarted by a dip: rung %d, want 1", got)
	}
	if got := c.choose(tu.Add(8*time.Second), need, 2_400_000, 0, 0, true, -1, 0); got != 0 || c.probing {
		t.Fatalf("back on top: rung %d probing %v", got, c.probing)
	}
	// Operators: a pin wins, a ceiling caps.
	if got := c.choose(tu.Add(9*time.Second), need, 2_400_000, 0, 0, true, 2, 0); got != 2 {
		t.Fatalf("pinned: rung %d, want 2", got)
	}
	var capped rungChooser
	if got := capped.choose(tu, need, 9_000_000, 0, 0, true, -1, 1); got != 1 {
		t.Fatalf("capped: rung %d, want 1", got)
	}
}

// An estimate above what the link has shown it carries does not lift a
// receiver, however long it holds (pion's GCC grows it without bound);
// what the link showed does, and a falling estimate still moves down.
func TestRungChooserClimbsOnlyOnWhatTheLinkShowed(t *testing.T) {
	need := []float64{2_000_000, 600_000, 150_000}
	t0 := time.Unix(3000, 0)
	c := rungChooser{target: 2}
	for i := range 40 { // 10 s of an estimate of 1 Mb/s over 214 kb/s sent
		if got := c.choose(t0.Add(time.Duration(i)*rungCheck), need, 1_000_000, 1.5*214_000, 0, false, -1, 0); got != 2 {
			t.Fatalf("after %v: rung %d, want 2 (nothing showed 690 kb/s)", time.Duration(i)*rungCheck, got)
		}
	}
	if !c.probing {
		t.Fatal("not probing for a higher rung")
	}
	tp := t0.Add(10 * time.Second)
	for i := range 13 { // a probe confirmed 800 kb/s: up after upHold
		if got := c.choose(tp.Add(time.Duration(i)*rungCheck), need, 1_000_000, 800_000, 0, false, -1, 0); got != 2 && i < 12 {
			t.Fatalf("up after %v, before upHold", time.Duration(i)*rungCheck)
		} else if i == 12 && got != 1 {
			t.Fatalf("rung %d after upHold with 800 kb/s shown, want 1", got)
		}
	}
	// Down follows the estimate itself, not what was shown.
	td := tp.Add(5 * time.Second)
	c.choose(td, need, 300_000, 10_000_000, 0, true, -1, 0)
	if got := c.choose(td.Add(downHold), need, 300_000, 10_000_000, 0, true, -1, 0); got != 2 {
		t.Fatalf("congested at 300 kb/s: rung %d, want 2", got)
	}
}

func TestRateWindow(t *testing.T) {
	var w rateWindow
	t0 := time.Unix(4000, 0)
	if r := w.add(t0, 0); r != 0 {
		t.Fatalf("first sample: %v", r)
	}
	if r := w.add(t0.Add(rungCheck), 25_000); r != 0 {
		t.Fatalf("a quarter second: %v, want 0 (too short)", r)
	}
	// 100 kB/s = 800 kb/s, then the window slides past a burst.
	total := int64(25_000)
	for i := 2; i <= 4; i++ {
		total += 25_000
		if r := w.add(t0.Add(time.Duration(i)*rungCheck), total); r != 800_000 {
			t.Fatalf("sample %d: %v, want 800000", i, r)
		}
	}
	total += 1_000_000 // a keyframe burst
	w.add(t0.Add(5*rungCheck), total)
	for i := 6; i <= 9; i++ {
		total += 25_000
		r := w.add(t0.Add(time.Duration(i)*rungCheck), total)
		if i < 9 && r <= 800_000 {
			t.Fatalf("sample %d: %v, want the burst counted", i, r)
		}
		if i == 9 && r != 800_000 {
			t.Fatalf("sample %d: %v, want 800000 once the burst left the window", i, r)
		}
	}
}

func TestProber(t *testing.T) {
	t0 := time.Unix(2000, 0)
	at := func(steps int) time.Time { return t0.Add(time.Duration(steps) * probeHold) }
	var p prober
	// A receiver on 180p (150 kb/s, estimate 200 kb/s) wants to show 700 kb/s.
	p.update(t0, 700_000, 200_000, 150_000, false)
	if p.rate != 200_000*probeStep {
		t.Fatalf("first step %v, want %v", p.rate, 200_000*probeStep)
	}
	p.update(t0.Add(probeHold/2), 700_000, 210_000, 150_000, false)
	if p.rate != 200_000*probeStep || p.confirmed != 0 {
		t.Fatalf("half a hold in: rate %v confirmed %v", p.rate, p.confirmed)
	}
	p.update(at(1), 700_000, 220_000, 150_000, false)
	if p.confirmed != 200_000*probeStep || p.rate != 200_000*probeStep*probeStep {
		t.Fatalf("after a clean hold: rate %v confirmed %v", p.rate, p.confirmed)
	}
	for i := 2; i < 12; i++ {
		p.update(at(i), 700_000, 230_000, 150_000, false)
	}
	if p.confirmed != 700_000 || p.estimate(250_000) != 700_000 {
		t.Fatalf("confirmed %v, want 700k", p.confirmed)
	}
	// Congestion drops what was confirmed and backs off.
	tc := at(12)
	p.update(tc, 700_000, 250_000, 150_000, true)
	if p.rate != 0 || p.confirmed != 0 || p.backoff != 2*time.Second {
		t.Fatalf("after congestion: %+v", p)
	}
	p.update(tc.Add(time.Second), 700_000, 250_000, 150_000, false)
	if p.rate != 0 {
		t.Fatalf("probed again during the back-off: %+v", p)
	}
	p.update(tc.Add(2*time.Second), 700_000, 250_000, 150_000, false)
	if p.rate == 0 {
		t.Fatalf("no probe after the back-off: %+v", p)
	}
	for i := range 6 {
		ti := tc.Add(time.Duration(3+i) * time.Minute)
		p.update(ti, 700_000, 250_000, 150_000, true)
		p.update(ti.Add(maxProbeBackoff), 700_000, 250_000, 150_000, false)
	}
	if p.backoff != maxProbeBackoff {
		t.Fatalf("back-off %v, want at most %v", p.backoff, maxProbeBackoff)
	}
	// Nothing to probe for: no padding.
	p.update(tc.Add(time.Hour), 0, 250_000, 150_000, false)
	if p.rate != 0 {
		t.Fatalf("probing with nothing wanted: %+v", p)
	}
}

// An ICE restart's loss does not move the receiver: reports that come
// while the path is new read as no loss, and later ones count again.
func TestNewPathIgnoresTheMovesLoss(t *testing.T) {
	d := &downTrack{}
	d.reportLoss(64) // 25% before any restart counts
	if _, loss := d.readEstimator(time.Now()); loss != 0.25 {
		t.Fatalf("loss %v before the restart, want 0.25", loss)
	}
	d.newPath()
	if _, loss := d.readEstimator(time.Now()); loss != 0 {
		t.Fatalf("loss %v right after the restart, want 0", loss)
	}
	d.reportLoss(40) // the report covering the move
	if _, loss := d.readEstimator(time.Now()); loss != 0 {
		t.Fatalf("loss %v from the report covering the move, want 0", loss)
	}
	if _, loss := d.readEstimator(time.Now().Add(pathCalm)); loss != 0 {
		t.Fatalf("loss %v once calm: the ignored report must not come back", loss)
	}
	d.calmUntil.Store(0) // the calm is over
	d.reportLoss(64)
	if _, loss := d.readEstimator(time.Now()); loss != 0.25 {
		t.Fatalf("loss %v after the calm, want 0.25", loss)
	}
}
