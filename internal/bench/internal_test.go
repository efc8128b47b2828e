package bench

import (
	"math"
	"testing"
	"time"

	"github.com/halleyhq/halley/client"
)

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://127.1.2.3", true},
		{"https://localhost:443/push", true},
		{"http://LOCALHOST", true},
		{"http://[::1]:8080", true},
		{"http://0.0.0.0:8080", false},
		{"http://192.168.1.2:8080", false},
		{"http://[::]:8080", false},
		{"http://localhost.example.com", false},
		{"http://128.0.0.1", false},
		{"ws://127.0.0.1", false},
		{"", false},
	}
	for _, tt := range tests {
		if err := checkLoopback(tt.url); (err == nil) != tt.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok %v", tt.url, err, tt.ok)
		}
	}
}

func TestPayload(t *testing.T) {
	for _, size := range []int{0, 30, 100, 5000} {
		b := appendPayload(nil, 42, 1767225600123456789, size)
		if size >= 60 && len(b) != size {
			t.Errorf("size %d: payload of %d bytes", size, len(b))
		}
		seq, ts, ok := parsePayload(b)
		if !ok || seq != 42 || ts != 1767225600123456789 {
			t.Errorf("parsePayload(%s) = %d, %d, %v", b, seq, ts, ok)
		}
	}
	for _, bad := range []string{"", `{"seq":1}`, `{"seq":,"t":1}`, `{"seq":1,"t":}`, `{"t":1,"seq":2}`, `"hi"`,
		`{"seq":1,"t":99999999999999999999}`} {
		if _, _, ok := parsePayload([]byte(bad)); ok {
			t.Errorf("parsePayload(%s) accepted", bad)
		}
	}
	if n := testing.AllocsPerRun(100, func() { parsePayload([]byte(`{"seq":1,"t":2,"pad":""}`)) }); n != 0 {
		t.Errorf("parsePayload allocates %v times", n)
	}
}

func FuzzParsePayload(f *testing.F) {
	f.Add([]byte(`{"seq":7,"t":12,"pad":"xx"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		seq, ts, ok := parsePayload(b)
		if ok && ts < 0 {
			t.Errorf("negative time %d from %q", ts, b)
		}
		if ok {
			// What parses comes back from the payload made of it.
			seq2, ts2, ok2 := parsePayload(appendPayload(nil, seq, ts, 100))
			if !ok2 || seq2 != seq || ts2 != ts {
				t.Errorf("%q parsed as %d, %d; its payload as %d, %d, %v", b, seq, ts, seq2, ts2, ok2)
			}
		}
	})
}

func TestHist(t *testing.T) {
	var h hist
	if h.Quantiles(0.5) != nil {
		t.Error("quantiles of an empty histogram")
	}
	// 1, 2, …, 100000 µs in ns.
	for v := int64(1); v <= 100000; v++ {
		h.Record(v * 1000)
	}
	h.Record(-5) // counts as 0
	q := h.Quantiles(0, 0.5, 0.9, 0.99, 1)
	want := []float64{0, 50000e3, 90000e3, 99000e3, 100000e3}
	for i := range q {
		if d := math.Abs(float64(q[i]) - want[i]); d > 0.01*want[i] {
			t.Errorf("quantile %d = %d, want %v within 1%%", i, q[i], want[i])
		}
	}
	// Small values are exact; every bucket's value falls in it.
	for _, v := range []int64{0, 1, 255, 256, 1000, 123456789, math.MaxInt64} {
		i := histIndex(v)
		if got := histIndex(histValue(i)); got != i {
			t.Errorf("value %d: bucket %d, whose middle %d is in bucket %d", v, i, histValue(i), got)
		}
		if v < 256 && histValue(i) != v {
			t.Errorf("value %d not exact: %d", v, histValue(i))
		}
		if d := math.Abs(float64(histValue(i) - v)); d > float64(v)/128 {
			t.Errorf("value %d: bucket middle %d, more than 1/128 away", v, histValue(i))
		}
	}
}

func TestParseProc(t *testing.T) {
	stat := []byte("1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 8 0 100 1000000 2000 18446744073709551615\n")
	d, err := parseStatCPU(stat)
	if err != nil || d.user != 2500*time.Millisecond || d.system != 750*time.Millisecond {
		t.Errorf("parseStatCPU = %+v, %v, want 2.5 s user, 0.75 s system", d, err)
	}
	for _, bad := range []string{"", "1 (x) S 1 2 3", "1 (x) S 1 2 3 4 5 6 7 8 9 10 -5 0"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q) accepted", bad)
		}
	}
	machine := []byte("cpu  100 5 50 800 10 1 4 30 7 0\ncpu0 50 2 25 400 5 1 2 15 3 0\nintr 1\n")
	if steal, total, err := parseMachineTicks(machine); err != nil || steal != 30 || total != 1000 {
		t.Errorf("parseMachineTicks = %d, %d, %v, want 30 of 1000", steal, total, err)
	}
	if steal, total, err := parseMachineTicks([]byte("cpu  100 5 50 800\n")); err != nil || steal != 0 || total != 955 {
		t.Errorf("parseMachineTicks (no steal field) = %d, %d, %v, want 0 of 955", steal, total, err)
	}
	for _, bad := range []string{"", "intr 1\n", "cpu0 1 2 3 4 5\n", "cpu 1 2 x 4\n", "cpu 1 2\n"} {
		if _, _, err := parseMachineTicks([]byte(bad)); err == nil {
			t.Errorf("parseMachineTicks(%q) accepted", bad)
		}
	}
	status := []byte("Name:\thalley\nVmPeak:\t  20000 kB\nVmRSS:\t   12345 kB\nThreads:\t5\n")
	if kb, err := parseStatusKB(status, "VmRSS"); err != nil || kb != 12345 {
		t.Errorf("VmRSS = %d, %v, want 12345", kb, err)
	}
	for _, field := range []string{"VmHWM", "Threads", "Name"} {
		if _, err := parseStatusKB(status, field); err == nil {
			t.Errorf("field %s accepted", field)
		}
	}
}

// TestHandle checks the accounting of a subscriber's events, with two
// lanes: publisher 0 sends the odd seqs, publisher 1 the even ones.
func TestHandle(t *testing.T) {
	r := &runner{cfg: Config{Subscribers: 1, Messages: 10, Channels: 1, Publishers: 2}, hist: new(hist), lanes: 2,
		allConnected: make(chan struct{}), allDone: make(chan struct{})}
	s := &subscriber{want: 10, next: []uint64{1, 2}, resync: make([]bool, 2)}
	r.remaining.Store(1)
	var offset uint64
	msg := func(seq uint64) client.Event {
		offset++
		return client.Event{Type: client.EventMsg, Offset: offset, Data: appendPayload(nil, seq, time.Now().UnixNano(), 0)}
	}
	events := []client.Event{
		{Type: client.EventSubscribed},
		msg(1), msg(2),
		msg(4), // lanes interleave: fine
		msg(3),
		msg(7), // out of order: 5 is missing from lane 0
		msg(5), // late: counted as a duplicate
		msg(4), // duplicate
	}
	events = append(events, client.Event{Type: client.EventGap, Offset: offset + 1}) // 6 and 8 lost
	offset++
	events = append(events,
		client.Event{Type: client.EventSubscribed}, // a resume: not a new connection
		msg(10), // lane 1 resumes after the gap
		client.Event{Type: client.EventMsg, Data: []byte("hello")},
		client.Event{Type: client.EventClose, Reason: "slow_client"},
	)
	for i := range events {
		r.handle(s, &events[i])
	}
	select {
	case <-r.allDone:
		t.Fatal("the subscriber is done before offset 10")
	default:
	}
	last := msg(9)
	r.handle(s, &last)
	if s.got != 7 || s.ooo != 1 || s.dup != 2 || s.gaps != 1 || s.bad != 1 || s.closes != 1 || s.deliveries != 9 {
		t.Errorf("got %d, ooo %d, dup %d, gaps %d, bad %d, closes %d, deliveries %d; want 7, 1, 2, 1, 1, 1, 9",
			s.got, s.ooo, s.dup, s.gaps, s.bad, s.closes, s.deliveries)
	}
	if r.connected.Load() != 1 {
		t.Errorf("connected %d, want 1", r.connected.Load())
	}
	select {
	case <-r.allDone:
	default:
		t.Error("the subscriber is not done at offset 10")
	}
}
