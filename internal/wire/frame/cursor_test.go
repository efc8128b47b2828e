package frame_test

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// parseCursorSplit is ParseCursor as it was before ParseCursorMax: the
// reference the scanner must agree with.
func parseCursorSplit(s string) (frame.Cursor, error) {
	c := frame.Cursor{}
	if s == "" {
		return c, nil
	}
	for _, e := range strings.Split(s, ",") {
		id, rest, ok := strings.Cut(e, ":")
		if !ok {
			return nil, frame.ErrBadCursor
		}
		off, epoch, ok := strings.Cut(rest, ":")
		if !ok || strings.ContainsAny(epoch, ":,") {
			return nil, frame.ErrBadCursor
		}
		n, err := strconv.ParseUint(off, 10, 64)
		if err != nil {
			return nil, frame.ErrBadCursor
		}
		ch, err := url.QueryUnescape(id)
		if err != nil || ch == "" {
			return nil, frame.ErrBadCursor
		}
		c[ch] = frame.Position{Offset: n, Epoch: epoch}
	}
	return c, nil
}

// entries returns how many entries s is written with.
func entries(s string) int {
	if s == "" {
		return 0
	}
	return strings.Count(s, ",") + 1
}

// cursorOf returns a cursor text of n distinct plain entries.
func cursorOf(n int) string {
	var b []byte
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = frame.AppendEntry(b, fmt.Sprintf("chan-%d", i), uint64(i), "Xk3q9vQp2mRt8wYz1aBcDe")
	}
	return string(b)
}

func TestParseCursor(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want frame.Cursor
	}{
		{name: "Empty", in: "", want: frame.Cursor{}},
		{name: "One", in: "news:42:Xk3q", want: frame.Cursor{"news": {42, "Xk3q"}}},
		{name: "EmptyEpoch", in: "a:0:", want: frame.Cursor{"a": {0, ""}}},
		{name: "Two", in: "a:1:x,b:2:y", want: frame.Cursor{"a": {1, "x"}, "b": {2, "y"}}},
		{name: "EscapedID", in: "chat%3Aroom%2C1:7:e", want: frame.Cursor{"chat:room,1": {7, "e"}}},
		{name: "PlusIsSpace", in: "a+b:1:e", want: frame.Cursor{"a b": {1, "e"}}},
		{name: "LastDuplicateWins", in: "a:1:x,a:2:y", want: frame.Cursor{"a": {2, "y"}}},
		{name: "LeadingZeros", in: "a:007:e", want: frame.Cursor{"a": {7, "e"}}},
		{name: "MaxOffset", in: "a:18446744073709551615:e", want: frame.Cursor{"a": {1<<64 - 1, "e"}}},
		{name: "LongZeros", in: "a:000000000000000000000000001:e", want: frame.Cursor{"a": {1, "e"}}},
		{name: "OddEpoch", in: "a:1:é =%zz", want: frame.Cursor{"a": {1, "é =%zz"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := frame.ParseCursor(tt.in)
			if err != nil || !maps.Equal(got, tt.want) {
				t.Fatalf("ParseCursor(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseCursor_ErrBadCursor(t *testing.T) {
	for _, in := range []string{
		",", ",,", "a:1:e,", ",a:1:e", "a:1:e,,b:2:f",
		"a", "a:1", "a,1:e", "a:1,e", "a:1:e:f", "a:1:e,b",
		":1:e", "%:1:e", "%zz:1:e", "a%2:1:e",
		"a::e", "a:x:e", "a:-1:e", "a:+1:e", "a:1_0:e", "a: 1:e", "a:0x1:e",
		"a:18446744073709551616:e", "a:99999999999999999999:e", "a:100000000000000000000:e",
	} {
		t.Run(in, func(t *testing.T) {
			if c, err := frame.ParseCursor(in); !errors.Is(err, frame.ErrBadCursor) || c != nil {
				t.Fatalf("ParseCursor(%q) = %v, %v; want ErrBadCursor", in, c, err)
			}
			if _, err := parseCursorSplit(in); err == nil {
				t.Fatalf("the reference parser accepts %q", in)
			}
		})
	}
}

func TestParseCursorMax(t *testing.T) {
	const max = 4
	tests := []struct {
		name string
		in   string
		max  int
		want int // entries in the result; -1: ErrTooManyEntries; -2: ErrBadCursor
	}{
		{name: "Empty", in: "", max: max, want: 0},
		{name: "EmptyMaxZero", in: "", max: 0, want: 0},
		{name: "Max", in: cursorOf(max), max: max, want: max},
		{name: "MaxPlusOne", in: cursorOf(max + 1), max: max, want: -1},
		{name: "MaxZero", in: "a:1:e", max: 0, want: -1},
		{name: "NoLimit", in: cursorOf(1000), max: -1, want: 1000},
		// Duplicates count as written.
		{name: "Duplicates", in: strings.Repeat("a:1:e,", max) + "a:2:e", max: max, want: -1},
		{name: "DuplicatesWithin", in: strings.Repeat("a:1:e,", max-1) + "a:2:e", max: max, want: 1},
		// Whatever comes after max entries, the answer is the same.
		{name: "MaxPlusOneThenGarbage", in: cursorOf(max+1) + ",,::%zz:x", max: max, want: -1},
		{name: "MaxThenEmptyEntry", in: cursorOf(max) + ",", max: max, want: -1},
		{name: "MaxThenBadEntry", in: cursorOf(max) + ",%zz", max: max, want: -1},
		{name: "MaxThenHuge", in: cursorOf(max) + "," + strings.Repeat("x", 1<<20), max: max, want: -1},
		// A bad entry among the first max is a bad cursor.
		{name: "BadWithin", in: "a:1:e,%zz:1:e," + cursorOf(max), max: max, want: -2},
		{name: "BadLast", in: cursorOf(max-1) + ",a:1", max: max, want: -2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := frame.ParseCursorMax(tt.in, tt.max)
			switch tt.want {
			case -1:
				if !errors.Is(err, frame.ErrTooManyEntries) || errors.Is(err, frame.ErrBadCursor) || c != nil {
					t.Fatalf("ParseCursorMax(%.40q…, %d) = %d entries, %v; want ErrTooManyEntries alone", tt.in, tt.max, len(c), err)
				}
			case -2:
				if !errors.Is(err, frame.ErrBadCursor) || c != nil {
					t.Fatalf("ParseCursorMax(%.40q…, %d) = %d entries, %v; want ErrBadCursor", tt.in, tt.max, len(c), err)
				}
			default:
				if err != nil || len(c) != tt.want {
					t.Fatalf("ParseCursorMax(%.40q…, %d) = %d entries, %v; want %d", tt.in, tt.max, len(c), err, tt.want)
				}
				if ref, _ := parseCursorSplit(tt.in); !maps.Equal(c, ref) {
					t.Fatalf("ParseCursorMax(%.40q…, %d) = %v; the reference parser says %v", tt.in, tt.max, c, ref)
				}
			}
		})
	}
}

// TestParseCursorMax_Allocs: plain entries cost no allocation of their own,
// only the map's growth; escaped ids cost one each (the unescaped id).
func TestParseCursorMax_Allocs(t *testing.T) {
	const n = 256
	plain := cursorOf(n)
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := frame.ParseCursorMax(plain, n); err != nil {
			t.Fatal(err)
		}
	})
	// A map of 256 entries grows a few times; one allocation per entry
	// would be 256 or more.
	if allocs > 40 {
		t.Errorf("ParseCursorMax of %d plain entries: %v allocations; want the map's only (at most 40)", n, allocs)
	}
	escaped := strings.ReplaceAll(plain, "chan-", "chan%2D")
	more := testing.AllocsPerRun(20, func() {
		if _, err := frame.ParseCursorMax(escaped, n); err != nil {
			t.Fatal(err)
		}
	})
	if d := more - allocs; d < n || d > n+8 {
		t.Errorf("escaped ids: %v allocations, plain ids: %v; want one more per entry (%d)", more, allocs, n)
	}
}

func TestCursor_RoundTrip(t *testing.T) {
	c := frame.Cursor{"news": {42, "Xk3q"}, "chat:room": {7, ""}, "a b,c%d+e": {1<<64 - 1, "é"}, "é": {0, "x"}}
	got, err := frame.ParseCursor(c.String())
	if err != nil || !maps.Equal(got, c) {
		t.Fatalf("ParseCursor(%q) = %v, %v; want %v", c.String(), got, err, c)
	}
}

func TestCursor_Sorted(t *testing.T) {
	c := frame.Cursor{"b": {}, "a": {}, "c:1": {}, "C": {}}
	if got, want := c.Sorted(), []string{"C", "a", "b", "c:1"}; !slices.Equal(got, want) {
		t.Fatalf("Sorted() = %q; want %q", got, want)
	}
	if got := (frame.Cursor{}).Sorted(); len(got) != 0 {
		t.Fatalf("Sorted() of an empty cursor = %q", got)
	}
}

func FuzzParseCursorMax(f *testing.F) {
	for _, s := range []string{
		"", "news:42:Xk3q", "a:1:x,b:2:y", "a:1:x,a:2:y", "chat%3Aroom:7:e", "a+b:0:",
		",", "a:1:e,", "a::e", "%zz:1:e", "a:18446744073709551616:e", "a:1:e:f", cursorOf(5),
	} {
		for _, max := range []int{-1, 0, 1, 2, 256} {
			f.Add(s, max)
		}
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max %= 300 // a small cap, or none when negative
		c, err := frame.ParseCursorMax(s, max)
		ref, refErr := parseCursorSplit(s)
		n := entries(s)
		if errors.Is(err, frame.ErrTooManyEntries) {
			if max < 0 || n <= max {
				t.Fatalf("ParseCursorMax(%q, %d): %v for %d entries", s, max, err, n)
			}
			if c != nil {
				t.Fatalf("ParseCursorMax(%q, %d): %v with a cursor", s, max, err)
			}
			return
		}
		if max >= 0 && n > max && refErr == nil {
			t.Fatalf("ParseCursorMax(%q, %d) = %v, %v; want ErrTooManyEntries for %d entries", s, max, c, err, n)
		}
		if err != nil {
			if !errors.Is(err, frame.ErrBadCursor) || c != nil {
				t.Fatalf("ParseCursorMax(%q, %d) = %v, %v; want ErrBadCursor and no cursor", s, max, c, err)
			}
			if refErr == nil && (max < 0 || n <= max) {
				t.Fatalf("ParseCursorMax(%q, %d): %v; the reference parser accepts it as %v", s, max, err, ref)
			}
			return
		}
		if refErr != nil || !maps.Equal(c, ref) {
			t.Fatalf("ParseCursorMax(%q, %d) = %v; the reference parser says %v, %v", s, max, c, ref, refErr)
		}
		if all, err := frame.ParseCursor(s); err != nil || !maps.Equal(all, c) {
			t.Fatalf("ParseCursor(%q) = %v, %v; ParseCursorMax gave %v", s, all, err, c)
		}
		again, err := frame.ParseCursor(c.String())
		if err != nil || !maps.Equal(again, c) {
			t.Fatalf("round trip of %v through %q = %v, %v", c, c.String(), again, err)
		}
	})
}

// bigCursor returns a cursor of 1 MB or a little more, of plain entries.
func bigCursor() string {
	n := 1 << 20 / len(cursorOf(1))
	for {
		if s := cursorOf(n); len(s) >= 1<<20 {
			return s
		}
		n += n / 8
	}
}

// BenchmarkParseCursorMax_1MB: a cursor of 1 MB is refused after its first
// 256 entries; "NoLimit" and "Split" parse all of it (ParseCursor, and the
// strings.Split implementation it replaced).
func BenchmarkParseCursorMax_1MB(b *testing.B) {
	big := bigCursor()
	b.Run("Max256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := frame.ParseCursorMax(big, 256); !errors.Is(err, frame.ErrTooManyEntries) {
				b.Fatal(err)
			}
		}
	})
	b.Run("NoLimit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := frame.ParseCursor(big); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Split", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseCursorSplit(big); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkParseCursorMax_256 parses a cursor of 256 entries, the most a
// connection may hold.
func BenchmarkParseCursorMax_256(b *testing.B) {
	s := cursorOf(256)
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := frame.ParseCursorMax(s, 256); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzAppendEntry checks that an entry's id is escaped as
// url.QueryEscape escapes it, whatever its bytes, and that it allocates
// nothing in a buffer with room.
func FuzzAppendEntry(f *testing.F) {
	for _, id := range []string{"", "news", "chat:room", "a b+c", "é/ü?&=%", "-_.~AZaz09", "\x00\xff"} {
		f.Add(id)
	}
	f.Fuzz(func(t *testing.T, id string) {
		want := url.QueryEscape(id) + ":7:ep"
		if got := string(frame.AppendEntry(nil, id, 7, "ep")); got != want {
			t.Fatalf("entry of %q: %q, want %q", id, got, want)
		}
		buf := make([]byte, 0, 3*len(id)+16)
		if allocs := testing.AllocsPerRun(10, func() { buf = frame.AppendEntry(buf[:0], id, 7, "ep") }); allocs != 0 {
			t.Fatalf("entry of %q: %v allocations", id, allocs)
		}
	})
}
