package bench

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// sseDecoder turns the bytes of an SSE response body, chunked or not,
// into its lines, in whatever pieces they arrive: the raw subscribers of
// the poller read a socket's bytes themselves. Lines are bounded by
// rawLine, chunk-size lines by maxChunkLine.
type sseDecoder struct {
	chunked bool
	state   int   // chunked: dsSize, dsData or dsDataEnd
	left    int64 // dsData: bytes of the chunk still to come
	size    []byte
	partial []byte // a line begun but not ended
	// line gets each whole line, its LF cut off (a CR before it kept).
	line func(line []byte) error
}

// Chunked decoding states.
const (
	dsSize    = iota // reading a chunk-size line
	dsData           // reading a chunk's data
	dsDataEnd        // reading the CRLF after a chunk's data
)

// maxChunkLine bounds a chunk-size line (its size, extensions and CRLF).
const maxChunkLine = 256

// errBodyEnd is the last chunk of a chunked body: the stream ended.
var errBodyEnd = errors.New("the server ended the stream")

// feed decodes p, a piece of the body.
func (d *sseDecoder) feed(p []byte) error {
	if !d.chunked {
		return d.text(p)
	}
	for len(p) > 0 {
		switch d.state {
		case dsData:
			n := int(min(int64(len(p)), d.left))
			if err := d.text(p[:n]); err != nil {
				return err
			}
			p, d.left = p[n:], d.left-int64(n)
			if d.left == 0 {
				d.state = dsDataEnd
			}
		case dsDataEnd:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				return nil // the CR alone, or nothing yet
			}
			p, d.state = p[i+1:], dsSize
		default:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				if len(d.size)+len(p) > maxChunkLine {
					return errors.New("a chunk-size line too long")
				}
				d.size = append(d.size, p...)
				return nil
			}
			d.size = append(d.size, p[:i]...)
			p = p[i+1:]
			n, err := chunkSize(d.size)
			d.size = d.size[:0]
			if err != nil {
				return err
			}
			if n == 0 {
				return errBodyEnd
			}
			d.state, d.left = dsData, n
		}
	}
	return nil
}

// chunkSize parses a chunk-size line without its LF.
func chunkSize(line []byte) (int64, error) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimSpace(line)
	n, err := strconv.ParseInt(string(line), 16, 64)
	if err != nil || n < 0 || len(line) > 15 {
		return 0, fmt.Errorf("a bad chunk size %q", line)
	}
	return n, nil
}

// text splits body text into lines.
func (d *sseDecoder) text(p []byte) error {
	if len(d.partial) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(d.partial)+len(p) > rawLine {
				return fmt.Errorf("a line of over %d bytes", rawLine)
			}
			d.partial = append(d.partial, p...)
			return nil
		}
		d.partial = append(d.partial, p[:i]...)
		err := d.line(d.partial)
		d.partial = d.partial[:0]
		if err != nil {
			return err
		}
		p = p[i+1:]
	}
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			break
		}
		if err := d.line(p[:i]); err != nil {
			return err
		}
		p = p[i+1:]
	}
	if len(p) > rawLine {
		return fmt.Errorf("a line of over %d bytes", rawLine)
	}
	d.partial = append(d.partial, p...)
	return nil
}
