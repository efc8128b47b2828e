//go:build race

package halley

// raceEnabled: the race detector makes sync.Pool drop items at random, so
// counts of allocations through pools do not hold.
const raceEnabled = true
