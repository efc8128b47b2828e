package frame

import "strconv"

// Name is a channel id with the two forms the frames of its messages
// write it in, made once for all its messages: as a JSON string (a msg
// frame's "channel") and escaped for a cursor (an SSE event's id).
type Name struct {
	// ID is the channel id.
	ID     string
	quoted string // AppendString's form, quotes included
	query  string // appendQueryEscape's form
}

// NewName returns the Name of channel id.
func NewName(id string) *Name {
	return &Name{
		ID:     id,
		quoted: string(AppendString(nil, id)),
		query:  string(appendQueryEscape(nil, id)),
	}
}

// AppendMsgOf is AppendMsg for the channel n. isJSON tells that data is
// known to be one JSON value on one line (as json.Compact writes it),
// which is then appended as the "json" field without being checked;
// false leaves it to AppendData to find out.
func AppendMsgOf(dst []byte, n *Name, offset uint64, data []byte, isJSON bool) []byte {
	dst = append(dst, `{"type":"msg","channel":`...)
	return appendMsgRest(append(dst, n.quoted...), offset, data, isJSON)
}

// appendMsgRest appends the rest of a msg frame after its channel.
func appendMsgRest(dst []byte, offset uint64, data []byte, isJSON bool) []byte {
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendUint(dst, offset, 10)
	if isJSON {
		dst = append(dst, `,"json":`...)
		dst = append(dst, data...)
	} else {
		dst = append(dst, ',')
		dst = AppendData(dst, data)
	}
	return append(dst, '}')
}

// AppendEntryOf is AppendEntry for the channel n.
func AppendEntryOf(dst []byte, n *Name, offset uint64, epoch string) []byte {
	return appendEntryRest(append(dst, n.query...), offset, epoch)
}

// appendEntryRest appends the rest of a cursor entry after its channel.
func appendEntryRest(dst []byte, offset uint64, epoch string) []byte {
	dst = append(dst, ':')
	dst = strconv.AppendUint(dst, offset, 10)
	dst = append(dst, ':')
	return append(dst, epoch...)
}
