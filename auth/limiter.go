package auth

import (
	"context"
	"net"
	"sync"
	"time"
)

// Limiter slows down guessing: each failed authentication from an address
// makes the answer to its next failure wait longer (Base, doubling up to
// Max). An address that stays quiet for Forget is forgotten; a success
// does not reset the count, so valid tokens cannot launder guesses.
type Limiter struct {
	// Free is the number of failures answered without delay (typos).
	Free int
	// Base is the delay after the first failure beyond Free.
	Base time.Duration
	// Max caps the delay.
	Max time.Duration
	// Forget is how long an address must stay quiet to start over.
	Forget time.Duration
	// MaxAddrs bounds the memory used; beyond it the oldest are dropped.
	MaxAddrs int

	now func() time.Time

	mu    sync.Mutex
	addrs map[string]*failures
}

type failures struct {
	n    int
	last time.Time
}

// NewLimiter returns a Limiter with the defaults: 3 free failures, then
// 250 ms doubling up to 10 s, forgotten after 10 quiet minutes, 100000
// addresses at most.
func NewLimiter() *Limiter {
	return &Limiter{Free: 3, Base: 250 * time.Millisecond, Max: 10 * time.Second, Forget: 10 * time.Minute, MaxAddrs: 100000}
}

func (l *Limiter) clock() time.Time {
	if l.now != nil {
		return l.now()
	}
	return time.Now()
}

// Fail records a failure from addr (an IP, or host:port whose port is
// dropped) and returns how long to wait before answering it.
func (l *Limiter) Fail(addr string) time.Duration {
	addr = hostOf(addr)
	now := l.clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.addrs == nil {
		l.addrs = map[string]*failures{}
	}
	f := l.addrs[addr]
	if f == nil || now.Sub(f.last) > l.Forget {
		if f == nil && l.MaxAddrs > 0 && len(l.addrs) >= l.MaxAddrs {
			l.prune(now)
		}
		f = &failures{}
		l.addrs[addr] = f
	}
	f.n++
	f.last = now
	return l.delay(f.n)
}

func (l *Limiter) delay(n int) time.Duration {
	n -= l.Free
	if n <= 0 {
		return 0
	}
	d := l.Base
	for i := 1; i < n && d < l.Max; i++ {
		d *= 2
	}
	return min(d, l.Max)
}

// prune drops forgotten addresses, and if that is not enough, the half
// that failed longest ago. Called with mu held.
func (l *Limiter) prune(now time.Time) {
	for a, f := range l.addrs {
		if now.Sub(f.last) > l.Forget {
			delete(l.addrs, a)
		}
	}
	if len(l.addrs) < l.MaxAddrs {
		return
	}
	var sum time.Duration
	for _, f := range l.addrs {
		sum += now.Sub(f.last)
	}
	mean := sum / time.Duration(len(l.addrs))
	for a, f := range l.addrs {
		if now.Sub(f.last) >= mean {
			delete(l.addrs, a)
		}
	}
}

// Failures returns the failures counted for addr.
func (l *Limiter) Failures(addr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.addrs[hostOf(addr)]; f != nil && l.clock().Sub(f.last) <= l.Forget {
		return f.n
	}
	return 0
}

// Wait records a failure from addr and sleeps its delay, or until ctx is
// done.
func (l *Limiter) Wait(ctx context.Context, addr string) {
	d := l.Fail(addr)
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
