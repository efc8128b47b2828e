package redistest_test

import (
	"testing"

	"github.com/halleyhq/halley/internal/redistest"
)

func TestServer_Restart(t *testing.T) {
	t.Run("Persist", func(t *testing.T) {
		s := redistest.Start(t, redistest.Options{Persist: true})
		s.MustDo("SET", "k", "v")
		pid := s.PID()
		s.Restart()
		if s.PID() == pid || s.PID() == 0 {
			t.Errorf("PID %d after Restart; want a new process (was %d)", s.PID(), pid)
		}
		if got := s.MustDo("GET", "k"); got != "v" {
			t.Fatalf("GET k after a restart with persistence: %q; want v", got)
		}
	})

	t.Run("NoPersistence", func(t *testing.T) {
		s := redistest.Start(t, redistest.Options{})
		s.MustDo("SET", "k", "v")
		s.Kill()
		if _, err := s.Do("PING"); err == nil {
			t.Fatal("PING answered after Kill")
		}
		s.Start()
		if got := s.MustDo("EXISTS", "k"); got != "0" {
			t.Fatalf("EXISTS k after a restart without persistence: %q; want 0", got)
		}
	})

	t.Run("Replica", func(t *testing.T) {
		p := redistest.Start(t, redistest.Options{})
		r := redistest.Start(t, redistest.Options{ReplicaOf: p})
		if p.Port() == r.Port() || p.Port() == 6379 {
			t.Fatalf("ports %d and %d; want two free ports, never 6379", p.Port(), r.Port())
		}
		if got := r.MustDo("ROLE"); len(got) < 5 || got[:5] != "slave" {
			t.Fatalf("ROLE of the replica: %q; want slave…", got)
		}
	})
}

func TestServer_Do(t *testing.T) {
	s := redistest.Start(t, redistest.Options{})
	if _, err := s.Do("NOSUCHCOMMAND"); err == nil {
		t.Error("an unknown command answered no error")
	}
	s.MustDo("RPUSH", "l", "a", "", "c")
	if got := s.MustDo("LRANGE", "l", "0", "-1"); got != "a\n\nc" {
		t.Errorf("LRANGE: %q; want the three elements on lines", got)
	}
}
