package bench

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestSSEDecoder: a body, chunked or not, gives the same lines however
// its bytes are split; a last chunk ends it; bad chunk sizes and lines
// over the bound are errors.
func TestSSEDecoder(t *testing.T) {
	want := []string{"id: 1", `data: {"seq":1}`, "", "id: 2", `data: {"seq":2,"x":"` + strings.Repeat("y", 300) + `"}`, ""}
	text := strings.Join(want, "\n") + "\n"
	// The same text in chunks of 7 bytes, with an extension on one.
	var chunked strings.Builder
	for i := 0; i < len(text); i += 7 {
		part := text[i:min(i+7, len(text))]
		ext := ""
		if i == 14 {
			ext = ";name=value"
		}
		chunked.WriteString(strings.ToUpper(strconv.FormatInt(int64(len(part)), 16)) + ext + "\r\n" + part + "\r\n")
	}
	for _, c := range []struct {
		name    string
		chunked bool
		body    string
	}{{"plain", false, text}, {"chunked", true, chunked.String()}} {
		for _, step := range []int{1, 2, 3, 5, 64, len(c.body)} {
			var got []string
			d := sseDecoder{chunked: c.chunked, line: func(l []byte) error {
				got = append(got, string(l))
				return nil
			}}
			for i := 0; i < len(c.body); i += step {
				if err := d.feed([]byte(c.body[i:min(i+step, len(c.body))])); err != nil {
					t.Fatalf("%s, pieces of %d: %v", c.name, step, err)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s, pieces of %d: lines %q, want %q", c.name, step, got, want)
			}
		}
	}

	lines := func(l []byte) error { return nil }
	end := sseDecoder{chunked: true, line: lines}
	if err := end.feed([]byte("3\r\nab\n\r\n0\r\n\r\n")); !errors.Is(err, errBodyEnd) {
		t.Errorf("last chunk: %v, want errBodyEnd", err)
	}
	for _, bad := range []string{"zz\r\n", "-1\r\n", "1234567890abcdef0\r\n", strings.Repeat("0", maxChunkLine+1)} {
		d := sseDecoder{chunked: true, line: lines}
		if err := d.feed([]byte(bad)); err == nil || errors.Is(err, errBodyEnd) {
			t.Errorf("chunk-size line %.20q: %v, want an error", bad, err)
		}
	}
	long := sseDecoder{line: lines}
	for range rawLine / 4096 {
		if err := long.feed(make([]byte, 4096)); err != nil {
			t.Fatalf("a line of %d bytes: %v", rawLine, err)
		}
	}
	if err := long.feed([]byte("x")); err == nil {
		t.Errorf("a line over %d bytes: no error", rawLine)
	}
}
