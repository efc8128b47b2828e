package ocsigen_test

import (
	"bytes"
	"testing"

	"github.com/halleyhq/halley/internal/wire/ocsigen"
)

func BenchmarkAppendLine(b *testing.B) {
	// Mixed text: about one byte in five needs escaping.
	value := bytes.Repeat([]byte("ab cd:éf+g"), 10)[:100]
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		buf = ocsigen.AppendLine(buf[:0], "stateless:chat", value)
	}
}
