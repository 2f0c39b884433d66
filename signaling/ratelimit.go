package signaling

import (
	"net"
	"sync"
	"time"
)

// AddressRate counts events (joins, media sessions) per remote IP address
// over a sliding minute and refuses those beyond its limit. It is safe for
// concurrent use.
type AddressRate struct {
	perMinute int
	mu        sync.Mutex
	seen      map[string][]time.Time // recent events per IP, oldest first
}

// NewAddressRate allows perMinute events per IP address per minute.
func NewAddressRate(perMinute int) *AddressRate {
	return &AddressRate{perMinute: perMinute, seen: map[string][]time.Time{}}
}

// PerMinute is the limit.
func (a *AddressRate) PerMinute() int { return a.perMinute }

// Allow counts an event from remote ("host:port" or an IP) at now and
// reports whether it is within the limit; a refused event is not counted.
func (a *AddressRate) Allow(remote string, now time.Time) bool {
	ip := remote
	if h, _, err := net.SplitHostPort(remote); err == nil {
		ip = h
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.seen) > 10000 { // forget idle addresses
		for k, ts := range a.seen {
			if len(ts) == 0 || now.Sub(ts[len(ts)-1]) > time.Minute {
				delete(a.seen, k)
			}
		}
	}
	recent := a.seen[ip]
	i := 0
	for i < len(recent) && now.Sub(recent[i]) > time.Minute {
		i++
	}
	recent = recent[i:]
	if len(recent) >= a.perMinute {
		a.seen[ip] = recent
		return false
	}
	a.seen[ip] = append(recent, now)
	return true
}
