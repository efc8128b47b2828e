package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// maxCommandLine bounds one command-pipe line; longer lines are skipped.
const maxCommandLine = 4096

// openCommandPipe opens the FIFO at path, creating it (mode 0600) if
// missing. It is opened read-write so that opening does not wait for a
// writer and the reader never sees EOF when writers come and go; closing
// the file stops the reader.
func openCommandPipe(path string) (*os.File, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := mkfifo(path); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, pipeError(path, "cannot create the FIFO", err)
		}
		fi, err = os.Stat(path)
	}
	if err != nil {
		return nil, pipeError(path, "", err)
	}
	if fi.Mode().Type() != fs.ModeNamedPipe {
		return nil, fmt.Errorf("command pipe %s: exists and is not a FIFO", path)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, pipeError(path, "cannot open", err)
	}
	return f, nil
}

// pipeError names the command pipe's path once, with what failed.
func pipeError(path, what string, err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		err = pe.Err // the path is said already
	}
	if what != "" {
		return fmt.Errorf("command pipe %s: %s: %w", path, what, err)
	}
	return fmt.Errorf("command pipe %s: %w", path, err)
}

// commander runs command-pipe lines; *halley.Hub is one.
type commander interface {
	Command(line string) error
}

// readCommands runs each line of r through c and logs the outcome, until
// r fails (at shutdown, when the pipe is closed). Blank lines are skipped.
func readCommands(r io.Reader, c commander, logf func(format string, args ...any)) {
	br := bufio.NewReaderSize(r, maxCommandLine)
	for {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			logf("command pipe: line longer than %d bytes ignored", maxCommandLine)
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err != nil {
				return
			}
			continue
		}
		if len(bytes.TrimSpace(b)) > 0 {
			line := strings.TrimSpace(string(b))
			if cerr := c.Command(line); cerr != nil {
				logf("command %q: %v", line, cerr)
			} else {
				logf("command %q applied", line)
			}
		}
		if err != nil {
			return
		}
	}
}
