package main

import (
	"flag"
	"fmt"
	"strings"
)

// envPrefix starts the environment variable of every flag.
const envPrefix = "HALLEY_"

// envName returns the environment variable that sets the flag name:
// HALLEY_ and the name in upper case, dashes as underscores
// (--api-key: HALLEY_API_KEY).
func envName(name string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// parseInterleaved parses args into fs, taking flags wherever they come:
// "halley pub news hello --server URL" works as if the flag came first.
// A "--" ends the flags: what follows is positional even if it starts
// with a dash. Afterwards fs.Args() holds the positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		i := 0
		for i < len(rest) && (rest[i] == "-" || !strings.HasPrefix(rest[i], "-")) {
			i++
		}
		pos = append(pos, rest[:i]...)
		if i == len(rest) {
			break
		}
		args = rest[i:]
	}
	// Parsing "--" alone leaves the flags as they are and the positional
	// arguments in fs.Args.
	return fs.Parse(append([]string{"--"}, pos...))
}

// applyEnv sets every flag of fs not in given (the flags the command line
// set) from its environment variable (envName), when that is set and not
// empty. An invalid value is an error naming the variable.
func applyEnv(fs *flag.FlagSet, given map[string]bool, lookupEnv func(string) (string, bool)) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] {
			return
		}
		name := envName(f.Name)
		v, ok := lookupEnv(name)
		if !ok || v == "" {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = fmt.Errorf("$%s: invalid value %q: %v", name, v, serr)
		}
	})
	return err
}

// setFlags returns the names of the flags of fs that were set.
func setFlags(fs *flag.FlagSet) map[string]bool {
	given := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return given
}

// parseCommand parses a subcommand's args into fs, flags anywhere, then
// sets the flags the command line did not from their HALLEY_ variables.
func parseCommand(fs *flag.FlagSet, args []string, lookupEnv func(string) (string, bool)) error {
	if err := parseInterleaved(fs, args); err != nil {
		return err
	}
	if err := applyEnv(fs, setFlags(fs), lookupEnv); err != nil {
		fmt.Fprintf(fs.Output(), "halley %s: %v\n", fs.Name(), err)
		return errFlags
	}
	return nil
}
