package ocsigen_test

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/halleyhq/halley/internal/wire/ocsigen"
)

func TestDecodeRegistration(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    []string
		wantErr bool
	}{
		{name: "Single", body: "registration=a", want: []string{"a"}},
		{name: "EscapedLF", body: "registration=a%0Ab%0ac", want: []string{"a", "b", "c"}},
		{name: "RawLF", body: "registration=a\nb", want: []string{"a", "b"}},
		{name: "PlusIsSpace", body: "registration=a+b", want: []string{"a b"}},
		{name: "Escaped2BIsPlus", body: "registration=a%2Bb%2bc", want: []string{"a+b+c"}},
		{name: "StatelessColon", body: "registration=stateless%3Achat%0Astateless:news", want: []string{"stateless:chat", "stateless:news"}},
		{name: "RepeatedFieldsMerged", body: "registration=a&registration=b%0Ac", want: []string{"a", "b", "c"}},
		{name: "LeadingTrailingSeparators", body: "registration=%0Aa%0A", want: []string{"a"}},
		{name: "DoubleSeparators", body: "registration=a%0A%0A%0Ab", want: []string{"a", "b"}},
		{name: "Duplicates", body: "registration=b%0Aa%0Ab&registration=a%0Ac", want: []string{"b", "a", "c"}},
		{name: "OtherFieldsIgnored", body: "idle=on&registration=a&x=registration", want: []string{"a"}},
		{name: "EscapedFieldName", body: "regi%73tration=a", want: []string{"a"}},
		{name: "EmptyFieldsSkipped", body: "&&registration=a&", want: []string{"a"}},
		{name: "SemicolonNotSeparator", body: "registration=a;b", want: []string{"a;b"}},
		{name: "ValueWithEquals", body: "registration=a=b", want: []string{"a=b"}},
		{name: "CRKept", body: "registration=a%0D%0Ab", want: []string{"a\r", "b"}},
		{name: "UTF8", body: "registration=caf%C3%A9", want: []string{"café"}},
		{name: "EmptyBody", body: "", wantErr: true},
		{name: "EmptyRegistration", body: "registration=", wantErr: true},
		{name: "OnlySeparators", body: "registration=%0A%0A", wantErr: true},
		{name: "NoEquals", body: "registration", wantErr: true},
		{name: "BadEscape", body: "registration=%zz", wantErr: true},
		{name: "BadEscapeAfterID", body: "registration=a%zz", wantErr: true},
		{name: "TruncatedEscape", body: "registration=a%2", wantErr: true},
		{name: "TruncatedEscapeEnd", body: "registration=a%", wantErr: true},
		{name: "BadEscapeInOtherField", body: "registration=a&x=%G0", wantErr: true},
		{name: "BadEscapeInName", body: "reg%=a", wantErr: true},
		{name: "NoRegistrationField", body: "other=a", wantErr: true},
		{name: "CaseSensitiveName", body: "Registration=a", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ocsigen.DecodeRegistration([]byte(tt.body))
			if tt.wantErr {
				if !errors.Is(err, ocsigen.ErrBadRegistration) {
					t.Fatalf("DecodeRegistration(%q) = %q, %v; want ErrBadRegistration", tt.body, got, err)
				}
				if got != nil {
					t.Errorf("DecodeRegistration(%q) ids = %q, want nil on error", tt.body, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeRegistration(%q): %v", tt.body, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("DecodeRegistration(%q) = %q, want %q", tt.body, got, tt.want)
			}
		})
	}
}

func TestEncodeRegistration(t *testing.T) {
	tests := []struct {
		name string
		ids  []string
		want string
	}{
		{name: "None", ids: nil, want: "registration="},
		{name: "One", ids: []string{"a"}, want: "registration=a"},
		{name: "JoinedByLF", ids: []string{"a", "b"}, want: "registration=a%0Ab"},
		{name: "Plus", ids: []string{"x+y/z="}, want: "registration=x%2By%2Fz%3D"},
		{name: "Space", ids: []string{"a b"}, want: "registration=a%20b"},
		{name: "Stateless", ids: []string{"stateless:chat"}, want: "registration=stateless%3Achat"},
		{name: "EmbeddedLF", ids: []string{"a\nb"}, want: "registration=a%0Ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ocsigen.EncodeRegistration(tt.ids...); string(got) != tt.want {
				t.Errorf("EncodeRegistration(%q) = %q, want %q", tt.ids, got, tt.want)
			}
		})
	}
}

func TestEncodeRegistration_RoundTrip(t *testing.T) {
	ids := []string{"stateless:AbC+/xyz=3fd1", "clientprocess:S|/app|comet|n", "a b&c;d%e", "café\x00\xff"}
	got, err := ocsigen.DecodeRegistration(ocsigen.EncodeRegistration(ids...))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, ids) {
		t.Errorf("round trip = %q, want %q", got, ids)
	}
}

func TestDecodeRegistrationMax(t *testing.T) {
	const max = 3
	tests := []struct {
		name string
		body string
		max  int
		want []string // nil: want an error
		bad  bool     // the error is ErrBadRegistration, not ErrTooManyChannels
	}{
		{name: "UnderMax", body: "registration=a%0Ab", max: max, want: []string{"a", "b"}},
		{name: "Max", body: "registration=a%0Ab%0Ac", max: max, want: []string{"a", "b", "c"}},
		{name: "MaxPlusOne", body: "registration=a%0Ab%0Ac%0Ad", max: max},
		{name: "AcrossFields", body: "registration=a%0Ab&registration=c&registration=d", max: max},
		{name: "RawLF", body: "registration=a\nb\nc\nd", max: max},
		{name: "DuplicatesDoNotCount", body: "registration=a%0Ab%0Aa%0Ab%0Ac&registration=c%0Aa", max: max, want: []string{"a", "b", "c"}},
		{name: "EmptyPiecesDoNotCount", body: "registration=%0A%0Aa%0A%0Ab%0A%0Ac%0A%0A", max: max, want: []string{"a", "b", "c"}},
		{name: "OtherFieldsDoNotCount", body: "x=1&registration=a&y=2&z=3&w=4", max: 1, want: []string{"a"}},
		{name: "MaxZero", body: "registration=a", max: 0},
		{name: "NoLimit", body: "registration=a%0Ab%0Ac%0Ad%0Ae", max: -1, want: []string{"a", "b", "c", "d", "e"}},
		// Past max, the rest of the body is not looked at.
		{name: "MaxPlusOneThenBadEscape", body: "registration=a%0Ab%0Ac%0Ad%0A%zz", max: max},
		// An id is seen at its end: a bad escape inside the one beyond max
		// is found first.
		{name: "BadEscapeInMaxPlusOne", body: "registration=a%0Ab%0Ac%0Ad%zz", max: max, bad: true},
		{name: "MaxPlusOneThenBadField", body: "registration=a%0Ab%0Ac%0Ad&x=%G0", max: max},
		{name: "MaxPlusOneThenHugeJunk", body: "registration=a%0Ab%0Ac%0Ad%0A" + strings.Repeat("%zz", 1<<20), max: max},
		// Before max, errors are as without a limit.
		{name: "BadEscapeBeforeMax", body: "registration=a%0Ab%zz%0Ac%0Ad", max: max, bad: true},
		{name: "BadOtherFieldBeforeMax", body: "x=%G0&registration=a%0Ab%0Ac%0Ad", max: max, bad: true},
		{name: "BadNameBeforeMax", body: "reg%=a&registration=a%0Ab%0Ac%0Ad", max: max, bad: true},
		{name: "Empty", body: "registration=", max: max, bad: true},
		{name: "EmptyMaxZero", body: "", max: 0, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ocsigen.DecodeRegistrationMax([]byte(tt.body), tt.max)
			switch {
			case tt.want != nil:
				if err != nil || !slices.Equal(got, tt.want) {
					t.Fatalf("DecodeRegistrationMax(%.60q, %d) = %q, %v; want %q", tt.body, tt.max, got, err, tt.want)
				}
			case tt.bad:
				if !errors.Is(err, ocsigen.ErrBadRegistration) || errors.Is(err, ocsigen.ErrTooManyChannels) || got != nil {
					t.Fatalf("DecodeRegistrationMax(%.60q, %d) = %q, %v; want ErrBadRegistration", tt.body, tt.max, got, err)
				}
			default:
				if !errors.Is(err, ocsigen.ErrTooManyChannels) || errors.Is(err, ocsigen.ErrBadRegistration) || got != nil {
					t.Fatalf("DecodeRegistrationMax(%.60q, %d) = %q, %v; want ErrTooManyChannels alone", tt.body, tt.max, got, err)
				}
			}
		})
	}
}

// TestDecodeRegistrationMax_Bounded: a body of 64 KiB naming about 30 000
// ids is refused with a few allocations, not one per id.
func TestDecodeRegistrationMax_Bounded(t *testing.T) {
	body := manyIDs(64 << 10)
	all, err := ocsigen.DecodeRegistration(body)
	if err != nil || len(all) < 10000 {
		t.Fatalf("DecodeRegistration of the 64 KiB body: %d ids, %v; want over 10000", len(all), err)
	}
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := ocsigen.DecodeRegistrationMax(body, 256); !errors.Is(err, ocsigen.ErrTooManyChannels) {
			t.Fatal(err)
		}
	})
	// 256 ids, their map and slice; one allocation per id of the body
	// would be over 10000.
	if allocs > 2*256+40 {
		t.Fatalf("DecodeRegistrationMax(64 KiB body, 256): %v allocations; want about one per kept id", allocs)
	}
}

// manyIDs returns a registration body of about n bytes naming short,
// distinct ids.
func manyIDs(n int) []byte {
	b := []byte("registration=")
	for i := 0; len(b) < n; i++ {
		if i > 0 {
			b = append(b, '\n')
		}
		b = strconv.AppendInt(b, int64(i), 36)
	}
	return b
}

func BenchmarkDecodeRegistrationMax(b *testing.B) {
	body := manyIDs(64 << 10)
	for _, max := range []int{256, -1} {
		b.Run(fmt.Sprintf("max=%d", max), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ocsigen.DecodeRegistrationMax(body, max)
			}
		})
	}
}

// TestDecodeRegistration_ManyFields: other fields cost no allocation each.
func TestDecodeRegistration_ManyFields(t *testing.T) {
	body := []byte(strings.Repeat("a=1&", 10000) + "registration=x")
	allocs := testing.AllocsPerRun(10, func() {
		if ids, err := ocsigen.DecodeRegistrationMax(body, 1); err != nil || len(ids) != 1 {
			t.Fatal(ids, err)
		}
	})
	if allocs > 10 {
		t.Fatalf("DecodeRegistrationMax of 10000 other fields: %v allocations; want a few", allocs)
	}
}
