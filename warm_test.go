package halley

import "testing"

// TestWarm checks that warming reads a stream in any state without
// failing (no subscription, an ended one, no session or socket, a closed
// session) and reaches its first live subscription.
func TestWarm(t *testing.T) {
	s := &Session{}
	s.ended.Store(true)
	live := &stream{subs: []*streamSub{{after: 1000}}}
	ended := &stream{subs: []*streamSub{{after: 1000, done: true}}}
	cases := []struct {
		name string
		s    pooledStream
		sub  uintptr // what level 2 reads
	}{
		{"sse, bare", &sseConn{st: &stream{}}, 0},
		{"sse, live", &sseConn{st: live, s: s, sockWriter: sockWriter{sock: &rawSock{fd: 3}}, pos: []ssePos{{after: 7}}}, 1000},
		{"sse, ended", &sseConn{st: ended}, 0},
		{"ws, bare", &wsConn{st: &stream{}, v: &visit{}}, 0},
		{"ws, live", &wsConn{st: &stream{subs: live.subs, session: s}, v: &visit{}, sockWriter: sockWriter{sock: &rawSock{fd: 3}}}, 1000},
		{"poll", &parkedPoll{gen: 2}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for l := range warmLevels - 1 {
				tc.s.warm(l)
			}
			if got := tc.s.warm(warmLevels - 1); got != tc.sub {
				t.Errorf("level %d read %d, want %d", warmLevels-1, got, tc.sub)
			}
		})
	}
	warmBatch([]*poolSlot{{s: cases[1].s}, {s: cases[4].s}})

	// wakeBatch wakes each waiter, pooled or not (a slot its owner has
	// goes on to the waiter's channel).
	ws := []*waiter{newWaiter(true), newWaiter(true)}
	ws[1].pooled = &poolSlot{s: cases[1].s}
	wakeBatch(ws, nil)
	for i, w := range ws {
		select {
		case <-w.wake:
		default:
			t.Errorf("waiter %d was not woken", i)
		}
	}
}
