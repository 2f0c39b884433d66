package mcu

import (
	"testing"
	"time"
)

func TestRungChooser(t *testing.T) {
	need := []float64{2_000_000, 600_000, 150_000}
	t0 := time.Unix(1000, 0)
	var c rungChooser
	if got := c.choose(t0, need, 0, 0, -1, 0); got != 0 {
		t.Fatalf("no estimate: rung %d, want the top", got)
	}
	if got := c.choose(t0, need, 2_500_000, 0, -1, 0); got != 0 {
		t.Fatalf("2.5 Mb/s: rung %d, want 0", got)
	}
	// The link falls to 700 kb/s: down to 360p at once.
	if got := c.choose(t0.Add(time.Second), need, 720_000, 0.01, -1, 0); got != 1 {
		t.Fatalf("720 kb/s: rung %d, want 1", got)
	}
	// Heavy loss pushes down one more even when the estimate fits.
	if got := c.choose(t0.Add(2*time.Second), need, 700_000, 0.2, -1, 0); got != 2 {
		t.Fatalf("20%% loss: rung %d, want 2", got)
	}
	// Up one rung only after the estimate held for upHold, with probing on.
	tu := t0.Add(10 * time.Second)
	if got := c.choose(tu, need, 800_000, 0, -1, 0); got != 2 || !c.probing {
		t.Fatalf("first fit: rung %d probing %v, want 2 and probing", got, c.probing)
	}
	if got := c.choose(tu.Add(upHold/2), need, 800_000, 0, -1, 0); got != 2 {
		t.Fatalf("half the hold: rung %d, want 2", got)
	}
	if got := c.choose(tu.Add(upHold), need, 800_000, 0, -1, 0); got != 1 {
		t.Fatalf("after the hold: rung %d, want 1", got)
	}
	// A dip restarts the hold.
	tu = tu.Add(upHold)
	c.choose(tu.Add(time.Second), need, 2_400_000, 0, -1, 0)
	c.choose(tu.Add(2*time.Second), need, 700_000, 0, -1, 0)
	if got := c.choose(tu.Add(4500*time.Millisecond), need, 2_400_000, 0, -1, 0); got != 1 {
		t.Fatalf("hold restarted by a dip: rung %d, want 1", got)
	}
	if got := c.choose(tu.Add(8*time.Second), need, 2_400_000, 0, -1, 0); got != 0 || c.probing {
		t.Fatalf("back on top: rung %d probing %v", got, c.probing)
	}
	// Operators: a pin wins, a ceiling caps.
	if got := c.choose(tu.Add(9*time.Second), need, 2_400_000, 0, 2, 0); got != 2 {
		t.Fatalf("pinned: rung %d, want 2", got)
	}
	var capped rungChooser
	if got := capped.choose(tu, need, 9_000_000, 0, -1, 1); got != 1 {
		t.Fatalf("capped: rung %d, want 1", got)
	}
}
