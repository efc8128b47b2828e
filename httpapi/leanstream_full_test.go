//go:build unix

package httpapi_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestPublishStream_FullAnswerSocket: a publisher that sends a stream's
// lines without reading their answers fills its socket, and the stream
// taken from net/http has to wait to write an answer. It writes the
// streams the line woke first (an SSE stream, having caught up before
// each line): the SSE stream has that line's message while the answer
// waits, and no subscriber waits for the publisher. Once the publisher
// reads, every line has its answer, in order.
func TestPublishStream_FullAnswerSocket(t *testing.T) {
	f := newFullSocket(t)
	conn, id := f.conn, f.id
	send := func(s string) {
		t.Helper()
		if _, err := io.WriteString(conn, s); err != nil {
			t.Fatal(err)
		}
	}
	send("POST /api/publish/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n")
	n, _ := f.untilAnswerWaits(func(i uint64) {
		line := fmt.Sprintf(`{"channel":%q,"data":"m%d"}`+"\n", id, i)
		send(fmt.Sprintf("%x\r\n%s\r\n", len(line), line))
	})
	if leanStreams(f.addr) != 1 {
		t.Fatalf("the stream was not taken from net/http")
	}

	// The publisher ends its body and reads: each line has its answer.
	send("0\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := range n {
		fmt.Fprintf(&want, `{"offset":%d,"delivered":1}`+"\n", i+1)
	}
	if string(body) != want.String() {
		t.Errorf("answers %q, want %d, in order, each delivered to the SSE stream", body, n)
	}
}
