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
		took := func(f func() bool) (bool, time.Duration) {
			t0 := time.Now()
			ok := f()
			return ok, time.Since(t0)
		}
		wrote := func() bool { p.wrote(); return false }

		// The first write goes at once, and a stream that is not busy
		// does not rest after it.
		if waited, d := took(p.hold); waited || d != 0 {
			t.Fatalf("a first write waited %v", d)
		}
		if _, d := took(wrote); d != 0 {
			t.Fatalf("a stream that is not busy rested %v after a write", d)
		}
		// 5 ms after a write: waits the 15 ms left, and is busy.
		time.Sleep(5 * time.Millisecond)
		if waited, d := took(p.hold); !waited || d != 15*time.Millisecond {
			t.Fatalf("a write 5ms after the last waited %v, want the 15ms left of the delay", d)
		}
		// A busy stream rests the delay after its write; what it finds
		// then is gathered, without more waiting.
		if _, d := took(wrote); d != 20*time.Millisecond {
			t.Fatalf("a busy stream rested %v after a write, want 20ms", d)
		}
		if waited, d := took(p.hold); waited || d != 0 {
			t.Fatalf("a write after the rest waited %v more", d)
		}
		if _, d := took(wrote); d != 20*time.Millisecond {
			t.Fatalf("a busy stream rested %v after a write, want 20ms", d)
		}
		// It found nothing more, blocked, and was woken past the delay:
		// at once, and no longer busy.
		p.idle()
		time.Sleep(25 * time.Millisecond)
		if waited, d := took(p.hold); waited || d != 0 {
			t.Fatalf("a write 25ms after the last waited %v", d)
		}
		if _, d := took(wrote); d != 0 {
			t.Fatalf("a stream no longer busy rested %v after a write", d)
		}
		if a, g := counts.atOnce.Load(), counts.gathered.Load(); a != 2 || g != 2 {
			t.Errorf("counted %d at once, %d gathered; want 2, 2", a, g)
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
		if p.hold() || time.Since(t0) != 0 {
			t.Fatalf("without a delay, a write waited %v", time.Since(t0))
		}
		if a, g := counts.atOnce.Load(), counts.gathered.Load(); a != 1 || g != 0 {
			t.Errorf("counted %d at once, %d gathered; want 1, 0", a, g)
		}
	})
}
