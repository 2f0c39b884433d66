package load

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	for _, tc := range []struct {
		v    []float64
		p    float64
		want float64
	}{
		{nil, 50, 0},
		{[]float64{7}, 50, 7},
		{[]float64{7}, 95, 7},
		{[]float64{1, 2, 3, 4}, 50, 2},
		{[]float64{1, 2, 3, 4, 5}, 50, 3},
		{[]float64{1, 2, 3, 4, 5}, 0, 1},
		{[]float64{1, 2, 3, 4, 5}, 100, 5},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, 95, 19},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21}, 95, 20},
	} {
		if got := Percentile(tc.v, tc.p); got != tc.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tc.v, tc.p, got, tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]float64{40, 10, 30, 20})
	want := Summary{N: 4, Min: 10, Median: 20, P95: 40, Max: 40, Mean: 25}
	if s != want {
		t.Errorf("Summarize = %+v, want %+v", s, want)
	}
	if s := Summarize(nil); s != (Summary{}) {
		t.Errorf("Summarize(nil) = %+v", s)
	}
}

func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		name string
		line string
		want time.Duration
		bad  bool
	}{
		{"plain", "1234 (mcu) S 1 1234 1234 0 -1 4194560 5000 0 0 0 250 75 0 0 20 0 12 0 900 1000000 2000 18446744073709551615\n", 3250 * time.Millisecond, false},
		{"name with spaces and parens", "99 (a b) (c)) R 1 99 99 0 -1 0 0 0 0 0 1 2 3 4 20 0 1 0 5 6 7\n", 30 * time.Millisecond, false},
		{"no name", "99 mcu R 1", 0, true},
		{"short", "99 (mcu) R 1 2 3", 0, true},
		{"not numbers", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 a b 0 0 20 0 1 0 5 6 7", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tc.line))
			if tc.bad {
				if err == nil {
					t.Fatalf("want an error, got %v", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestParseMachineStat(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	busy, total, err := parseMachineStat([]byte("cpu  100 10 50 800 20 5 5 10 30 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n"))
	if err != nil {
		t.Fatal(err)
	}
	if busy != 1800*time.Millisecond || total != 10*time.Second {
		t.Errorf("busy %v total %v, want 1.8s and 10s", busy, total)
	}
	if _, _, err := parseMachineStat([]byte("intr 1 2 3\n")); err == nil {
		t.Error("want an error for a file without a cpu line")
	}
}

func TestAPIBase(t *testing.T) {
	for in, want := range map[string]string{
		"ws://127.0.0.1:8080/ws":   "http://127.0.0.1:8080",
		"wss://example.org/ws?x=1": "https://example.org",
	} {
		if got, err := apiBase(in); err != nil || got != want {
			t.Errorf("apiBase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := apiBase("http://127.0.0.1/ws"); err == nil {
		t.Error("want an error for http://")
	}
}
