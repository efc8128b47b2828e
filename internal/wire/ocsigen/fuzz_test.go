package ocsigen_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/halleyhq/halley/internal/wire/ocsigen"
)

func FuzzDecodeRegistration(f *testing.F) {
	for _, name := range registrationCases(f) {
		f.Add(readFile(f, filepath.Join("testdata", name, "request.body")))
	}
	for _, s := range []string{"registration=%", "registration=a%2", "&=&", "registration&registration=+", "registration=%0a%0A\n\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ids, err := ocsigen.DecodeRegistration(body)
		if err != nil {
			if !errors.Is(err, ocsigen.ErrBadRegistration) {
				t.Fatalf("error %v does not wrap ErrBadRegistration", err)
			}
			if ids != nil {
				t.Fatalf("ids %q returned with error", ids)
			}
			return
		}
		if len(ids) == 0 {
			t.Fatal("no ids and no error")
		}
		seen := make(map[string]bool, len(ids))
		for _, id := range ids {
			if id == "" || strings.Contains(id, "\n") || seen[id] {
				t.Fatalf("bad id %q in %q", id, ids)
			}
			seen[id] = true
		}
		again, err := ocsigen.DecodeRegistration(ocsigen.EncodeRegistration(ids...))
		if err != nil {
			t.Fatalf("round trip of %q: %v", ids, err)
		}
		if !slices.Equal(again, ids) {
			t.Fatalf("round trip = %q, want %q", again, ids)
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", "hello world", "a:b\nc", "+%25", ocsigen.Ended, "\x00\xff", "é"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		line := ocsigen.AppendLine(nil, "id", v)
		if bytes.ContainsAny(line[len("id:"):], ":\n") {
			t.Fatalf("escaped value %q holds ':' or LF", line)
		}
		lines, err := ocsigen.ParseResponse(line)
		if err != nil {
			t.Fatalf("ParseResponse(%q): %v", line, err)
		}
		if len(lines) != 1 || lines[0].ID != "id" {
			t.Fatalf("ParseResponse(%q) = %+v", line, lines)
		}
		// A value spelled ENDED_CHANNEL escapes to itself: the original
		// protocol cannot tell it from an ended channel.
		if string(v) == ocsigen.Ended {
			if !lines[0].Ended {
				t.Fatalf("ParseResponse(%q) = %+v, want Ended", line, lines)
			}
			return
		}
		if lines[0].Ended || !bytes.Equal(lines[0].Value, v) {
			t.Fatalf("ParseResponse(%q) = %+v, want value %q", line, lines, v)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	f.Add(readFile(f, "testdata/response/multi.txt"))
	for _, s := range []string{"", "\n", "a", "a:%", "a:ENDED_CHANNEL:b:v", "::\n:"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		lines, err := ocsigen.ParseResponse(body)
		if err != nil {
			return
		}
		for _, l := range lines {
			if strings.Contains(l.ID, "\n") || l.Ended == (l.Value != nil) {
				t.Fatalf("ParseResponse(%q) = bad line %+v", body, l)
			}
		}
	})
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"comet:activate", "comet:deactivate", "comet:set_timeout 2.5 KILL", "comet:set_timeout 1e-12", "other:activate"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd, err := ocsigen.ParseCommand(line)
		if err != nil {
			if !errors.Is(err, ocsigen.ErrUnknownCommand) {
				t.Fatalf("error %v does not wrap ErrUnknownCommand", err)
			}
			return
		}
		switch cmd.Op {
		case "activate", "deactivate":
			if cmd.Timeout != 0 || cmd.Kill {
				t.Fatalf("ParseCommand(%q) = %+v", line, cmd)
			}
		case "set_timeout":
			if cmd.Timeout <= 0 {
				t.Fatalf("ParseCommand(%q) = %+v", line, cmd)
			}
		default:
			t.Fatalf("ParseCommand(%q) = %+v", line, cmd)
		}
	})
}
