package halley_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/halleyhq/halley"
)

func TestNewChannel_FreshID(t *testing.T) {
	h := newHub(t, halley.Config{})
	seen := map[string]bool{}
	for range 200 {
		c := newChannel(t, h, halley.ChannelOptions{})
		id := c.ID()
		if len(id) != 22 || strings.ContainsAny(id, "+/=") {
			t.Fatalf("fresh id %q: want 22 URL-safe characters (128 bits)", id)
		}
		if seen[id] {
			t.Fatalf("fresh id %q given twice", id)
		}
		seen[id] = true
	}
}

func TestNewChannel_NameTaken(t *testing.T) {
	h := newHub(t, halley.Config{})
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	if _, err := h.NewChannel(testCtx(t), halley.ChannelOptions{Name: "news", Kind: halley.KindNewest}); !errors.Is(err, halley.ErrNameTaken) {
		t.Fatalf("second channel named news: err %v, want ErrNameTaken", err)
	}
	// Once closed, the name is free again.
	if err := c.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	newChannel(t, h, halley.ChannelOptions{Name: "news"})
}

func TestNewChannel_TooManyChannels(t *testing.T) {
	h := newHub(t, halley.Config{MaxChannels: 2})
	a := newChannel(t, h, halley.ChannelOptions{})
	newChannel(t, h, halley.ChannelOptions{Name: "b"})
	_, err := h.NewChannel(testCtx(t), halley.ChannelOptions{})
	if !errors.Is(err, halley.ErrTooManyChannels) || halley.Reason(err) != "too_many_channels" {
		t.Fatalf("third channel: err %v, want ErrTooManyChannels", err)
	}
	if err := a.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	newChannel(t, h, halley.ChannelOptions{}) // room again
}

func TestNewChannel_InvalidOptions(t *testing.T) {
	h := newHub(t, halley.Config{})
	tests := []struct {
		name string
		opts halley.ChannelOptions
		want error
	}{
		{name: "NameWithLF", opts: halley.ChannelOptions{Name: "a\nb"}, want: halley.ErrInvalidName},
		{name: "NameTooLong", opts: halley.ChannelOptions{Name: strings.Repeat("x", halley.MaxNameLen+1)}, want: halley.ErrInvalidName},
		{name: "NameNotUTF8", opts: halley.ChannelOptions{Name: "\xff"}, want: halley.ErrInvalidName},
		{name: "SessionWithoutSession", opts: halley.ChannelOptions{Kind: halley.KindSession}, want: halley.ErrInvalidOptions},
		{name: "LazyWithoutProducer", opts: halley.ChannelOptions{Kind: halley.KindLazy}, want: halley.ErrInvalidOptions},
		{name: "NegativeSize", opts: halley.ChannelOptions{Size: -1}, want: halley.ErrInvalidOptions},
		{name: "UnknownKind", opts: halley.ChannelOptions{Kind: 9}, want: halley.ErrInvalidOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := h.NewChannel(testCtx(t), tt.opts); !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
	if n := h.ChannelCount(); n != 0 {
		t.Fatalf("failed creations left %d channels", n)
	}
}

func TestBroadcast_OffsetsAndRead(t *testing.T) {
	h := newHub(t, halley.Config{})
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	for i := 1; i <= 3; i++ {
		if o := write(t, c, fmt.Sprint("m", i)); o.Offset != uint64(i) {
			t.Fatalf("write %d: offset %d", i, o.Offset)
		}
	}
	msgs, err := c.Read(testCtx(t), 1, 0)
	if err != nil || !slices.Equal(datas(msgs), []string{"m2", "m3"}) {
		t.Fatalf("Read(after 1) = %v, %v", datas(msgs), err)
	}
	if msgs[0].Channel != "news" || msgs[0].Offset != 2 {
		t.Fatalf("first message %+v", msgs[0])
	}
}

func TestBroadcast_ChannelFull(t *testing.T) {
	h := newHub(t, halley.Config{})
	c := newChannel(t, h, halley.ChannelOptions{Size: 3})
	for i := 1; i <= 5; i++ {
		write(t, c, fmt.Sprint(i))
	}
	// A reader at offset 1 wants 2.., but only 3..5 are retained.
	_, err := c.Read(testCtx(t), 1, 0)
	if !errors.Is(err, halley.ErrChannelFull) {
		t.Fatalf("Read past the ring: err %v, want ErrChannelFull", err)
	}
	var gap *halley.GapError
	if !errors.As(err, &gap) || gap.Resume != 2 {
		t.Fatalf("gap %+v, want Resume 2", gap)
	}
	// The reader at the edge of the ring gets everything retained.
	msgs, err := c.Read(testCtx(t), 2, 0)
	if err != nil || !slices.Equal(datas(msgs), []string{"3", "4", "5"}) {
		t.Fatalf("Read(after 2) = %v, %v", datas(msgs), err)
	}
}

func TestReader_ResumesAfterGap(t *testing.T) {
	h := newHub(t, halley.Config{})
	c := newChannel(t, h, halley.ChannelOptions{Size: 2})
	r := c.Reader(0)
	for i := 1; i <= 4; i++ {
		write(t, c, fmt.Sprint(i))
	}
	if _, err := r.Next(testCtx(t)); !errors.Is(err, halley.ErrChannelFull) {
		t.Fatalf("first Next: %v, want the gap", err)
	}
	var got []string
	for range 2 {
		m, err := r.Next(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(m.Data))
	}
	if !slices.Equal(got, []string{"3", "4"}) || r.Position() != 4 {
		t.Fatalf("after the gap got %v at %d", got, r.Position())
	}
}

func TestReader_StreamPerReader(t *testing.T) {
	h := newHub(t, halley.Config{})
	c := newChannel(t, h, halley.ChannelOptions{})
	a, b := c.Reader(0), c.Reader(0)
	write(t, c, "x")
	write(t, c, "y")
	for _, r := range []*halley.Reader{a, b} {
		var got []string
		for range 2 {
			m, err := r.Next(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(m.Data))
		}
		if !slices.Equal(got, []string{"x", "y"}) {
			t.Fatalf("reader got %v; every reader must see the whole stream", got)
		}
	}
}

func TestRead_WaitsForWrite(t *testing.T) {
	h := newHub(t, halley.Config{})
	c := newChannel(t, h, halley.ChannelOptions{})
	got := make(chan []halley.Message, 1)
	go func() {
		msgs, _ := c.Read(testCtx(t), 0, 0)
		got <- msgs
	}()
	if err := c.WaitReaders(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	o := write(t, c, "late")
	if o.Delivered != 0 {
		t.Fatalf("a server-side reader counted as a listener: delivered %d", o.Delivered)
	}
	if msgs := <-got; !slices.Equal(datas(msgs), []string{"late"}) {
		t.Fatalf("waiting Read got %v", datas(msgs))
	}
}

func TestRead_ContextDone(t *testing.T) {
	h := newHub(t, halley.Config{})
	c := newChannel(t, h, halley.ChannelOptions{})
	ctx, cancel := testCtxCancel(t)
	cancel()
	if _, err := c.Read(ctx, 0, 0); err == nil {
		t.Fatal("Read on a done context returned no error")
	}
}

func TestNewest_OnlyLastValue(t *testing.T) {
	h := newHub(t, halley.Config{})
	c := newChannel(t, h, halley.ChannelOptions{Kind: halley.KindNewest, Size: 50})
	if c.Size() != 1 {
		t.Fatalf("newest channel size %d, want 1", c.Size())
	}
	for _, v := range []string{"a", "b", "c"} {
		write(t, c, v)
	}
	msgs, err := c.Read(testCtx(t), 0, 0)
	if err != nil || !slices.Equal(datas(msgs), []string{"c"}) || msgs[0].Offset != 3 {
		t.Fatalf("Read = %+v, %v; want only c at 3", msgs, err)
	}
}

func TestChannel_Ended(t *testing.T) {
	h := newHub(t, halley.Config{})
	c := newChannel(t, h, halley.ChannelOptions{Name: "bye"})
	write(t, c, "last words")
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(testCtx(t), 1, 0)
		done <- err
	}()
	if err := c.WaitReaders(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if err := h.CloseChannel(testCtx(t), "bye"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, halley.ErrChannelClosed) {
		t.Fatalf("waiting reader got %v, want ErrChannelClosed", err)
	}
	// What was written before the end is still readable, then the end.
	msgs, err := c.Read(testCtx(t), 0, 0)
	if err != nil || !slices.Equal(datas(msgs), []string{"last words"}) {
		t.Fatalf("Read before the end = %v, %v", datas(msgs), err)
	}
	if _, err := c.Write(testCtx(t), []byte("x")); !errors.Is(err, halley.ErrChannelClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	if _, ok := h.Channel("bye"); ok {
		t.Fatal("closed channel still registered")
	}
	if err := h.CloseChannel(testCtx(t), "bye"); !errors.Is(err, halley.ErrUnknownChannel) {
		t.Fatalf("closing an unknown channel: %v", err)
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "Wrapped", err: fmt.Errorf("x: %w", halley.ErrNameTaken), want: "name_taken"},
		{name: "Gap", err: &halley.GapError{Channel: "c"}, want: "channel_full"},
		{name: "Unknown", err: errors.New("boom"), want: "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := halley.Reason(tt.err); got != tt.want {
				t.Fatalf("Reason = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseKind(t *testing.T) {
	for _, k := range []halley.Kind{halley.KindBroadcast, halley.KindNewest, halley.KindSession, halley.KindLazy} {
		got, err := halley.ParseKind(k.String())
		if err != nil || got != k {
			t.Fatalf("ParseKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if _, err := halley.ParseKind("global"); !errors.Is(err, halley.ErrInvalidOptions) {
		t.Fatalf("ParseKind(global): %v", err)
	}
}
