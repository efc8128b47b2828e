package halley_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/halleyhq/halley"
)

// notifications reads what a session's notification channel holds after
// position after.
func notifications(t testing.TB, h *halley.Hub, chID string, after uint64) []string {
	t.Helper()
	c, ok := h.Channel(chID)
	if !ok {
		t.Fatalf("notification channel %q not found", chID)
	}
	if c.Offset() <= after {
		return nil
	}
	msgs, err := c.Read(testCtx(t), after, 0)
	if err != nil {
		t.Fatal(err)
	}
	return datas(msgs)
}

type docEvent struct {
	Doc    int    `json:"doc"`
	Editor string `json:"editor"`
}

func TestNotifier_PrepareBlocks(t *testing.T) {
	h := newHub(t, halley.Config{})
	alice, _ := h.NewSession()
	alice.SetUser("alice")
	bob, _ := h.NewSession()
	bob.SetUser("bob")
	n, err := halley.NewNotifier(h, halley.NotifierOptions[int, docEvent, string]{
		Name: "docs",
		Prepare: func(_ context.Context, id halley.Identity, key int, ev docEvent) (string, bool, error) {
			if id.User == ev.Editor {
				return "", false, nil // no need to tell the editor
			}
			return fmt.Sprintf("%s edited doc %d (for %s)", ev.Editor, key, id.User), true, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	chA, _ := n.Listen(alice, 42)
	chB, _ := n.Listen(bob, 42)
	if _, err := n.Listen(bob, 7); err != nil {
		t.Fatal(err)
	}
	sent, err := n.Notify(testCtx(t), 42, docEvent{Doc: 42, Editor: "alice"}, halley.NotFor{})
	if err != nil || sent != 1 {
		t.Fatalf("Notify: %d, %v; want 1 (alice is blocked)", sent, err)
	}
	if got := notifications(t, h, chA, 0); got != nil {
		t.Fatalf("alice got %v", got)
	}
	want := `{"notifier":"docs","key":"42","json":"alice edited doc 42 (for bob)"}`
	if got := notifications(t, h, chB, 0); !slices.Equal(got, []string{want}) {
		t.Fatalf("bob got %v", got)
	}
	if n.Listeners(42) != 2 || n.Listeners(7) != 1 || n.Listeners(8) != 0 {
		t.Fatalf("listeners: %d %d %d", n.Listeners(42), n.Listeners(7), n.Listeners(8))
	}
}

func TestNotifier_NotFor(t *testing.T) {
	h := newHub(t, halley.Config{})
	n, err := halley.NewSimpleNotifier[string, string](h, "chat")
	if err != nil {
		t.Fatal(err)
	}
	a1, _ := h.NewSession()
	a1.SetUser("ann")
	a2, _ := h.NewSession()
	a2.SetUser("ann")
	b, _ := h.NewSession()
	for _, s := range []*halley.Session{a1, a2, b} {
		if _, err := n.Listen(s, "room"); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		notFor halley.NotFor
		want   int
	}{
		{name: "Everybody", want: 3},
		{name: "NotForMe", notFor: halley.NotFor{Session: a1.ID()}, want: 2},
		{name: "NotForUser", notFor: halley.NotFor{User: "ann"}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent, err := n.Notify(testCtx(t), "room", "hi", tt.notFor)
			if err != nil || sent != tt.want {
				t.Fatalf("sent %d, %v; want %d", sent, err, tt.want)
			}
		})
	}
}

func TestNotifier_CleanupOnSessionClose(t *testing.T) {
	h := newHub(t, halley.Config{})
	n, _ := halley.NewSimpleNotifier[string, string](h, "feed")
	s, _ := h.NewSession()
	ch, _ := n.Listen(s, "k")
	s.Close()
	if n.Listeners("k") != 0 {
		t.Fatal("a closed session still listens")
	}
	if _, ok := h.Channel(ch); ok {
		t.Fatal("a closed session's notification channel is still there")
	}
	if sent, _ := n.Notify(testCtx(t), "k", "x", halley.NotFor{}); sent != 0 {
		t.Fatalf("notified %d", sent)
	}
	if _, err := n.Listen(s, "k"); !errors.Is(err, halley.ErrSessionClosed) {
		t.Fatalf("Listen on a closed session: %v", err)
	}
}

func TestNotifier_Unlisten(t *testing.T) {
	h := newHub(t, halley.Config{})
	n, _ := halley.NewSimpleNotifier[string, string](h, "feed")
	s, _ := h.NewSession()
	ch, _ := n.Listen(s, "k")
	n.Unlisten(s, "k")
	if sent, _ := n.Notify(testCtx(t), "k", "x", halley.NotFor{}); sent != 0 || notifications(t, h, ch, 0) != nil {
		t.Fatalf("notified after Unlisten: %d", sent)
	}
}

func TestNotifier_UnlistenUser(t *testing.T) {
	h := newHub(t, halley.Config{})
	n, _ := halley.NewSimpleNotifier[string, string](h, "feed")
	var sessions []*halley.Session
	for _, u := range []string{"ann", "ann", "bob"} {
		s, _ := h.NewSession()
		s.SetUser(u)
		n.Listen(s, "k")
		n.Listen(s, "other")
		sessions = append(sessions, s)
	}
	if dropped := n.UnlistenUser("ann", "k"); dropped != 2 {
		t.Fatalf("UnlistenUser dropped %d, want ann's 2 tabs", dropped)
	}
	if n.Listeners("k") != 1 || n.Listeners("other") != 3 {
		t.Fatalf("listeners after: k %d, other %d", n.Listeners("k"), n.Listeners("other"))
	}
}

func TestNotifier_OrderAndOverflow(t *testing.T) {
	h := newHub(t, halley.Config{NotifyQueue: 3})
	n, _ := halley.NewSimpleNotifier[string, int](h, "count")
	s, _ := h.NewSession()
	ch, _ := n.Listen(s, "k")
	for i := 1; i <= 5; i++ {
		n.Notify(testCtx(t), "k", i, halley.NotFor{})
	}
	c, _ := h.Channel(ch)
	// Fell behind by more than the bound: a gap, never silence...
	if _, err := c.Read(testCtx(t), 0, 0); !errors.Is(err, halley.ErrChannelFull) {
		t.Fatalf("overflowed listener: %v", err)
	}
	// ...then the retained ones, in the order they were sent.
	got := notifications(t, h, ch, 2)
	if len(got) != 3 || !strings.Contains(got[0], `"json":3`) || !strings.Contains(got[2], `"json":5`) {
		t.Fatalf("after the gap: %v", got)
	}
}

func TestNotifier_ByName(t *testing.T) {
	h := newHub(t, halley.Config{})
	if _, err := halley.NewSimpleNotifier[string, string](h, "feed"); err != nil {
		t.Fatal(err)
	}
	if _, err := halley.NewSimpleNotifier[string, string](h, "feed"); !errors.Is(err, halley.ErrNameTaken) {
		t.Fatalf("second notifier named feed: %v", err)
	}
	if _, err := halley.NewNotifier(h, halley.NotifierOptions[string, int, string]{Name: "x"}); !errors.Is(err, halley.ErrInvalidOptions) {
		t.Fatalf("S != C without Prepare: %v", err)
	}
	s, _ := h.NewSession()
	if _, err := h.Listen(s, "nope", "k"); !errors.Is(err, halley.ErrUnknownNotifier) {
		t.Fatalf("unknown notifier: %v", err)
	}
	ch, err := h.Listen(s, "feed", "k")
	if err != nil {
		t.Fatal(err)
	}
	if sent, err := h.Notify(testCtx(t), "feed", "k", []byte(`"news"`), halley.NotFor{}); sent != 1 || err != nil {
		t.Fatalf("Notify by name: %d %v", sent, err)
	}
	if got := notifications(t, h, ch, 0); !slices.Equal(got, []string{`{"notifier":"feed","key":"k","json":"news"}`}) {
		t.Fatalf("got %v", got)
	}
	if h.ChannelCount() != 0 {
		t.Fatalf("the notification ring counts as a user channel: %d", h.ChannelCount())
	}
}

func TestNotifier_ConcurrentPrepareKeepsOrder(t *testing.T) {
	h := newHub(t, halley.Config{})
	n, err := halley.NewNotifier(h, halley.NotifierOptions[string, int, int]{
		Name:        "slow",
		Concurrency: 8,
		Prepare: func(_ context.Context, _ halley.Identity, _ string, v int) (int, bool, error) {
			return v * 10, true, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var chans []string
	for range 50 {
		s, _ := h.NewSession()
		ch, _ := n.Listen(s, "k")
		chans = append(chans, ch)
	}
	for i := 1; i <= 3; i++ {
		if sent, err := n.Notify(testCtx(t), "k", i, halley.NotFor{}); sent != 50 || err != nil {
			t.Fatalf("notify %d: %d %v", i, sent, err)
		}
	}
	for _, ch := range chans {
		got := notifications(t, h, ch, 0)
		if len(got) != 3 || !strings.Contains(got[0], `"json":10`) || !strings.Contains(got[2], `"json":30`) {
			t.Fatalf("listener got %v, want 10, 20, 30 in order", got)
		}
	}
}

func TestHub_NotifyBadPayload(t *testing.T) {
	h := newHub(t, halley.Config{})
	if _, err := halley.NewSimpleNotifier[string, int](h, "count"); err != nil {
		t.Fatal(err)
	}
	// No listener yet: the payload is checked all the same.
	if _, err := h.Notify(testCtx(t), "count", "k", []byte(`"not a number"`), halley.NotFor{}); !errors.Is(err, halley.ErrInvalidOptions) {
		t.Fatalf("undecodable notification: %v", err)
	}
}

func TestNotifier_PrepareBatch(t *testing.T) {
	h := newHub(t, halley.Config{})
	var calls [][]string
	n, err := halley.NewNotifier(h, halley.NotifierOptions[string, string, string]{
		Name:      "docs",
		BatchSize: 2,
		PrepareBatch: func(_ context.Context, ids []halley.Identity, key, v string) ([]halley.Prepared[string], error) {
			users := make([]string, len(ids))
			out := make([]halley.Prepared[string], len(ids))
			for i, id := range ids {
				users[i] = id.User
				out[i] = halley.Prepared[string]{Value: v + " for " + id.User, Send: id.User != "carol"}
			}
			slices.Sort(users)
			calls = append(calls, users)
			return out, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	chans := map[string]string{}
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		s, _ := h.NewSession()
		s.SetUser(u)
		if chans[u], err = n.Listen(s, "42"); err != nil {
			t.Fatal(err)
		}
	}
	sent, err := n.Notify(testCtx(t), "42", "v2", halley.NotFor{User: "dave"})
	if err != nil || sent != 2 {
		t.Fatalf("Notify: %d, %v; want 2 (carol blocked, dave excluded)", sent, err)
	}
	var all []string
	for _, c := range calls {
		if len(c) > 2 {
			t.Fatalf("a batch of %d listeners, over BatchSize 2", len(c))
		}
		all = append(all, c...)
	}
	slices.Sort(all)
	if !slices.Equal(all, []string{"alice", "bob", "carol"}) || len(calls) != 2 {
		t.Fatalf("batches %v; want alice, bob and carol in 2 calls", calls)
	}
	want := `{"notifier":"docs","key":"42","json":"v2 for bob"}`
	if got := notifications(t, h, chans["bob"], 0); !slices.Equal(got, []string{want}) {
		t.Fatalf("bob got %v", got)
	}
	if got := notifications(t, h, chans["carol"], 0); got != nil {
		t.Fatalf("carol got %v", got)
	}
	if _, err := halley.NewNotifier(h, halley.NotifierOptions[string, string, string]{
		Name:    "both",
		Prepare: func(context.Context, halley.Identity, string, string) (string, bool, error) { return "", false, nil },
		PrepareBatch: func(context.Context, []halley.Identity, string, string) ([]halley.Prepared[string], error) {
			return nil, nil
		},
	}); !errors.Is(err, halley.ErrInvalidOptions) {
		t.Fatalf("Prepare and PrepareBatch: %v, want ErrInvalidOptions", err)
	}
}
