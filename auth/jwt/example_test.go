package jwt_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/auth/jwt"
)

func ExampleNew() {
	ctx := context.Background()
	secret := []byte("an HMAC secret of at least 32 bytes")
	clock := func() time.Time { return time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC) }

	a, err := jwt.New(ctx, jwt.Options{HMACSecret: secret, Now: clock})
	if err != nil {
		panic(err)
	}
	defer a.Close()
	// hub, err := halley.New(halley.Config{Authorizer: a, ...})

	token, err := jwt.Mint(secret, jwt.MintOptions{
		Subject:  "alice",
		Channels: []string{"news", "user:alice*"},
		Write:    []string{"chat"},
		TTL:      time.Hour,
		Now:      clock,
	})
	if err != nil {
		panic(err)
	}
	g, err := a.Authorize(ctx, nil, token)
	if err != nil {
		panic(err)
	}
	fmt.Println(g.User, g.Expires.UTC().Format(time.RFC3339))
	fmt.Println(g.Rights.CanSubscribe("user:alice/inbox"), g.Rights.CanSubscribe("user:bob"), g.Rights.CanWrite("chat"))

	_, err = a.Authorize(ctx, nil, token[:len(token)-4]+"AAAA")
	fmt.Println(errors.Is(err, halley.ErrInvalidToken), err)
	// Output:
	// alice 2030-01-01T13:00:00Z
	// true false true
	// true halley: invalid token: bad signature
}
