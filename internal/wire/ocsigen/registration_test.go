package ocsigen_test

import (
	"errors"
	"slices"
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
