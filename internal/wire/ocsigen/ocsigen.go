package ocsigen

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MediaType is the request Content-Type media type that selects the comet
// handler.
const MediaType = "application/x-ocsigen-comet"

// Ended is the value sent for a channel the server does not know.
const Ended = "ENDED_CHANNEL"

// ErrBadRegistration is returned by [DecodeRegistration] when a request body
// names no channel or is not valid form encoding. Servers answer it with 400.
var ErrBadRegistration = errors.New("ocsigen: empty or incorrect registration")

// ErrTooManyChannels is wrapped by the error of [DecodeRegistrationMax]
// for a body naming more distinct channel ids than allowed.
var ErrTooManyChannels = errors.New("ocsigen: too many channels")

// ErrUnknownCommand is returned by [ParseCommand] for a line that is not a
// valid comet command.
var ErrUnknownCommand = errors.New("ocsigen: unknown command")

const upperHex = "0123456789ABCDEF"

// unreserved marks the bytes the original server writes unescaped.
var unreserved = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "~_.!*-" {
		t[c] = true
	}
	return t
}()

// AppendEscaped appends value percent-encoded exactly as the original server
// does: every byte outside A-Z a-z 0-9 ~ _ . ! * - becomes %XX with upper-case
// hex (space becomes %20). It does not allocate when dst has enough capacity
// (see [EscapedLen]).
func AppendEscaped(dst, value []byte) []byte {
	return appendEscaped(dst, value, EscapedLen(value))
}

// EscapedLen returns the length of the escaped form of value, for
// preallocation.
func EscapedLen(value []byte) int {
	return escapedLen(value)
}

func escapedLen[T string | []byte](value T) int {
	n := len(value)
	for i := 0; i < len(value); i++ {
		if !unreserved[value[i]] {
			n += 2
		}
	}
	return n
}

// appendEscaped appends value escaped; n is escapedLen(value).
func appendEscaped[T string | []byte](dst []byte, value T, n int) []byte {
	if n == len(value) {
		return append(dst, value...)
	}
	dst = slices.Grow(dst, n)
	for i := 0; i < len(value); i++ {
		c := value[i]
		if unreserved[c] {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', upperHex[c>>4], upperHex[c&0x0F])
	}
	return dst
}

// AppendLine appends one answer line "<id>:<escaped value>" without the LF
// separator. The id is written raw, as the original server does. A value equal
// to [Ended] escapes to itself, so its line is indistinguishable from
// [AppendEnded]; this ambiguity is part of the original protocol.
func AppendLine(dst []byte, id string, value []byte) []byte {
	n := escapedLen(value)
	dst = slices.Grow(dst, len(id)+1+n)
	dst = append(dst, id...)
	dst = append(dst, ':')
	return appendEscaped(dst, value, n)
}

// AppendEnded appends the answer line "<id>:ENDED_CHANNEL" without the LF
// separator.
func AppendEnded(dst []byte, id string) []byte {
	dst = slices.Grow(dst, len(id)+1+len(Ended))
	dst = append(dst, id...)
	dst = append(dst, ':')
	return append(dst, Ended...)
}

const registrationField = "registration"

// DecodeRegistration decodes a request body as the original server's form
// decoder does and returns the channel ids it registers, however many: it
// is DecodeRegistrationMax(body, -1).
//
// Fields are separated by '&' only (never ';'); in names and values '+'
// decodes to a space and %XX to the byte, so a literal '+' must be sent as
// %2B. Empty fields are skipped and a field without '=' has an empty value.
// The values of every registration field are merged, split on LF, empty pieces
// dropped and duplicates removed keeping the first-seen order; other fields are
// ignored. Ids are returned byte for byte (a CR before an LF stays in the id).
//
// The error wraps [ErrBadRegistration] when the body holds no id at all or a
// malformed %-escape anywhere. DecodeRegistration never panics.
func DecodeRegistration(body []byte) ([]string, error) {
	return DecodeRegistrationMax(body, -1)
}

// DecodeRegistrationMax is [DecodeRegistration] for at most max distinct
// ids (max < 0: no limit). It reads the body once, from the start, and
// stops as soon as it has seen an id beyond the max-th distinct one, with
// an error wrapping [ErrTooManyChannels] (and not [ErrBadRegistration]),
// whatever follows: a malformed escape further on is then not looked at.
// Ids named again do not count. Its work and memory are linear in the
// body, and what it keeps is bounded by max ids.
func DecodeRegistrationMax(body []byte, max int) ([]string, error) {
	d := registration{max: max}
	for field := range bytes.SplitSeq(body, []byte{'&'}) {
		if len(field) == 0 {
			continue
		}
		rawName, rawValue, _ := bytes.Cut(field, []byte{'='})
		name := rawName
		if bytes.ContainsAny(rawName, "%+") {
			var err error
			if name, err = unescape(rawName, true); err != nil {
				return nil, fmt.Errorf("%w: field name: %w", ErrBadRegistration, err)
			}
		}
		if string(name) != registrationField {
			if err := checkEscapes(rawValue); err != nil {
				return nil, fmt.Errorf("%w: field %q: %w", ErrBadRegistration, name, err)
			}
			continue
		}
		if err := d.decode(rawValue); err != nil {
			return nil, err
		}
	}
	if len(d.ids) == 0 {
		return nil, fmt.Errorf("%w: no channel id", ErrBadRegistration)
	}
	return d.ids, nil
}

// registration collects the ids of registration fields.
type registration struct {
	max   int
	ids   []string
	seen  map[string]struct{}
	piece []byte // the id being decoded
}

// decode decodes one registration field's raw value, adding each id as
// soon as its end (a decoded LF, or the value's end) is reached.
func (d *registration) decode(raw []byte) error {
	d.piece = d.piece[:0]
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch c {
		case '%':
			var err error
			if c, err = unescapeAt(raw, i); err != nil {
				return fmt.Errorf("%w: field %q: %w", ErrBadRegistration, registrationField, err)
			}
			i += 2
		case '+':
			c = ' '
		}
		if c != '\n' {
			d.piece = append(d.piece, c)
			continue
		}
		if err := d.add(); err != nil {
			return err
		}
	}
	return d.add()
}

// add adds the id in piece, unless it is empty or already seen, and
// empties piece.
func (d *registration) add() error {
	piece := d.piece
	d.piece = d.piece[:0]
	if len(piece) == 0 {
		return nil
	}
	if _, dup := d.seen[string(piece)]; dup {
		return nil
	}
	if d.max >= 0 && len(d.ids) >= d.max {
		return fmt.Errorf("%w: more than %d", ErrTooManyChannels, d.max)
	}
	if d.seen == nil {
		d.seen = make(map[string]struct{})
	}
	id := string(piece)
	d.seen[id] = struct{}{}
	d.ids = append(d.ids, id)
	return nil
}

// EncodeRegistration builds the request body "registration=<ids joined by
// LF>", escaped encodeURIComponent-style so that [DecodeRegistration] (and the
// original server) read the ids back: '+' becomes %2B, LF %0A, space %20. It
// escapes the same bytes as [AppendEscaped], which also covers ' ( and ) that
// encodeURIComponent leaves alone; both forms decode identically.
func EncodeRegistration(ids ...string) []byte {
	n := len(registrationField) + 1
	for i, id := range ids {
		if i > 0 {
			n += 3
		}
		n += escapedLen(id)
	}
	dst := make([]byte, 0, n)
	dst = append(dst, registrationField...)
	dst = append(dst, '=')
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, "%0A"...)
		}
		dst = appendEscaped(dst, id, escapedLen(id))
	}
	return dst
}

// Line is one line of an answer.
type Line struct {
	// ID is the channel id, everything before the last ':' of the line.
	ID string
	// Value is the decoded value; nil when Ended is true.
	Value []byte
	// Ended reports that the server does not know the channel.
	Ended bool
}

// ParseResponse splits an answer body into lines. Lines are separated by LF
// (one trailing LF is tolerated) and each splits on its last ':'. The value
// [Ended] gives Ended=true; any other value is percent-decoded (%XX to the
// byte, other bytes, including '+', kept as they are). An empty body, the
// timeout answer, gives nil, nil. A line without ':' or with a malformed
// %-escape is an error.
//
// The original server joins ended channels and values with ':' instead of LF
// when one answer holds both; such a body parses as a single line whose ID
// holds everything before the last ':'.
func ParseResponse(body []byte) ([]Line, error) {
	body = bytes.TrimSuffix(body, []byte{'\n'})
	if len(body) == 0 {
		return nil, nil
	}
	lines := make([]Line, 0, bytes.Count(body, []byte{'\n'})+1)
	n := 0
	for raw := range bytes.SplitSeq(body, []byte{'\n'}) {
		n++
		colon := bytes.LastIndexByte(raw, ':')
		if colon < 0 {
			return nil, fmt.Errorf("ocsigen: answer line %d: no ':'", n)
		}
		id, rawValue := string(raw[:colon]), raw[colon+1:]
		if string(rawValue) == Ended {
			lines = append(lines, Line{ID: id, Ended: true})
			continue
		}
		value, err := unescape(rawValue, false)
		if err != nil {
			return nil, fmt.Errorf("ocsigen: answer line %d (id %q): %w", n, id, err)
		}
		lines = append(lines, Line{ID: id, Value: value})
	}
	return lines, nil
}

// unescape percent-decodes s into a new, non-nil slice; with form set, '+'
// decodes to a space.
func unescape(s []byte, form bool) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%':
			b, err := unescapeAt(s, i)
			if err != nil {
				return nil, err
			}
			out = append(out, b)
			i += 2
		case c == '+' && form:
			out = append(out, ' ')
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

// unescapeAt decodes the %XX escape at s[i], s[i] being '%'.
func unescapeAt(s []byte, i int) (byte, error) {
	if i+2 >= len(s) {
		return 0, fmt.Errorf("truncated escape %q at offset %d", s[i:], i)
	}
	hi, ok1 := unhex(s[i+1])
	lo, ok2 := unhex(s[i+2])
	if !ok1 || !ok2 {
		return 0, fmt.Errorf("bad escape %q at offset %d", s[i:i+3], i)
	}
	return hi<<4 | lo, nil
}

// checkEscapes reports the first malformed %-escape of s, as unescape
// would, without decoding s.
func checkEscapes(s []byte) error {
	for i := bytes.IndexByte(s, '%'); i >= 0; {
		if _, err := unescapeAt(s, i); err != nil {
			return err
		}
		j := bytes.IndexByte(s[i+3:], '%')
		if j < 0 {
			return nil
		}
		i += 3 + j
	}
	return nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Command is a parsed comet command-pipe line.
type Command struct {
	// Op is "activate", "deactivate" or "set_timeout".
	Op string
	// Timeout is the new poll timeout; set only for "set_timeout".
	Timeout time.Duration
	// Kill asks to end the requests already waiting; only for "set_timeout".
	Kill bool
}

// maxTimeoutSeconds keeps a timeout representable as a time.Duration.
const maxTimeoutSeconds = float64(math.MaxInt64 / int64(time.Second))

// ParseCommand parses a command-pipe line such as "comet:deactivate",
// "comet:activate", "comet:set_timeout 5" or "comet:set_timeout 2.5 KILL".
//
// Words are separated by runs of spaces or tabs; surrounding whitespace and a
// trailing CR are ignored. The first word must be "comet:<op>". The timeout is
// a number of seconds, finite, positive and at most about 292 years (the
// time.Duration range); it is truncated to the nanosecond and must not become
// zero. Any other op, prefix or trailing word, or a missing or bad number,
// gives an error wrapping [ErrUnknownCommand].
func ParseCommand(line string) (Command, error) {
	words := strings.FieldsFunc(line, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == '\v' || r == '\f'
	})
	if len(words) == 0 {
		return Command{}, fmt.Errorf("%w: empty line", ErrUnknownCommand)
	}
	prefix, op, ok := strings.Cut(words[0], ":")
	if !ok || prefix != "comet" {
		return Command{}, fmt.Errorf("%w: %q is not a comet: command", ErrUnknownCommand, words[0])
	}
	args := words[1:]
	switch op {
	case "activate", "deactivate":
		if len(args) != 0 {
			return Command{}, fmt.Errorf("%w: %s takes no argument, got %q", ErrUnknownCommand, op, args)
		}
		return Command{Op: op}, nil
	case "set_timeout":
		if len(args) == 0 || len(args) > 2 {
			return Command{}, fmt.Errorf("%w: usage: set_timeout <seconds> [KILL]", ErrUnknownCommand)
		}
		cmd := Command{Op: op}
		if len(args) == 2 {
			if args[1] != "KILL" {
				return Command{}, fmt.Errorf("%w: set_timeout: unexpected word %q", ErrUnknownCommand, args[1])
			}
			cmd.Kill = true
		}
		secs, err := strconv.ParseFloat(args[0], 64)
		if err != nil || math.IsNaN(secs) || secs <= 0 || secs > maxTimeoutSeconds {
			return Command{}, fmt.Errorf("%w: set_timeout: bad timeout %q", ErrUnknownCommand, args[0])
		}
		cmd.Timeout = time.Duration(secs * float64(time.Second))
		if cmd.Timeout <= 0 {
			return Command{}, fmt.Errorf("%w: set_timeout: timeout %q below 1ns", ErrUnknownCommand, args[0])
		}
		return cmd, nil
	default:
		return Command{}, fmt.Errorf("%w: %q", ErrUnknownCommand, words[0])
	}
}
