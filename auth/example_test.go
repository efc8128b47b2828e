package auth_test

import (
	"fmt"

	"github.com/halleyhq/halley/auth"
)

func ExampleParseRights() {
	r, err := auth.ParseRights(
		[]string{"news", "user:alice*"}, // channels alice may read
		[]string{"chat"},                // buses she may write to
		[]string{"docs:team-*"},         // notifier keys she may listen on
	)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.CanSubscribe("user:alice/inbox"), r.CanSubscribe("user:bob"))
	fmt.Println(r.CanWrite("chat"), r.CanWrite("news"))
	fmt.Println(r.CanListen("docs", "team-7"), r.CanListen("docs", "42"))

	_, err = auth.ParseRights(nil, nil, []string{"docs"})
	fmt.Println(err)
	// Output:
	// true false
	// true false
	// true false
	// auth: invalid pattern: listen[0]: listen pattern without ':' (want "notifier:key" or "*")
}

func ExamplePatterns_Match() {
	p := auth.Patterns{"news", "user:alice*"}
	fmt.Println(p.Match("news"), p.Match("newsy"), p.Match("user:alice/inbox"))
	// Output: true false true
}
