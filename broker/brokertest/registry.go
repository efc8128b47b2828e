package brokertest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/halleyhq/halley/broker"
)

// RunRegistry runs the registry cases against two registries a and b that
// share one backend (two nodes of one cluster), or the same registry twice.
// Table names are unique per call.
func RunRegistry(t *testing.T, a, b broker.Registry) {
	t.Helper()
	var tag [6]byte
	_, _ = rand.Read(tag[:])
	table := func(name string) string { return fmt.Sprintf("t%x-%s", tag, name) }

	t.Run("ClaimLookupRelease", func(t *testing.T) {
		tb := table("clr")
		if _, err := a.Claim(t.Context(), tb, "k", []byte("one"), broker.ClaimOptions{}); err != nil {
			t.Fatalf("Claim: %v", err)
		}
		found, err := b.Claim(t.Context(), tb, "k", []byte("two"), broker.ClaimOptions{})
		if !errors.Is(err, broker.ErrTaken) || string(found) != "one" {
			t.Fatalf("second Claim on the other node: %q, %v; want \"one\", ErrTaken", found, err)
		}
		if v, err := b.Lookup(t.Context(), tb, "k"); err != nil || string(v) != "one" {
			t.Fatalf("Lookup on the other node: %q, %v", v, err)
		}
		if err := b.Release(t.Context(), tb, "k"); err != nil {
			t.Fatalf("Release: %v", err)
		}
		if _, err := a.Lookup(t.Context(), tb, "k"); !errors.Is(err, broker.ErrNotFound) {
			t.Fatalf("Lookup after Release: %v; want ErrNotFound", err)
		}
		if err := a.Release(t.Context(), tb, "k"); err != nil {
			t.Fatalf("second Release: %v", err)
		}
	})
	t.Run("LimitCountsConcurrently", func(t *testing.T) {
		tb := table("limit")
		const limit, tries = 5, 40
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, full := 0, 0
		for i := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				reg := a
				if i%2 == 1 {
					reg = b
				}
				_, err := reg.Claim(t.Context(), tb, fmt.Sprint("k", i), []byte("x"), broker.ClaimOptions{Limit: limit})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, broker.ErrLimit):
					full++
				default:
					t.Errorf("Claim: %v", err)
				}
			}()
		}
		wg.Wait()
		if won != limit || full != tries-limit {
			t.Fatalf("%d claims with limit %d: %d stored, %d full", tries, limit, won, full)
		}
		if _, err := a.Claim(t.Context(), tb, "free", []byte("x"), broker.ClaimOptions{Limit: limit, Uncounted: true}); err != nil {
			t.Fatalf("an uncounted Claim in a full table: %v", err)
		}
		if n, err := b.Count(t.Context(), tb); err != nil || n != limit {
			t.Fatalf("Count: %d, %v; want %d", n, err, limit)
		}
		if err := a.Release(t.Context(), tb, "free"); err != nil {
			t.Fatal(err)
		}
		for i := range tries {
			if err := a.Release(t.Context(), tb, fmt.Sprint("k", i)); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := b.Count(t.Context(), tb); err != nil || n != 0 {
			t.Fatalf("Count after releasing everything: %d, %v", n, err)
		}
	})
	t.Run("Epoch", func(t *testing.T) {
		ea, err := a.Epoch(t.Context())
		if err != nil || ea == "" {
			t.Fatalf("Epoch: %q, %v", ea, err)
		}
		if eb, err := b.Epoch(t.Context()); err != nil || eb != ea {
			t.Fatalf("Epoch on the other node: %q, %v; want %q", eb, err, ea)
		}
	})
	t.Run("PutAll", func(t *testing.T) {
		tb := table("put")
		if _, err := a.Claim(t.Context(), tb, "c", []byte("counted"), broker.ClaimOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := a.Put(t.Context(), tb, "c", []byte("replaced"), 0); err != nil {
			t.Fatalf("Put over a counted record: %v", err)
		}
		if err := b.Put(t.Context(), tb, "p", []byte("put"), 0); err != nil {
			t.Fatalf("Put: %v", err)
		}
		all, err := a.All(t.Context(), tb)
		if err != nil || len(all) != 2 || string(all["c"]) != "replaced" || string(all["p"]) != "put" {
			t.Fatalf("All: %q, %v", all, err)
		}
		if n, err := a.Count(t.Context(), tb); err != nil || n != 0 {
			t.Fatalf("Count after Put replaced the counted record: %d, %v; want 0", n, err)
		}
		if err := a.Put(t.Context(), tb, "t", []byte("for a while"), time.Hour); err != nil {
			t.Fatalf("Put with a TTL: %v", err)
		}
		if v, err := b.Lookup(t.Context(), tb, "t"); err != nil || string(v) != "for a while" {
			t.Fatalf("Lookup of a record put with a TTL: %q, %v", v, err)
		}
		if all, err := a.All(t.Context(), tb); err != nil || len(all) != 2 {
			t.Fatalf("All lists records with a TTL: %q, %v", all, err)
		}
	})
	t.Run("TTL", func(t *testing.T) {
		tb := table("ttl")
		if _, err := a.Claim(t.Context(), tb, "s", []byte("u"), broker.ClaimOptions{TTL: time.Hour}); err != nil {
			t.Fatalf("Claim with a TTL: %v", err)
		}
		if _, err := b.Claim(t.Context(), tb, "s", []byte("v"), broker.ClaimOptions{TTL: time.Hour}); !errors.Is(err, broker.ErrTaken) {
			t.Fatalf("second Claim: %v; want ErrTaken", err)
		}
		if err := b.Refresh(t.Context(), tb, "s", time.Hour); err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		if err := b.Refresh(t.Context(), tb, "none", time.Hour); !errors.Is(err, broker.ErrNotFound) {
			t.Fatalf("Refresh of a missing key: %v; want ErrNotFound", err)
		}
		// A record that expires is gone for every node.
		if err := b.Refresh(t.Context(), tb, "s", time.Millisecond); err != nil {
			t.Fatalf("Refresh to 1 ms: %v", err)
		}
		for {
			_, err := a.Lookup(t.Context(), tb, "s")
			if errors.Is(err, broker.ErrNotFound) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if t.Context().Err() != nil {
				t.Fatal("the record never expired")
			}
		}
		if n, err := a.Count(t.Context(), tb); err != nil || n != 0 {
			t.Fatalf("Count of a table of TTL records: %d, %v; want 0", n, err)
		}
	})
}
