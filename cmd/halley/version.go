package main

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
)

// version describes the build: the module's version (a tag, or "(devel)"
// for a build from a clone), and the commit and its time when the build
// had them (go build in a git clone records them).
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "halley (no build information)"
	}
	v := "halley " + bi.Main.Version
	var rev, at, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", modified"
			}
		}
	}
	if rev != "" {
		v += fmt.Sprintf(" (commit %s, %s%s)", rev, at, dirty)
	}
	return v + " " + bi.GoVersion
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) int {
	fmt.Fprintln(stdout, version())
	return 0
}
