package bench_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/halleyhq/halley/internal/bench"
)

// sinkEnv makes the test binary the floor's sink (TestFloor).
const sinkEnv = "HALLEY_BENCH_TEST_SINK"

func TestMain(m *testing.M) {
	if os.Getenv(sinkEnv) == "1" {
		if err := bench.ServeSink(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}
