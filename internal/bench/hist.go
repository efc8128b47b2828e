package bench

import (
	"math/bits"
	"sync/atomic"
)

// histSubBits sets the histogram's precision: 2^histSubBits buckets per
// power of two, so a bucket is at most 1/128 (0.8%) of its values wide.
const histSubBits = 7

const (
	histSub = 1 << histSubBits
	// histLen covers every int64 value.
	histLen = (64-histSubBits)*histSub + histSub
)

// hist is a log-bucketed histogram of non-negative durations in
// nanoseconds, in the manner of HdrHistogram: values below 2·histSub are
// exact, larger ones fall in buckets 0.8% wide. Its memory is fixed
// (~60 KB) whatever the number of values. Record is safe for concurrent
// use; the readers are meant for after the recording.
type hist struct {
	counts [histLen]atomic.Uint64
}

// index returns the bucket of v ≥ 0.
func histIndex(v int64) int {
	u := uint64(v)
	if u < 2*histSub {
		return int(u)
	}
	shift := bits.Len64(u) - histSubBits - 1 // u>>shift is in [histSub, 2·histSub)
	return shift*histSub + int(u>>shift)
}

// histValue returns the middle of bucket i.
func histValue(i int) int64 {
	if i < 2*histSub {
		return int64(i)
	}
	shift := i/histSub - 1
	low := uint64(i-shift*histSub) << shift
	return int64(low + (uint64(1)<<shift)/2)
}

// Record adds one value; negative values count as 0.
func (h *hist) Record(v int64) {
	h.counts[histIndex(max(v, 0))].Add(1)
}

// Count returns the number of values recorded.
func (h *hist) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// Quantiles returns the values at the quantiles qs (each in [0, 1]),
// within a bucket's width; nil when nothing was recorded.
func (h *hist) Quantiles(qs ...float64) []int64 {
	n := h.Count()
	if n == 0 {
		return nil
	}
	out := make([]int64, len(qs))
	for k, q := range qs {
		// The rank-th smallest value, rank in [1, n].
		rank := uint64(q*float64(n) + 0.999999)
		rank = min(max(rank, 1), n)
		var seen uint64
		for i := range h.counts {
			seen += h.counts[i].Load()
			if seen >= rank {
				out[k] = histValue(i)
				break
			}
		}
	}
	return out
}
