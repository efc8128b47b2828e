package ocsigen_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/halleyhq/halley/internal/wire/ocsigen"
)

func TestParseResponse(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    []ocsigen.Line
		wantErr bool
	}{
		{name: "Empty", body: "", want: nil},
		{name: "OnlyLF", body: "\n", want: nil},
		{name: "One", body: "news:hello%20world", want: []ocsigen.Line{{ID: "news", Value: []byte("hello world")}}},
		{name: "TrailingLF", body: "news:x\n", want: []ocsigen.Line{{ID: "news", Value: []byte("x")}}},
		{name: "LastColon", body: "stateless:chat:a%3Ab", want: []ocsigen.Line{{ID: "stateless:chat", Value: []byte("a:b")}}},
		{name: "Ended", body: "gone:ENDED_CHANNEL", want: []ocsigen.Line{{ID: "gone", Ended: true}}},
		{name: "EmptyValue", body: "x:", want: []ocsigen.Line{{ID: "x", Value: []byte{}}}},
		{name: "PlusKept", body: "x:a+b", want: []ocsigen.Line{{ID: "x", Value: []byte("a+b")}}},
		{name: "LowerHex", body: "x:%c3%a9", want: []ocsigen.Line{{ID: "x", Value: []byte("é")}}},
		{name: "Multi", body: "news:hello%20world\nstateless:chat:a%3Ab\ngone:ENDED_CHANNEL", want: []ocsigen.Line{
			{ID: "news", Value: []byte("hello world")},
			{ID: "stateless:chat", Value: []byte("a:b")},
			{ID: "gone", Ended: true},
		}},
		{name: "NoColon", body: "news", wantErr: true},
		{name: "EmptyMiddleLine", body: "a:b\n\nc:d", wantErr: true},
		{name: "TwoTrailingLF", body: "a:b\n\n", wantErr: true},
		{name: "BadEscape", body: "x:%zz", wantErr: true},
		{name: "TruncatedEscape", body: "x:%4", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ocsigen.ParseResponse([]byte(tt.body))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseResponse(%q) = %+v, want error", tt.body, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseResponse(%q): %v", tt.body, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseResponse(%q) = %+v, want %+v", tt.body, got, tt.want)
			}
		})
	}
}

// buildMulti builds the answer stored in testdata/response/multi.txt.
func buildMulti() []byte {
	var b []byte
	b = ocsigen.AppendLine(b, "news", []byte("hello world"))
	b = append(b, '\n')
	b = ocsigen.AppendLine(b, "stateless:chat", []byte("a:b"))
	b = append(b, '\n')
	return ocsigen.AppendEnded(b, "gone")
}

func TestResponseFixture(t *testing.T) {
	want := readFile(t, "testdata/response/multi.txt")
	got := buildMulti()
	if !bytes.Equal(got, want) {
		t.Fatalf("built answer = %q, fixture = %q", got, want)
	}
	lines, err := ocsigen.ParseResponse(want)
	if err != nil {
		t.Fatal(err)
	}
	wantLines := []ocsigen.Line{
		{ID: "news", Value: []byte("hello world")},
		{ID: "stateless:chat", Value: []byte("a:b")},
		{ID: "gone", Ended: true},
	}
	if !reflect.DeepEqual(lines, wantLines) {
		t.Errorf("ParseResponse(fixture) = %+v, want %+v", lines, wantLines)
	}
}
