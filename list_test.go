package halley_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/halleyhq/halley"
)

func channelIDs(cs []*halley.Channel) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID()
	}
	return ids
}

func TestHub_Channels(t *testing.T) {
	h := newHub(t, halley.Config{})
	var want []string
	for i := 9; i >= 0; i-- {
		id := fmt.Sprintf("ch%02d", i)
		newChannel(t, h, halley.ChannelOptions{Name: id})
		want = append(want, id)
	}
	slices.Sort(want)
	// A session with notifications has an internal ring: never listed.
	s, err := h.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	n, err := halley.NewNotifier(h, halley.NotifierOptions[string, string, string]{Name: "docs"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Listen(s, "k"); err != nil {
		t.Fatal(err)
	}
	own := newChannel(t, h, halley.ChannelOptions{Name: "zz-own", Kind: halley.KindSession, Session: s})
	want = append(want, own.ID())

	t.Run("All", func(t *testing.T) {
		if got := channelIDs(h.Channels("", 0)); !slices.Equal(got, want) {
			t.Fatalf("Channels = %v, want %v", got, want)
		}
	})
	t.Run("Pages", func(t *testing.T) {
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			page := h.Channels(after, 3)
			if len(page) > 3 {
				t.Fatalf("page of %d, limit 3", len(page))
			}
			if len(page) == 0 {
				if pages != 4 {
					t.Errorf("%d pages, want 4", pages)
				}
				break
			}
			got = append(got, channelIDs(page)...)
			after = page[len(page)-1].ID()
		}
		if !slices.Equal(got, want) {
			t.Fatalf("paged = %v, want %v", got, want)
		}
	})
	t.Run("AfterBetween", func(t *testing.T) {
		if got := channelIDs(h.Channels("ch04x", 2)); !slices.Equal(got, []string{"ch05", "ch06"}) {
			t.Fatalf("Channels(ch04x, 2) = %v", got)
		}
	})
	t.Run("Bounded", func(t *testing.T) {
		if got := len(h.Channels("", halley.MaxList+5)); got != len(want) {
			t.Fatalf("%d channels", got)
		}
	})
	t.Run("Closed", func(t *testing.T) {
		if err := h.CloseChannel(testCtx(t), "ch03"); err != nil {
			t.Fatal(err)
		}
		if got := channelIDs(h.Channels("ch02", 1)); !slices.Equal(got, []string{"ch04"}) {
			t.Fatalf("after closing ch03: %v", got)
		}
	})
}

func TestHub_ChannelsMaxList(t *testing.T) {
	h := newHub(t, halley.Config{MaxChannels: halley.MaxList + 10})
	for i := range halley.MaxList + 1 {
		newChannel(t, h, halley.ChannelOptions{Name: fmt.Sprintf("c%05d", i)})
	}
	for _, limit := range []int{0, -1, halley.MaxList + 1} {
		if got := len(h.Channels("", limit)); got != halley.MaxList {
			t.Errorf("Channels(\"\", %d): %d channels, want %d", limit, got, halley.MaxList)
		}
	}
	if got := channelIDs(h.Channels("", halley.MaxList)); got[len(got)-1] != fmt.Sprintf("c%05d", halley.MaxList-1) {
		t.Errorf("last of the first page = %s", got[len(got)-1])
	}
}

func TestHub_Sessions(t *testing.T) {
	h := newHub(t, halley.Config{})
	var want []string
	for i := range 5 {
		s, err := h.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		s.SetUser(fmt.Sprintf("user%d", i))
		want = append(want, s.ID())
	}
	slices.Sort(want)
	var got []string
	after := ""
	for {
		page := h.Sessions(after, 2)
		if len(page) == 0 {
			break
		}
		if len(page) > 2 {
			t.Fatalf("page of %d, limit 2", len(page))
		}
		for _, s := range page {
			got = append(got, s.ID())
		}
		after = page[len(page)-1].ID()
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Sessions paged = %v, want %v", got, want)
	}
	s, _ := h.Session(want[0])
	n, err := halley.NewNotifier(h, halley.NotifierOptions[string, string, string]{Name: "docs"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Listen(s, "k"); err != nil { // an internal ring: not listed
		t.Fatal(err)
	}
	a := newChannel(t, h, halley.ChannelOptions{Name: "b-own", Kind: halley.KindSession, Session: s})
	b := newChannel(t, h, halley.ChannelOptions{Name: "a-own", Kind: halley.KindSession, Session: s})
	if got := s.Channels(); !slices.Equal(got, []string{b.ID(), a.ID()}) {
		t.Fatalf("Session.Channels = %v", got)
	}
	s.Close()
	if got := len(h.Sessions("", 0)); got != 4 {
		t.Fatalf("%d sessions after one closed, want 4", got)
	}
}
