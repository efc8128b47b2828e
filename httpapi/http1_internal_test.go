package httpapi

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
)

// TestHeadEnd: the end of a head is found whatever the pieces it comes
// in, and only once it has come.
func TestHeadEnd(t *testing.T) {
	heads := []string{
		"POST / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\nHost: a\n\n",
		"POST / HTTP/1.1\r\nHost: a\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
	}
	for _, h := range heads {
		b := []byte(h + "BODY")
		for step := 1; step <= len(b); step++ {
			from, got := 0, 0
			for end := step; got == 0; end = min(end+step, len(b)) {
				got, from = headEnd(b[:end], from)
				if got == 0 && end == len(b) {
					break
				}
			}
			if got != len(h) {
				t.Errorf("%q in pieces of %d: end %d, want %d", h, step, got, len(h))
			}
		}
	}
	if n, _ := headEnd([]byte("POST / HTTP/1.1\r\nHost: a\r\n"), 0); n != 0 {
		t.Errorf("an unfinished head ends at %d", n)
	}
}

// FuzzParseHead: parseHead never fails on any bytes, and a head it takes
// is read by net/http the same way: the same method, path, length, Host,
// Connection and the header values the API reads.
func FuzzParseHead(f *testing.F) {
	f.Add([]byte("POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n"))
	f.Add([]byte("POST /api/publish HTTP/1.1\r\nhost:localhost\r\nconnection: Close\r\nOrigin: http://x\r\norigin: http://y\r\nSec-Fetch-Site: none\r\nAuthorization: Bearer k\r\n\r\n"))
	f.Add([]byte("POST /api/publish HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"))
	f.Add([]byte("POST /api/publish HTTP/1.1\r\nHost: a\r\nX: \x80\xff\t\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, _ := headEnd(b, 0)
		if n == 0 {
			return
		}
		var h leanHead
		if !parseHead(b[:n], &h) {
			return
		}
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b[:n])))
		if err != nil {
			t.Fatalf("parseHead takes %q, net/http refuses it: %v", b[:n], err)
		}
		switch {
		case r.Method != http.MethodPost || r.URL.Path != publishPath || r.RequestURI != publishPath:
			t.Fatalf("%q: net/http reads %s %s", b[:n], r.Method, r.RequestURI)
		case r.ContentLength != h.length || r.Host != string(h.host) || r.Close != h.close:
			t.Fatalf("%q: length %d host %q close %v; net/http: %d %q %v", b[:n], h.length, h.host, h.close, r.ContentLength, r.Host, r.Close)
		case r.TransferEncoding != nil || r.Header["Expect"] != nil:
			t.Fatalf("%q: net/http sees a transfer coding or an Expect", b[:n])
		}
		one := func(name string, v []byte) {
			if got := r.Header.Values(name); v == nil && len(got) != 0 || v != nil && (len(got) != 1 || got[0] != string(v)) {
				t.Fatalf("%q: %s %q; net/http: %q", b[:n], name, v, got)
			}
		}
		one("Content-Type", h.contentType)
		one("Authorization", h.authorization)
		many := func(name string, vs [][]byte) {
			got := r.Header.Values(name)
			if len(got) != len(vs) {
				t.Fatalf("%q: %s %q; net/http: %q", b[:n], name, vs, got)
			}
			for i := range vs {
				if got[i] != string(vs[i]) {
					t.Fatalf("%q: %s %q; net/http: %q", b[:n], name, vs, got)
				}
			}
		}
		many("Origin", h.origin)
		many("Sec-Fetch-Site", h.fetchSite)
	})
}

// TestLeanBody: a body is read from the buffer first, then from the
// connection, never past its length; a connection that ends early is an
// unexpected EOF.
func TestLeanBody(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	c := &leanConn{conn: server, buf: make([]byte, 16)}
	c.w = copy(c.buf, "hello")
	c.body = leanBody{c: c, n: 11}
	go func() {
		_, _ = io.WriteString(client, " world!NEXT")
		client.Close()
	}()
	got := make([]byte, 0, 32)
	for {
		k, err := c.body.Read(got[len(got):cap(got)])
		got = got[:len(got)+k]
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if string(got) != "hello world" {
		t.Errorf("body %q, want %q", got, "hello world")
	}
	// The rest is the next head's, left on the connection.
	rest, _ := io.ReadAll(server)
	if string(rest) != "!NEXT" {
		t.Errorf("left %q, want %q", rest, "!NEXT")
	}
	c.body = leanBody{c: c, n: 5}
	if _, err := c.body.Read(make([]byte, 8)); err != io.ErrUnexpectedEOF {
		t.Errorf("read after the end: %v, want an unexpected EOF", err)
	}
}

// FuzzIsFieldValue: the word-at-a-time check says what the byte-by-byte
// one says, for any bytes (a tab, a DEL, a control byte or one of 0x80 and
// over anywhere in a word).
func FuzzIsFieldValue(f *testing.F) {
	f.Add([]byte("application/json; charset=utf-8"))
	f.Add([]byte("Bearer abc\tdef ghi\x80\xff"))
	f.Add([]byte("0123456\x7f89abcdef"))
	f.Add([]byte("0123456789\x1fabcdef"))
	f.Add([]byte("\x20\x20\x20\x20\x20\x20\x20\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := isFieldValue(b), plainValue(b); got != want {
			t.Fatalf("isFieldValue(%q) = %v, byte by byte %v", b, got, want)
		}
	})
}
