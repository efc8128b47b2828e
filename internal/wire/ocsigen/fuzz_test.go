package ocsigen_test

import (
	"bytes"
	"errors"
	"net/url"
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
	for _, s := range []string{
		"registration=%", "registration=a%2", "&=&", "registration&registration=+", "registration=%0a%0A\n\n",
		"registration=a%0Ab%0Ac", "registration=a&registration=b%0Aa&registration=c",
		"registration=a%0Ab%0Ac%0A%zz", "registration=a%0Ab%zz", "x=%G0&registration=a", "registration=a\nb\nc\nd&x=%",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkRegistrationMax(t, body)
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

// decodeRegistrationRef is DecodeRegistration as it was before
// DecodeRegistrationMax, whole fields at a time: the reference the
// streaming decoder must agree with. url.QueryUnescape decodes as the
// original server's form decoder does.
func decodeRegistrationRef(body []byte) ([]string, error) {
	var ids []string
	seen := map[string]bool{}
	for field := range strings.SplitSeq(string(body), "&") {
		if field == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(field, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return nil, err
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return nil, err
		}
		if name != "registration" {
			continue
		}
		for piece := range strings.SplitSeq(value, "\n") {
			if piece != "" && !seen[piece] {
				seen[piece] = true
				ids = append(ids, piece)
			}
		}
	}
	if len(ids) == 0 {
		return nil, errors.New("no channel id")
	}
	return ids, nil
}

// namesMoreThan reports whether a prefix of body is a valid registration of
// more than max distinct ids: what DecodeRegistrationMax must have seen to
// refuse a body that is malformed further on.
func namesMoreThan(body []byte, max int) bool {
	for k := len(body); k > 0; k-- {
		if ids, err := decodeRegistrationRef(body[:k]); err == nil && len(ids) > max {
			return true
		}
	}
	return false
}

// checkRegistrationMax checks DecodeRegistration against the reference
// decoder, and DecodeRegistrationMax with limits around the number of ids.
func checkRegistrationMax(t *testing.T, body []byte) {
	t.Helper()
	ref, refErr := decodeRegistrationRef(body)
	ids, err := ocsigen.DecodeRegistration(body)
	if (err != nil) != (refErr != nil) || !slices.Equal(ids, ref) {
		t.Fatalf("DecodeRegistration(%q) = %q, %v; the reference says %q, %v", body, ids, err, ref, refErr)
	}
	for _, max := range []int{-1, 0, 1, 2, 3, len(ref) - 1, len(ref), len(ref) + 1} {
		if max < -1 {
			continue
		}
		got, err := ocsigen.DecodeRegistrationMax(body, max)
		tooMany := errors.Is(err, ocsigen.ErrTooManyChannels)
		switch {
		case err == nil:
			if refErr != nil || !slices.Equal(got, ref) || max >= 0 && len(got) > max {
				t.Fatalf("DecodeRegistrationMax(%q, %d) = %q; the reference says %q, %v", body, max, got, ref, refErr)
			}
		case got != nil:
			t.Fatalf("DecodeRegistrationMax(%q, %d): ids %q returned with %v", body, max, got, err)
		case tooMany == errors.Is(err, ocsigen.ErrBadRegistration):
			t.Fatalf("DecodeRegistrationMax(%q, %d): %v; want ErrTooManyChannels or ErrBadRegistration", body, max, err)
		case refErr == nil && (max < 0 || len(ref) <= max):
			t.Fatalf("DecodeRegistrationMax(%q, %d): %v; the reference accepts %q", body, max, err, ref)
		case refErr == nil && !tooMany:
			t.Fatalf("DecodeRegistrationMax(%q, %d): %v; want ErrTooManyChannels for %d ids", body, max, err, len(ref))
		case refErr != nil && tooMany && (max < 0 || len(body) <= 4096 && !namesMoreThan(body, max)):
			t.Fatalf("DecodeRegistrationMax(%q, %d): %v; no prefix of the body names more than %d ids", body, max, err, max)
		}
	}
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
