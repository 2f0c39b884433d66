package health

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcu-dev/mcu/disk"
)

func get(t *testing.T, h http.Handler) (int, map[string]any) {
	t.Helper()
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/", nil))
	var body map[string]any
	if err := json.Unmarshal(rr.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", rr.Body.String(), err)
	}
	return rr.Code, body
}

func TestReadyz(t *testing.T) {
	dir := t.TempDir()
	free := uint64(1 << 30)
	guard := &disk.Guard{Dir: dir, MinFree: 512 << 20, FreeFunc: func(string) (uint64, error) { return free, nil }}
	h := New(Options{RecordingsDir: dir, Guard: guard})
	if code, body := get(t, h.Readyz()); code != http.StatusOK || body["status"] != "ready" {
		t.Errorf("ready: %d %v", code, body)
	}
	free = 10 << 20
	if code, body := get(t, h.Readyz()); code != http.StatusServiceUnavailable || !strings.Contains(strings.Join(reasons(body), ";"), "disk full: 10.0 MiB free") {
		t.Errorf("low disk: %d %v", code, body)
	}
	free = 1 << 30
	h.Drain()
	if code, body := get(t, h.Readyz()); code != http.StatusServiceUnavailable || reasons(body)[0] != "draining" {
		t.Errorf("draining: %d %v", code, body)
	}
	if code, body := get(t, h.Healthz()); code != http.StatusOK || body["status"] != "ok" {
		t.Errorf("healthz while draining: %d %v", code, body)
	}

	missing := New(Options{RecordingsDir: filepath.Join(dir, "gone")})
	if code, body := get(t, missing.Readyz()); code != http.StatusServiceUnavailable || !strings.Contains(reasons(body)[0], "is not writable") {
		t.Errorf("unwritable dir: %d %v", code, body)
	}
	var nilHealth *Health
	if nilHealth.Draining() || len(nilHealth.Ready()) != 0 {
		t.Error("nil Health not ready")
	}
}

func reasons(body map[string]any) []string {
	var out []string
	list, _ := body["reasons"].([]any)
	for _, r := range list {
		out = append(out, r.(string))
	}
	return out
}
