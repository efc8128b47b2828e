package httpapi_test

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// takeOverAll makes newEnv serve every API with Options.TakeOver (and
// the hub's returned connections): TestMain runs the tests a second time
// so, for the answers to be the same whether net/http or the lean loop
// serves a publish.
var takeOverAll bool

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && flag.Lookup("test.bench").Value.String() == "" &&
		flag.Lookup("test.fuzz").Value.String() == "" {
		fmt.Println("httpapi: the tests again, each API taking its publishers' connections over (Options.TakeOver)")
		takeOverAll = true
		t0 := takes.Load()
		code = m.Run()
		if code == 0 && takes.Load() == t0 && flag.Lookup("test.run").Value.String() == "" {
			fmt.Fprintln(os.Stderr, "httpapi: no connection was taken over in the second run")
			code = 1
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
