//go:build !race

package halley

const raceEnabled = false
