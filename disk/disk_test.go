package disk

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcu-dev/mcu/disk/disktest"
)

// TestTmpfsFills fills a 4 MiB tmpfs: free space falls, the guard trips
// with an error naming the disk as full, and the write that runs out of
// space is recognised as a full disk.
func TestTmpfsFills(t *testing.T) {
	dir := disktest.MountTmpfs(t, 4<<20)
	free, err := Free(dir)
	if err != nil || free < 3<<20 || free > 4<<20 {
		t.Fatalf("free space of a fresh 4 MiB tmpfs: %d, %v", free, err)
	}
	g := &Guard{Dir: dir, MinFree: 1 << 20}
	if err := g.Check(); err != nil {
		t.Fatalf("guard on an empty disk: %v", err)
	}
	if err := Writable(dir); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 3<<20+512<<10)); err != nil {
		t.Fatal(err)
	}
	err = g.Check()
	if !errors.Is(err, ErrFull) || !IsFull(err) || !strings.Contains(err.Error(), "disk full:") || !strings.Contains(err.Error(), "below the 1.0 MiB minimum") {
		t.Errorf("guard with 0.5 MiB left: %v", err)
	}
	_, err = f.Write(make([]byte, 1<<20))
	if !IsFull(err) {
		t.Errorf("writing past the end: %v; want ENOSPC", err)
	}
}

func TestGuard(t *testing.T) {
	free := uint64(600 << 20)
	g := &Guard{Dir: "/rec", MinFree: 512 << 20, FreeFunc: func(string) (uint64, error) { return free, nil }}
	if err := g.Check(); err != nil {
		t.Fatal(err)
	}
	free = 100 << 20
	if err := g.Check(); !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), "100.0 MiB free in /rec, below the 512.0 MiB minimum") {
		t.Errorf("Check: %v", err)
	}
	var off *Guard
	if off.Check() != nil || (&Guard{Dir: "/nonexistent"}).Check() != nil {
		t.Error("a nil or zero guard checks")
	}
	if (&Guard{Dir: "/nonexistent/x", MinFree: 1}).Check() == nil {
		t.Error("statfs of a missing dir passed")
	}
	if !IsFull(fmt.Errorf("write: %w", &fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC})) || IsFull(errors.New("other")) || IsFull(nil) {
		t.Error("IsFull")
	}
	// What FFmpeg's av_strerror says for AVERROR(ENOSPC), wrapped.
	if !IsFull(fmt.Errorf("transcode: writing x.webm: %w", errors.New("No space left on device"))) {
		t.Error("IsFull")
	}
}

type fakeStore struct {
	list    []Finished
	deleted []string
	fail    string
}

func (s *fakeStore) Finished() ([]Finished, error) { return s.list, nil }
func (s *fakeStore) Delete(id string) error {
	if id == s.fail {
		return errors.New("busy")
	}
	s.deleted = append(s.deleted, id)
	return nil
}

func TestSweep(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	s := &fakeStore{list: []Finished{
		{ID: "old", EndedAt: now.Add(-8 * day)},
		{ID: "recent", EndedAt: now.Add(-6 * day)},
		{ID: "unknown-end"},
		{ID: "old-busy", EndedAt: now.Add(-30 * day)},
	}, fail: "old-busy"}
	deleted, err := Sweep(s, 7*day, now)
	if !slices.Equal(deleted, []string{"old"}) || !slices.Equal(s.deleted, []string{"old"}) {
		t.Errorf("deleted %v", deleted)
	}
	if err == nil || !strings.Contains(err.Error(), "deleting recording old-busy: busy") {
		t.Errorf("error %v", err)
	}
}

func TestDirStore(t *testing.T) {
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "canary")
	for _, name := range []string{"a.webm", "b.mp4", "c.webm.part"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(outside, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-40 * 24 * time.Hour)
	for _, name := range []string{"a.webm", "c.webm.part"} {
		if err := os.Chtimes(filepath.Join(dir, name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	deleted, err := Sweep(DirStore{Dir: dir}, 30*24*time.Hour, time.Now())
	if err != nil || !slices.Equal(deleted, []string{"a.webm"}) {
		t.Errorf("deleted %v, %v", deleted, err)
	}
	for _, name := range []string{"b.mp4", "c.webm.part"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	rel, _ := filepath.Rel(dir, outside)
	if err := (DirStore{Dir: dir}).Delete(rel); err == nil {
		t.Errorf("Delete(%q) accepted", rel)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("canary outside the directory: %v", err)
	}
}
