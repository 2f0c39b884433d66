// Package disk guards the recordings directory: free space (statfs), a
// threshold below which recordings must not start or continue, ENOSPC
// detection, and the retention sweep of old finished recordings.
package disk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ErrFull says the disk is full: free space under the guard's threshold,
// or a write that failed with ENOSPC.
var ErrFull = errors.New("disk full")

// Free returns the bytes available to this (unprivileged) process on the
// filesystem holding dir.
func Free(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("disk: statfs %s: %w", dir, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// Writable checks that a file can be created in dir.
func Writable(dir string) error {
	f, err := os.CreateTemp(dir, ".writable-*")
	if err != nil {
		return fmt.Errorf("disk: %s is not writable: %w", dir, err)
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}

// IsFull reports whether err means the disk is full: ErrFull or ENOSPC
// (EDQUOT too: a quota is a full disk for this process). FFmpeg reports
// errno values as its own error type carrying libc's message, hence the
// text check.
func IsFull(err error) bool {
	if err == nil {
		return false
	}
	return errors.Is(err, ErrFull) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) ||
		strings.Contains(strings.ToLower(err.Error()), syscall.ENOSPC.Error())
}

// Guard checks the free space under Dir against MinFree.
type Guard struct {
	Dir     string
	MinFree uint64 // bytes; 0 turns the guard off
	// FreeFunc replaces Free in tests; nil means Free.
	FreeFunc func(dir string) (uint64, error)
}

// Check returns an error wrapping ErrFull when free space is below MinFree,
// naming both; nil when there is room (or the guard is off).
func (g *Guard) Check() error {
	if g == nil || g.MinFree == 0 {
		return nil
	}
	free, err := g.free()
	if err != nil {
		return err
	}
	if free < g.MinFree {
		return fmt.Errorf("%w: %s free in %s, below the %s minimum (recordings.min_free)", ErrFull, bytesText(free), g.Dir, bytesText(g.MinFree))
	}
	return nil
}

func (g *Guard) free() (uint64, error) {
	if g.FreeFunc != nil {
		return g.FreeFunc(g.Dir)
	}
	return Free(g.Dir)
}

// Watch checks every interval until ctx ends and calls full with the error
// each time the space is below the threshold, so running recordings stop.
func (g *Guard) Watch(ctx context.Context, interval time.Duration, full func(error)) {
	if g == nil || g.MinFree == 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := g.Check(); IsFull(err) {
				full(err)
			}
		}
	}
}

func bytesText(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// Finished is a finished recording the retention sweep may delete.
type Finished struct {
	ID      string
	EndedAt time.Time
}

// Store is what the retention sweep needs from the recorder.
type Store interface {
	// Finished lists recordings that are no longer being written.
	Finished() ([]Finished, error)
	// Delete removes a recording and its files.
	Delete(id string) error
}

// Sweep deletes the finished recordings of s that ended more than maxAge
// before now and returns their ids. It goes on past a failed delete and
// returns the errors joined.
func Sweep(s Store, maxAge time.Duration, now time.Time) ([]string, error) {
	list, err := s.Finished()
	if err != nil {
		return nil, fmt.Errorf("disk: listing recordings: %w", err)
	}
	var deleted []string
	var errs []error
	for _, f := range list {
		if f.EndedAt.IsZero() || now.Sub(f.EndedAt) <= maxAge {
			continue
		}
		if err := s.Delete(f.ID); err != nil {
			errs = append(errs, fmt.Errorf("disk: deleting recording %s: %w", f.ID, err))
			continue
		}
		deleted = append(deleted, f.ID)
	}
	return deleted, errors.Join(errs...)
}

// RunRetention sweeps at once and then every interval until ctx ends;
// report receives each sweep's result (for logging).
func RunRetention(ctx context.Context, s Store, maxAge, interval time.Duration, report func(deleted []string, err error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		report(Sweep(s, maxAge, time.Now()))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// DirStore is a Store over plain files in a directory: every regular file
// not ending in .part is a finished recording whose end is its
// modification time. It suits directories written by other tools; the
// recorder has its own Store with real states.
type DirStore struct{ Dir string }

// Finished lists the directory.
func (d DirStore) Finished() ([]Finished, error) {
	entries, err := os.ReadDir(d.Dir)
	if err != nil {
		return nil, err
	}
	var out []Finished
	for _, e := range entries {
		if !e.Type().IsRegular() || filepath.Ext(e.Name()) == ".part" {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, Finished{ID: e.Name(), EndedAt: info.ModTime()})
	}
	return out, nil
}

// Delete removes one file of the directory; ids with a path are refused.
func (d DirStore) Delete(id string) error {
	if id != filepath.Base(id) || id == "." || id == ".." {
		return fmt.Errorf("disk: bad recording id %q", id)
	}
	return os.Remove(filepath.Join(d.Dir, id))
}
