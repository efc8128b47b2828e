package bench

import (
	"bytes"
	"strconv"
)

// The payload of message k of a channel is the JSON object
// {"seq":k,"t":<unix nanoseconds at publication>,"pad":"xx…"}, padded to
// the configured size. The server stores JSON compacted, so readers get
// these exact bytes back.
var (
	seqKey = []byte(`{"seq":`)
	tKey   = []byte(`,"t":`)
	padKey = []byte(`,"pad":"`)
	padEnd = []byte(`"}`)
)

// pad is a run of 'x' to copy from.
var pad = bytes.Repeat([]byte{'x'}, 4096)

// appendPayload appends the payload of message seq published at t (unix
// nanoseconds), padded to size bytes when it is shorter.
func appendPayload(dst []byte, seq uint64, t int64, size int) []byte {
	start := len(dst)
	dst = append(dst, seqKey...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, tKey...)
	dst = strconv.AppendInt(dst, t, 10)
	dst = append(dst, padKey...)
	for n := size - (len(dst) - start) - len(padEnd); n > 0; {
		k := min(n, len(pad))
		dst = append(dst, pad[:k]...)
		n -= k
	}
	return append(dst, padEnd...)
}

// parsePayload returns the seq and t of a payload, without allocating.
func parsePayload(b []byte) (seq uint64, t int64, ok bool) {
	if !bytes.HasPrefix(b, seqKey) {
		return 0, 0, false
	}
	b = b[len(seqKey):]
	seq, n := parseDigits(b)
	if n == 0 || !bytes.HasPrefix(b[n:], tKey) {
		return 0, 0, false
	}
	b = b[n+len(tKey):]
	u, n := parseDigits(b)
	if n == 0 || u > 1<<63-1 {
		return 0, 0, false
	}
	return seq, int64(u), true
}

// parseDigits parses the decimal digits at the start of b and returns
// their value and count (0: none, or more than 19).
func parseDigits(b []byte) (uint64, int) {
	var v uint64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if i == 19 {
			return 0, 0
		}
		v = v*10 + uint64(b[i]-'0')
	}
	return v, i
}
