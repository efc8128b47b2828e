package halley

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestPacer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var counts writeCounts
		p := newPacer(20*time.Millisecond, &counts)
		defer p.stop()

		// Woken for a message: at once, even right after a write.
		p.wrote()
		t0 := time.Now()
		if p.gather(1, false, 0) || time.Since(t0) != 0 {
			t.Fatalf("a stream that was not behind waited %v", time.Since(t0))
		}
		// Behind, 5 ms after the write: waits the 15 ms left.
		time.Sleep(5 * time.Millisecond)
		t0 = time.Now()
		if !p.gather(1, true, 0) || time.Since(t0) != 15*time.Millisecond {
			t.Fatalf("a stream behind waited %v, want the 15ms left of the delay", time.Since(t0))
		}
		// Behind by more than the delay: what is pending goes at once.
		p.wrote()
		time.Sleep(25 * time.Millisecond)
		t0 = time.Now()
		if p.gather(1, true, 0) || time.Since(t0) != 0 {
			t.Fatalf("a stream behind by more than the delay waited %v", time.Since(t0))
		}
		if a, g := counts.atOnce.Load(), counts.gathered.Load(); a != 2 || g != 1 {
			t.Errorf("counted %d at once, %d gathered; want 2, 1", a, g)
		}

		// A stream that wakes to several messages makes the server
		// behind: another stream, woken for one, gathers too, for a
		// delay after that.
		other := newPacer(20*time.Millisecond, &counts)
		defer other.stop()
		p.wrote()
		other.wrote()
		time.Sleep(10 * time.Millisecond)
		t0 = time.Now()
		if !p.gather(3, false, 0) || time.Since(t0) != 10*time.Millisecond {
			t.Fatalf("a stream woken to a backlog waited %v, want the 10ms left", time.Since(t0))
		}
		other.wrote()
		t0 = time.Now()
		if !other.gather(1, false, 0) || time.Since(t0) != 20*time.Millisecond {
			t.Fatalf("a stream woken for one message while the server is behind waited %v, want 20ms", time.Since(t0))
		}
		other.wrote()
		time.Sleep(time.Millisecond)
		t0 = time.Now()
		if other.gather(1, false, 0) || time.Since(t0) != 0 {
			t.Fatalf("a stream woken for one message a delay after the last backlog waited %v", time.Since(t0))
		}
	})
}

func TestPacer_NoDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var counts writeCounts
		p := newPacer(-1, &counts)
		defer p.stop()
		p.wrote()
		t0 := time.Now()
		if p.gather(5, true, 0) || time.Since(t0) != 0 {
			t.Fatalf("without a delay, a stream waited %v", time.Since(t0))
		}
		if a, g := counts.atOnce.Load(), counts.gathered.Load(); a != 1 || g != 0 {
			t.Errorf("counted %d at once, %d gathered; want 1, 0: without a delay every write is at once", a, g)
		}
	})
}
