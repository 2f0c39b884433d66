package load

import (
	"math"
	"sort"
)

// Summary describes a set of values.
type Summary struct {
	N      int     `json:"n"`
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	P95    float64 `json:"p95"`
	Max    float64 `json:"max"`
	Mean   float64 `json:"mean"`
}

// Summarize sorts v in place and describes it; an empty v gives zeros.
func Summarize(v []float64) Summary {
	if len(v) == 0 {
		return Summary{}
	}
	sort.Float64s(v)
	var sum float64
	for _, x := range v {
		sum += x
	}
	return Summary{N: len(v), Min: v[0], Median: Percentile(v, 50), P95: Percentile(v, 95), Max: v[len(v)-1], Mean: sum / float64(len(v))}
}

// Percentile returns the p-th percentile (0 to 100) of sorted values by the
// nearest-rank method: the smallest value with at least p% of the values at
// or below it. The median of an even count is the lower middle value.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}
