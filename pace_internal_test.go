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
		if p.gather(false) || time.Since(t0) != 0 {
			t.Fatalf("a stream that was not behind waited %v", time.Since(t0))
		}
		// Behind, 5 ms after the write: waits the 15 ms left.
		time.Sleep(5 * time.Millisecond)
		t0 = time.Now()
		if !p.gather(true) || time.Since(t0) != 15*time.Millisecond {
			t.Fatalf("a stream behind waited %v, want the 15ms left of the delay", time.Since(t0))
		}
		// Behind by more than the delay: what is pending goes at once.
		p.wrote()
		time.Sleep(25 * time.Millisecond)
		t0 = time.Now()
		if p.gather(true) || time.Since(t0) != 0 {
			t.Fatalf("a stream behind by more than the delay waited %v", time.Since(t0))
		}
		if a, g := counts.atOnce.Load(), counts.gathered.Load(); a != 2 || g != 1 {
			t.Errorf("counted %d at once, %d gathered; want 2, 1", a, g)
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
		if p.gather(true) || time.Since(t0) != 0 {
			t.Fatalf("without a delay, a stream waited %v", time.Since(t0))
		}
		if a, g := counts.atOnce.Load(), counts.gathered.Load(); a != 1 || g != 0 {
			t.Errorf("counted %d at once, %d gathered; want 1, 0: without a delay every write is at once", a, g)
		}
	})
}
