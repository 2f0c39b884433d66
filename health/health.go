// Package health answers the probes of load balancers and orchestrators:
// /healthz (the process is alive) and /readyz (it should get new work: not
// draining, recordings directory writable, free disk above the guard's
// threshold). It also holds the draining flag the rest of the server reads.
package health

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync/atomic"

	"github.com/mcu-dev/mcu/disk"
	"github.com/mcu-dev/mcu/metrics"
)

// ErrDraining refuses new joins and recordings while the server drains.
var ErrDraining = errors.New("server is shutting down and accepts no new participants or recordings; join again to reach another node")

// Options configures a Health.
type Options struct {
	// RecordingsDir must be writable; empty skips the check.
	RecordingsDir string
	// Guard checks free space; nil skips the check.
	Guard *disk.Guard
	// Metrics gets the draining flag and free space; may be nil.
	Metrics *metrics.Metrics
}

// Health holds the server's readiness.
type Health struct {
	o        Options
	draining atomic.Bool
}

// New returns a ready Health.
func New(o Options) *Health { return &Health{o: o} }

// Drain marks the server as draining: Ready fails from now on.
func (h *Health) Drain() {
	if h == nil {
		return
	}
	h.draining.Store(true)
	h.o.Metrics.SetDraining(true)
}

// Draining reports whether Drain was called.
func (h *Health) Draining() bool { return h != nil && h.draining.Load() }

// Ready returns why the server should get no new work, or nil.
func (h *Health) Ready() []string {
	var reasons []string
	if h.Draining() {
		reasons = append(reasons, "draining")
	}
	if h == nil {
		return reasons
	}
	if h.o.RecordingsDir != "" {
		if err := disk.Writable(h.o.RecordingsDir); err != nil {
			reasons = append(reasons, err.Error())
		}
	}
	if g := h.o.Guard; g != nil {
		if g.FreeFunc == nil {
			if free, err := disk.Free(g.Dir); err == nil {
				h.o.Metrics.SetDiskFree(free)
			}
		}
		if err := g.Check(); err != nil {
			reasons = append(reasons, err.Error())
		}
	}
	return reasons
}

// Healthz answers 200 while the process serves HTTP at all.
func (h *Health) Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
}

// Readyz answers 200 when Ready has no reason against, else 503 with the
// reasons.
func (h *Health) Readyz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if reasons := h.Ready(); len(reasons) > 0 {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "reasons": reasons})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
