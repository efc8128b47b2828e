package bench_test

import (
	"errors"
	"os"
	"testing"

	"github.com/halleyhq/halley/internal/bench"
)

// TestFloor writes to a sink process (this test binary, see TestMain):
// every write is counted, with this process's CPU per write.
func TestFloor(t *testing.T) {
	t.Setenv(sinkEnv, "1")
	res, err := bench.Floor(t.Context(), bench.FloorConfig{Connections: 5, Messages: 40, Sink: []string{os.Args[0]}})
	os.Unsetenv(sinkEnv)
	if err != nil {
		t.Fatal(err)
	}
	if res.Connections != 5 || res.Writes != 200 || res.WritesPerS <= 0 || res.CPUUSPerWrite < 0 {
		t.Fatalf("floor %+v: want 200 writes to 5 connections", res)
	}
	if _, err := bench.Floor(t.Context(), bench.FloorConfig{Messages: 1, Sink: []string{os.Args[0]}}); !errors.Is(err, bench.ErrConfig) {
		t.Fatalf("no connections: %v, want ErrConfig", err)
	}
}
