package auth

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestLimiterGrowsAndForgets(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLimiter()
	l.now = func() time.Time { return now }
	want := []time.Duration{0, 0, 0, 250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		if d := l.Fail("10.0.0.1:5555"); d != w {
			t.Fatalf("failure %d: delay %v, want %v", i+1, d, w)
		}
		now = now.Add(time.Second)
	}
	if d := l.Fail("10.0.0.2:1"); d != 0 {
		t.Fatalf("another address pays for the first: %v", d)
	}
	if n := l.Failures("10.0.0.1"); n != len(want) {
		t.Fatalf("failures counted per host, not per port: %d", n)
	}
	now = now.Add(l.Forget + time.Second)
	if n := l.Failures("10.0.0.1"); n != 0 {
		t.Fatalf("not forgotten: %d", n)
	}
	if d := l.Fail("10.0.0.1:9"); d != 0 {
		t.Fatalf("after a quiet period: %v", d)
	}
}

func TestLimiterBoundsMemory(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLimiter()
	l.MaxAddrs = 100
	l.now = func() time.Time { return now }
	for i := range 1000 {
		l.Fail(fmt.Sprintf("10.0.%d.%d", i/256, i%256))
		now = now.Add(time.Millisecond)
	}
	if n := len(l.addrs); n > l.MaxAddrs {
		t.Fatalf("%d addresses kept, max %d", n, l.MaxAddrs)
	}
}

func TestLimiterWaitHonoursContext(t *testing.T) {
	l := &Limiter{Base: time.Hour, Max: time.Hour, Forget: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan struct{})
	go func() { l.Wait(ctx, "1.2.3.4"); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Wait ignored a cancelled context")
	}
}
