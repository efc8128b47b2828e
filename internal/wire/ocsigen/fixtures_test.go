package ocsigen_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/halleyhq/halley/internal/wire/ocsigen"
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// registrationCases lists the testdata/<case>/ directories holding a
// request.body fixture.
func registrationCases(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	var cases []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join("testdata", e.Name(), "request.body")); err == nil {
			cases = append(cases, e.Name())
		}
	}
	if len(cases) == 0 {
		t.Fatal("no testdata/<case>/request.body fixture")
	}
	return cases
}

// TestRegistrationFixtures checks every testdata/<case>/request.body against
// ids.txt (expected ids, one per line) or, when error.txt exists instead,
// expects ErrBadRegistration.
func TestRegistrationFixtures(t *testing.T) {
	for _, name := range registrationCases(t) {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name)
			body := readFile(t, filepath.Join(dir, "request.body"))
			got, err := ocsigen.DecodeRegistration(body)
			if _, statErr := os.Stat(filepath.Join(dir, "error.txt")); statErr == nil {
				if !errors.Is(err, ocsigen.ErrBadRegistration) {
					t.Fatalf("DecodeRegistration(%q) = %q, %v; want ErrBadRegistration", body, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeRegistration(%q): %v", body, err)
			}
			want := strings.Split(strings.TrimSuffix(string(readFile(t, filepath.Join(dir, "ids.txt"))), "\n"), "\n")
			if !slices.Equal(got, want) {
				t.Errorf("DecodeRegistration(%q) = %q, want %q", body, got, want)
			}
		})
	}
}

// TestEscapeFixtures checks every testdata/escape/<case>.in against <case>.out
// byte for byte.
func TestEscapeFixtures(t *testing.T) {
	entries, err := os.ReadDir("testdata/escape")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".in")
		if !ok || e.IsDir() {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			in := readFile(t, filepath.Join("testdata/escape", name+".in"))
			want := readFile(t, filepath.Join("testdata/escape", name+".out"))
			if got := ocsigen.AppendEscaped(nil, in); !bytes.Equal(got, want) {
				t.Errorf("AppendEscaped(%q) = %q, want %q", in, got, want)
			}
			if got := ocsigen.EscapedLen(in); got != len(want) {
				t.Errorf("EscapedLen = %d, want %d", got, len(want))
			}
			lines, err := ocsigen.ParseResponse(append([]byte("id:"), want...))
			if err != nil {
				t.Fatal(err)
			}
			if len(lines) != 1 || !bytes.Equal(lines[0].Value, in) {
				t.Errorf("ParseResponse(id:%q) = %+v, want value %q", want, lines, in)
			}
		})
	}
	if n == 0 {
		t.Fatal("no testdata/escape/*.in fixture")
	}
}
