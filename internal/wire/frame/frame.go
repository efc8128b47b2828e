// Package frame is the codec of the Halley client protocol (docs/protocol.md):
// one-line JSON frames, shared by the WebSocket, SSE and JSON long-poll
// transports, and cursors, the text form of a client's positions.
//
// Encoders append to a byte slice and never emit a raw LF or CR, so frames
// can be joined by LF (WebSocket batches) or put on one SSE data line.
package frame

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// Version is the protocol version announced in the hello frame.
const Version = 1

// Frame types, server to client.
const (
	TypeHello        = "hello"
	TypeSubscribed   = "subscribed"
	TypeMsg          = "msg"
	TypeGap          = "gap"
	TypeEnded        = "ended"
	TypeUnsubscribed = "unsubscribed"
	TypeError        = "error"
	TypeClose        = "close"
	TypeWritten      = "written"
	TypeListening    = "listening"
	TypeUnlistened   = "unlistened"
	TypeRefreshed    = "refreshed"
	// Presence (docs/protocol.md): a member joined or left a channel, or
	// the stream dropped some of those frames.
	TypeJoin         = "join"
	TypeLeave        = "leave"
	TypePresenceLost = "presence_lost"
)

// Frame types, client to server.
const (
	TypeSubscribe   = "subscribe"
	TypeUnsubscribe = "unsubscribe"
	TypeWrite       = "write"
	TypeListen      = "listen"
	TypeUnlisten    = "unlisten"
	TypeRefresh     = "refresh"
)

const hex = "0123456789abcdef"

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != 0x7f {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			if r == utf8.RuneError {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(dst, s[start:]...), '"')
}

// AppendData appends the payload fields of a message: "json":<payload> when
// the payload is a JSON text on one line; else "data":"<payload>" when it is
// UTF-8 text whose escaped form (what AppendString writes between the
// quotes) is no longer than its base64 form; else "data64":"<base64>". So
// text full of control characters, each escaped to 6 bytes, goes as
// base64, 4 bytes for 3. A client gets the exact bytes back from any of the
// three (see Data).
func AppendData(dst, data []byte) []byte {
	switch {
	case len(data) > 0 && oneLine(data) && Valid(data):
		dst = append(dst, `"json":`...)
		return append(dst, data...)
	case textFits(data, base64.StdEncoding.EncodedLen(len(data))):
		dst = append(dst, `"data":`...)
		return AppendString(dst, string(data))
	default:
		dst = append(dst, `"data64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, data)
		return append(dst, '"')
	}
}

// oneLine reports whether b has no line break (two IndexByte scans are
// vectorized, where IndexAny goes byte by byte).
func oneLine(b []byte) bool {
	return bytes.IndexByte(b, '\n') < 0 && bytes.IndexByte(b, '\r') < 0
}

// escapes holds, for each ASCII byte, the length AppendString writes for
// it.
var escapes = func() (t [utf8.RuneSelf]uint8) {
	for c := range t {
		switch {
		case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
			t[c] = 2
		case c < 0x20 || c == 0x7f:
			t[c] = 6 // \u00XX
		default:
			t[c] = 1
		}
	}
	return t
}()

// textFits reports whether data is valid UTF-8 whose escaped form, as
// AppendString writes it without the quotes, is at most limit bytes long.
// It reads data once and stops as soon as the answer is no.
func textFits(data []byte, limit int) bool {
	n := 0
	for i := 0; i < len(data); {
		// A run of bytes that stand for themselves costs one byte each.
		j := textRun(data, i)
		n += j - i
		if i = j; i == len(data) {
			break
		}
		if c := data[i]; c < utf8.RuneSelf {
			n += int(escapes[c])
			i++
		} else {
			r, size := utf8.DecodeRune(data[i:])
			switch r {
			case utf8.RuneError:
				if size == 1 {
					return false // not UTF-8
				}
				n += size
			case '\u2028', '\u2029':
				n += 6
			default:
				n += size
			}
			i += size
		}
		if n > limit {
			return false
		}
	}
	return n <= limit
}

// textRun returns the index of the first byte from data[i] on that
// AppendString does not write as itself (or len(data)): a control
// character, '"', '\\', DEL, or a byte of a multi-byte character. It reads
// eight bytes at a time, as plainRun does, DEL being one more stopper.
func textRun(data []byte, i int) int {
	const (
		lo = 0x0101010101010101
		hi = 0x8080808080808080
	)
	for len(data)-i >= 8 {
		x := binary.LittleEndian.Uint64(data[i:])
		q := x ^ (lo * '"')
		e := x ^ (lo * '\\')
		d := x ^ (lo * 0x7f)
		m := ((q-lo)&^q | (e-lo)&^e | (d-lo)&^d | (x-lo*0x20)&^x | x) & hi
		if m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	for i < len(data) && data[i] < utf8.RuneSelf && escapes[data[i]] == 1 {
		i++
	}
	return i
}

// MsgCap is a capacity for the msg frame of data on channel that holds it
// whole when data goes as JSON or as text with few escapes: AppendMsg
// into a slice of that capacity then allocates once.
func MsgCap(channel string, data []byte) int {
	return len(`{"type":"msg","channel":"","offset":,"data":""}`) + 20 + len(channel) + len(data) + len(data)/16 + 8
}

// AppendMsg appends a msg frame.
func AppendMsg(dst []byte, channel string, offset uint64, data []byte) []byte {
	dst = append(dst, `{"type":"msg","channel":`...)
	return appendMsgRest(AppendString(dst, channel), offset, data, false)
}

// AppendHello appends the hello frame that opens a stream; expires, when
// not 0, is when the client's grant ends (Unix seconds).
func AppendHello(dst []byte, session string, expires int64) []byte {
	dst = append(dst, `{"type":"hello","session":`...)
	dst = AppendString(dst, session)
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendInt(dst, Version, 10)
	return appendExpires(dst, expires)
}

func appendExpires(dst []byte, expires int64) []byte {
	if expires != 0 {
		dst = append(dst, `,"expires":`...)
		dst = strconv.AppendInt(dst, expires, 10)
	}
	return append(dst, '}')
}

// AppendRefreshed appends the answer to a refresh: the client's grant now
// ends at expires (Unix seconds; 0: never).
func AppendRefreshed(dst []byte, expires int64, ref string) []byte {
	dst = append(dst, `{"type":"refreshed"`...)
	if ref != "" {
		dst = append(dst, `,"ref":`...)
		dst = AppendString(dst, ref)
	}
	return appendExpires(dst, expires)
}

// AppendSubscribed appends a subscribed frame: the subscription starts
// after offset, in the given epoch.
func AppendSubscribed(dst []byte, channel, kind string, offset uint64, epoch string) []byte {
	dst = append(dst, `{"type":"subscribed","channel":`...)
	dst = AppendString(dst, channel)
	dst = append(dst, `,"kind":`...)
	dst = AppendString(dst, kind)
	return appendPos(dst, offset, epoch)
}

// AppendGap appends a gap frame: messages up to offset are lost to the
// client for the given reason, and the subscription goes on after offset.
func AppendGap(dst []byte, channel, reason string, offset uint64, epoch string) []byte {
	dst = append(dst, `{"type":"gap","channel":`...)
	dst = AppendString(dst, channel)
	dst = append(dst, `,"reason":`...)
	dst = AppendString(dst, reason)
	return appendPos(dst, offset, epoch)
}

func appendPos(dst []byte, offset uint64, epoch string) []byte {
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendUint(dst, offset, 10)
	dst = append(dst, `,"epoch":`...)
	dst = AppendString(dst, epoch)
	return append(dst, '}')
}

// AppendEnded appends an ended frame: the subscription is over.
func AppendEnded(dst []byte, channel, reason string) []byte {
	return appendChannelReason(dst, TypeEnded, channel, reason)
}

// AppendUnsubscribed appends the answer to an unsubscribe.
func AppendUnsubscribed(dst []byte, channel string) []byte {
	dst = append(dst, `{"type":"unsubscribed","channel":`...)
	dst = AppendString(dst, channel)
	return append(dst, '}')
}

func appendChannelReason(dst []byte, typ, channel, reason string) []byte {
	dst = append(dst, `{"type":`...)
	dst = AppendString(dst, typ)
	dst = append(dst, `,"channel":`...)
	dst = AppendString(dst, channel)
	dst = append(dst, `,"reason":`...)
	dst = AppendString(dst, reason)
	return append(dst, '}')
}

// AppendError appends an error frame about a client frame.
func AppendError(dst []byte, reason, message string) []byte {
	return AppendRefError(dst, "", reason, message)
}

// AppendRefError appends an error frame about the client frame tagged ref
// (a write).
func AppendRefError(dst []byte, ref, reason, message string) []byte {
	dst = append(dst, `{"type":"error","reason":`...)
	dst = AppendString(dst, reason)
	dst = append(dst, `,"message":`...)
	dst = AppendString(dst, message)
	if ref != "" {
		dst = append(dst, `,"ref":`...)
		dst = AppendString(dst, ref)
	}
	return append(dst, '}')
}

// AppendWritten appends the answer to a client's write: the offset its
// message got in the bus.
func AppendWritten(dst []byte, channel string, offset uint64, ref string) []byte {
	dst = append(dst, `{"type":"written","channel":`...)
	dst = AppendString(dst, channel)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendUint(dst, offset, 10)
	if ref != "" {
		dst = append(dst, `,"ref":`...)
		dst = AppendString(dst, ref)
	}
	return append(dst, '}')
}

// AppendListening appends the answer to listen: notifications of that
// notifier and key come as messages of the session's notification
// channel.
func AppendListening(dst []byte, notifier, key, channel, ref string) []byte {
	dst = append(dst, `{"type":"listening","notifier":`...)
	dst = AppendString(dst, notifier)
	dst = append(dst, `,"key":`...)
	dst = AppendString(dst, key)
	dst = append(dst, `,"channel":`...)
	dst = AppendString(dst, channel)
	return appendRef(dst, ref)
}

// AppendUnlistened appends the answer to unlisten.
func AppendUnlistened(dst []byte, notifier, key, ref string) []byte {
	dst = append(dst, `{"type":"unlistened","notifier":`...)
	dst = AppendString(dst, notifier)
	dst = append(dst, `,"key":`...)
	dst = AppendString(dst, key)
	return appendRef(dst, ref)
}

func appendRef(dst []byte, ref string) []byte {
	if ref != "" {
		dst = append(dst, `,"ref":`...)
		dst = AppendString(dst, ref)
	}
	return append(dst, '}')
}

// AppendClose appends the close frame sent before the server ends a stream.
func AppendClose(dst []byte, reason string) []byte {
	dst = append(dst, `{"type":"close","reason":`...)
	dst = AppendString(dst, reason)
	return append(dst, '}')
}

// Frame is any frame decoded: the union of the fields of every type.
type Frame struct {
	Type    string `json:"type"`
	Channel string `json:"channel,omitempty"`
	// Position fields: offset (subscribed, msg, gap, subscribe "after"),
	// epoch, and last (subscribe).
	Offset *uint64 `json:"offset,omitempty"`
	After  *uint64 `json:"after,omitempty"`
	Last   *int    `json:"last,omitempty"`
	Epoch  string  `json:"epoch,omitempty"`
	Kind   string  `json:"kind,omitempty"`
	// Payload of a msg frame: exactly one is set.
	JSON   json.RawMessage `json:"json,omitempty"`
	Text   *string         `json:"data,omitempty"`
	Data64 []byte          `json:"data64,omitempty"`

	Session string `json:"session,omitempty"`
	Version int    `json:"version,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`

	// Notifications: listen, unlisten, listening.
	Notifier string `json:"notifier,omitempty"`
	Key      string `json:"key,omitempty"`
	// Ref is a client's tag on a write, echoed by its written or error
	// frame.
	Ref string `json:"ref,omitempty"`

	// Token is a refresh frame's new token; Expires (hello, refreshed)
	// is when the client's grant ends, in Unix seconds (0: never).
	Token   string `json:"token,omitempty"`
	Expires int64  `json:"expires,omitempty"`

	// Presence, on a subscribe frame, asks for the channel's join and
	// leave frames; User is the member of a join or leave.
	Presence bool   `json:"presence,omitempty"`
	User     string `json:"user,omitempty"`
}

// HasData reports whether the frame carries a payload field.
func (f *Frame) HasData() bool { return f.JSON != nil || f.Text != nil || f.Data64 != nil }

// Data returns the payload bytes of a msg frame.
func (f *Frame) Data() []byte {
	switch {
	case f.JSON != nil:
		return f.JSON
	case f.Text != nil:
		return []byte(*f.Text)
	default:
		return f.Data64
	}
}

// Decode decodes one frame.
func Decode(b []byte) (Frame, error) {
	var f Frame
	err := json.Unmarshal(b, &f)
	return f, err
}
