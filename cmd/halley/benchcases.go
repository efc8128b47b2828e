package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/halleyhq/halley/internal/bench"
)

// runBenchCases runs the standard cases of "halley bench --cases" and
// prints their table (or, quiet, one JSON line per case) on stdout.
func runBenchCases(ctx context.Context, cfg bench.Config, only []string, scale float64, quiet bool, stdout, stderr io.Writer) int {
	cases, err := bench.SelectCases(only)
	if err != nil {
		fmt.Fprintf(stderr, "halley bench: %s\n", strings.TrimPrefix(err.Error(), "bench: "))
		return 2
	}
	progress := stderr
	if quiet {
		progress = io.Discard
	}
	results, err := bench.RunCases(ctx, cfg, cases, scale, &lockedWriter{w: progress})
	code := 0
	if err != nil {
		fmt.Fprintf(stderr, "halley bench: %s\n", strings.TrimPrefix(describe(err), "bench: "))
		code = 1
		if errors.Is(err, bench.ErrConfig) {
			code = 2
		}
	}
	for _, r := range results {
		if !r.OK() && code == 0 {
			code = 1
		}
	}
	if quiet {
		for i := range results {
			line, err := json.Marshal(&results[i])
			if err != nil {
				fmt.Fprintf(stderr, "halley bench: %v\n", err)
				return 1
			}
			if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
				fmt.Fprintf(stderr, "halley bench: %v\n", err)
				return 1
			}
		}
		return code
	}
	if len(results) > 0 {
		if err := bench.WriteTable(stdout, results); err != nil {
			fmt.Fprintf(stderr, "halley bench: %v\n", err)
			return 1
		}
	}
	return code
}

// urlList is a repeatable flag of URLs, each value one URL or several
// separated by commas.
type urlList []string

func (l *urlList) String() string { return strings.Join(*l, ",") }

func (l *urlList) Set(s string) error {
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if _, err := url.Parse(item); err != nil {
			return err
		}
		*l = append(*l, item)
	}
	return nil
}

// pidList is a repeatable flag of process ids, each value one pid or
// several separated by commas.
type pidList []int

func (l *pidList) String() string {
	var s []string
	for _, p := range *l {
		s = append(s, strconv.Itoa(p))
	}
	return strings.Join(s, ",")
}

func (l *pidList) Set(s string) error {
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p, err := strconv.Atoi(item)
		if err != nil || p <= 0 {
			return fmt.Errorf("%q is not a process id", item)
		}
		*l = append(*l, p)
	}
	return nil
}
