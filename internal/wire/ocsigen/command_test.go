package ocsigen_test

import (
	"errors"
	"testing"
	"time"

	"github.com/halleyhq/halley/internal/wire/ocsigen"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		want    ocsigen.Command
		wantErr bool
	}{
		{name: "Deactivate", line: "comet:deactivate", want: ocsigen.Command{Op: "deactivate"}},
		{name: "Activate", line: "comet:activate", want: ocsigen.Command{Op: "activate"}},
		{name: "SetTimeoutInt", line: "comet:set_timeout 5", want: ocsigen.Command{Op: "set_timeout", Timeout: 5 * time.Second}},
		{name: "SetTimeoutFloatKill", line: "comet:set_timeout 2.5 KILL", want: ocsigen.Command{Op: "set_timeout", Timeout: 2500 * time.Millisecond, Kill: true}},
		{name: "SetTimeoutExponent", line: "comet:set_timeout 1e1", want: ocsigen.Command{Op: "set_timeout", Timeout: 10 * time.Second}},
		{name: "SetTimeoutTrailingDot", line: "comet:set_timeout 3.", want: ocsigen.Command{Op: "set_timeout", Timeout: 3 * time.Second}},
		{name: "Whitespace", line: " \tcomet:set_timeout \t 0.5  \t KILL \r", want: ocsigen.Command{Op: "set_timeout", Timeout: 500 * time.Millisecond, Kill: true}},
		{name: "TrailingCR", line: "comet:activate\r", want: ocsigen.Command{Op: "activate"}},
		{name: "TrailingLF", line: "comet:deactivate\r\n", want: ocsigen.Command{Op: "deactivate"}},
		{name: "Empty", line: "", wantErr: true},
		{name: "Blank", line: " \t\r", wantErr: true},
		{name: "MissingFloat", line: "comet:set_timeout", wantErr: true},
		{name: "OnlyKill", line: "comet:set_timeout KILL", wantErr: true},
		{name: "NotAFloat", line: "comet:set_timeout abc", wantErr: true},
		{name: "BadKill", line: "comet:set_timeout 5 KILLL", wantErr: true},
		{name: "LowerKill", line: "comet:set_timeout 5 kill", wantErr: true},
		{name: "ExtraWord", line: "comet:set_timeout 5 KILL now", wantErr: true},
		{name: "Negative", line: "comet:set_timeout -1", wantErr: true},
		{name: "Zero", line: "comet:set_timeout 0", wantErr: true},
		{name: "BelowNanosecond", line: "comet:set_timeout 1e-12", wantErr: true},
		{name: "NaN", line: "comet:set_timeout NaN", wantErr: true},
		{name: "Inf", line: "comet:set_timeout +Inf", wantErr: true},
		{name: "TooLarge", line: "comet:set_timeout 1e300", wantErr: true},
		{name: "OtherPrefix", line: "other:activate", wantErr: true},
		{name: "NoPrefix", line: "activate", wantErr: true},
		{name: "UpperPrefix", line: "COMET:activate", wantErr: true},
		{name: "EmptyOp", line: "comet:", wantErr: true},
		{name: "UnknownOp", line: "comet:frobnicate", wantErr: true},
		{name: "ActivateWithArg", line: "comet:activate now", wantErr: true},
		{name: "DeactivateWithArg", line: "comet:deactivate 5", wantErr: true},
		{name: "SpaceAfterColon", line: "comet: activate", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ocsigen.ParseCommand(tt.line)
			if tt.wantErr {
				if !errors.Is(err, ocsigen.ErrUnknownCommand) {
					t.Fatalf("ParseCommand(%q) = %+v, %v; want ErrUnknownCommand", tt.line, got, err)
				}
				if got != (ocsigen.Command{}) {
					t.Errorf("ParseCommand(%q) = %+v, want zero Command on error", tt.line, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCommand(%q): %v", tt.line, err)
			}
			if got != tt.want {
				t.Errorf("ParseCommand(%q) = %+v, want %+v", tt.line, got, tt.want)
			}
		})
	}
}
