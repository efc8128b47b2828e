package halley_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/halleyhq/halley"
)

func Example() {
	ctx := context.Background()
	hub, err := halley.New(halley.Config{}) // in memory, defaults
	if err != nil {
		panic(err)
	}
	defer hub.Shutdown(ctx)

	news, err := hub.NewChannel(ctx, halley.ChannelOptions{Name: "news"})
	if err != nil {
		panic(err)
	}
	out, _ := news.Write(ctx, []byte("hello"))
	fmt.Println("offset", out.Offset, "delivered", out.Delivered)

	// Clients read it through the transports (/comet, /ws, /sse, /poll,
	// /write, /listen, /unlisten): mount them at the root of any mux, or
	// under a prefix with http.StripPrefix, which serves /push/sse….
	mux := http.NewServeMux()
	mux.Handle("/", hub.Handler())
	mux.Handle("/push/", http.StripPrefix("/push", hub.Handler()))

	// Server code reads it too, from a position of its own.
	msgs, _ := news.Read(ctx, 0, 0)
	fmt.Printf("%s\n", msgs[0].Data)
	// Output:
	// offset 1 delivered 0
	// hello
}

func ExampleNewChan() {
	ctx := context.Background()
	hub, _ := halley.New(halley.Config{})
	defer hub.Shutdown(ctx)

	type Score struct {
		Team   string `json:"team"`
		Points int    `json:"points"`
	}
	scores, err := halley.NewChan[Score](ctx, hub, halley.ChannelOptions{Kind: halley.KindNewest})
	if err != nil {
		panic(err)
	}
	scores.Write(ctx, Score{"blue", 1})
	scores.Write(ctx, Score{"blue", 2})
	vals, _ := scores.Read(ctx, 0, 0) // a newest channel gives only the last value
	fmt.Printf("%d %+v\n", vals[0].Offset, vals[0].Value)
	// Output: 2 {Team:blue Points:2}
}

func ExampleChannel_Read_channelFull() {
	ctx := context.Background()
	hub, _ := halley.New(halley.Config{})
	defer hub.Shutdown(ctx)

	c, _ := hub.NewChannel(ctx, halley.ChannelOptions{Size: 2})
	for _, v := range []string{"a", "b", "c"} {
		c.Write(ctx, []byte(v))
	}
	_, err := c.Read(ctx, 0, 0) // "a" fell off the ring
	var gap *halley.GapError
	fmt.Println(errors.Is(err, halley.ErrChannelFull), errors.As(err, &gap), gap.Resume)
	msgs, _ := c.Read(ctx, gap.Resume, 0)
	fmt.Printf("%s %s\n", msgs[0].Data, msgs[1].Data)
	// Output:
	// true true 1
	// b c
}

func ExampleHub_SessionFor() {
	ctx := context.Background()
	hub, _ := halley.New(halley.Config{})
	defer hub.Shutdown(ctx)

	// In the handler of a page: find or create the client's session and
	// give it a channel of its own; the page hands the id to its script.
	http.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		s, err := hub.SessionFor(w, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		inbox, err := hub.NewChannel(r.Context(), halley.ChannelOptions{Kind: halley.KindSession, Session: s})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "<script>const inbox = %q;</script>", inbox.ID())
	})
}

func ExampleHub_Command() {
	hub, _ := halley.New(halley.Config{})
	defer hub.Shutdown(context.Background())

	fmt.Println(hub.Command("comet:set_timeout 5"), hub.PollTimeout())
	fmt.Println(hub.Command("comet:deactivate"), hub.Active())
	fmt.Println(errors.Is(hub.Command("comet:reboot"), halley.ErrUnknownCommand))
	// Output:
	// <nil> 5s
	// <nil> false
	// true
}

// ExampleHub_ReturnedConns serves the hub's returned connections with the
// server of its handler: long polls that wait then hold a few KB each,
// and their connections come back kept alive.
func ExampleHub_ReturnedConns() {
	ctx := context.Background()
	hub, err := halley.New(halley.Config{PollTimeout: 10 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	defer hub.Shutdown(ctx)
	if _, err := hub.NewChannel(ctx, halley.ChannelOptions{Name: "news"}); err != nil {
		panic(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &http.Server{Handler: hub.Handler()}
	returned := hub.ReturnedConns() // from now on, waiting polls park
	go srv.Serve(ln)
	go srv.Serve(returned)
	defer srv.Shutdown(ctx)

	// The second poll waits (parked), and answers empty at the timeout.
	url := "http://" + ln.Addr().String() + "/poll"
	var cursor, session string
	for _, body := range []string{`{"channels":["news"]}`, ""} {
		if body == "" {
			body = `{"cursor":"` + cursor + `"}`
		}
		req, _ := http.NewRequest("POST", url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(halley.SessionHeader, session)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			panic(err)
		}
		var a struct {
			Session, Cursor string
			Frames          []json.RawMessage
		}
		_ = json.NewDecoder(res.Body).Decode(&a)
		res.Body.Close()
		session, cursor = a.Session, a.Cursor
		fmt.Println(res.StatusCode, len(a.Frames), "frames")
	}
	// A connection given back is new to the server: closing it spares
	// srv.Shutdown waiting for its next request.
	http.DefaultClient.CloseIdleConnections()
	// Output:
	// 200 1 frames
	// 200 0 frames
}

// ExampleHub_DeferWrites shows a publisher that writes the streams its
// publish woke itself, once its own answer is out.
func ExampleHub_DeferWrites() {
	h, err := halley.New(halley.Config{})
	if err != nil {
		panic(err)
	}
	defer h.Shutdown(context.Background())
	c, err := h.NewChannel(context.Background(), halley.ChannelOptions{Name: "news"})
	if err != nil {
		panic(err)
	}
	ctx, flush := h.DeferWrites(context.Background())
	out, err := c.Write(ctx, []byte(`"hello"`))
	if err != nil {
		panic(err)
	}
	// ... write the answer to the publisher here, then:
	flush()
	fmt.Println("offset", out.Offset)
	// Output: offset 1
}
