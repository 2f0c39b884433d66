// Package disktest gives tests a small filesystem of their own to fill.
package disktest

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// MountTmpfs mounts a tmpfs of size bytes on a new temporary directory and
// unmounts it when the test ends. It needs root: otherwise the test is
// skipped with a message. With CI=true on a root machine a failed mount
// fails the test.
func MountTmpfs(t testing.TB, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root; run the disk-full tests as root")
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("mount tmpfs on %s: %v: %s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}
