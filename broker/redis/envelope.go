package redis

import (
	"errors"
	"strconv"
	"strings"
)

// What travels on the pub/sub channels. The envelopes are text up to their
// payload, which follows as raw bytes: cheap to build in Lua, cheap to cut.
//
//	stream channel:    "<offset> <epoch> <previous id><id><data>"
//	                   (offset in decimal; an epoch has no space; ids have
//	                   idLen characters, noID for none)
//	broadcast channel: "<len(topic)>:<topic><data>"
//	probe channel:     a token, as Ready sent it

var errEnvelope = errors.New("redis broker: malformed envelope")

// decodeMessage cuts a stream channel's envelope.
func decodeMessage(env string) (offset uint64, epoch, prev, id, data string, err error) {
	off, rest, ok := strings.Cut(env, " ")
	if !ok {
		return 0, "", "", "", "", errEnvelope
	}
	epoch, rest, ok = strings.Cut(rest, " ")
	if !ok || epoch == "" || len(rest) < 2*idLen {
		return 0, "", "", "", "", errEnvelope
	}
	offset, err = strconv.ParseUint(off, 10, 64)
	if err != nil || offset == 0 {
		return 0, "", "", "", "", errEnvelope
	}
	return offset, epoch, rest[:idLen], rest[idLen : 2*idLen], rest[2*idLen:], nil
}

// encodeBroadcast builds a broadcast channel's envelope.
func encodeBroadcast(topic string, data []byte) string {
	var sb strings.Builder
	n := strconv.Itoa(len(topic))
	sb.Grow(len(n) + 1 + len(topic) + len(data))
	sb.WriteString(n)
	sb.WriteByte(':')
	sb.WriteString(topic)
	sb.Write(data)
	return sb.String()
}

// decodeBroadcast cuts a broadcast channel's envelope.
func decodeBroadcast(env string) (topic, data string, err error) {
	n, rest, ok := strings.Cut(env, ":")
	if !ok {
		return "", "", errEnvelope
	}
	size, err := strconv.Atoi(n)
	if err != nil || size < 0 || size > len(rest) {
		return "", "", errEnvelope
	}
	return rest[:size], rest[size:], nil
}
