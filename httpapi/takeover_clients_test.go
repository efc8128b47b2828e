package httpapi_test

import (
	"fmt"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
)

// TestTakeOver_CommonClients: the heads that common HTTP clients send
// (curl, Node's fetch, Python's requests: other fields, in other cases
// and orders) are served by the lean loop, each connection taken over
// once and never given back, and every publish of them is answered in
// order with its own body's length.
func TestTakeOver_CommonClients(t *testing.T) {
	heads := map[string]string{
		"curl": "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n" +
			"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		"node fetch": "POST /api/publish HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nconnection: keep-alive\r\ncontent-type: application/json\r\n" +
			"accept: */*\r\naccept-language: *\r\nsec-fetch-mode: cors\r\nuser-agent: node\r\naccept-encoding: gzip, deflate\r\ncontent-length: %d\r\n\r\n",
		"python requests": "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: python-requests/2.31.0\r\nAccept-Encoding: gzip, deflate\r\n" +
			"Accept: */*\r\nConnection: keep-alive\r\nContent-Length: %d\r\nContent-Type: application/json\r\n\r\n",
	}
	for name, head := range heads {
		t.Run(name, func(t *testing.T) {
			e, id := takeOverEnv(t, halley.Config{}, httpapi.Options{})
			addr := e.srv.Listener.Addr().String()
			c := dialRaw(t, addr)
			for i, data := range []string{`"a"`, `{"n":12345}`, `"bc"`, `[1,2,3]`} {
				body := `{"channel":"` + id + `","data":` + data + `}`
				c.send(fmt.Sprintf(head, len(body)) + body)
				wantOffset(t, c.answer(), float64(i+1))
			}
			if taken, given := takeOvers(addr); taken != 1 || given != 0 {
				t.Errorf("%d takeovers, %d given back; want 1 and 0", taken, given)
			}
			got := e.readAll(id)
			if want := []string{"a", `{"n":12345}`, "bc", "[1,2,3]"}; fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("messages %q, want %q", got, want)
			}
		})
	}
}
