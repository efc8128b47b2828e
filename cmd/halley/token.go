package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/halleyhq/halley/auth"
	"github.com/halleyhq/halley/auth/jwt"
)

// tokenSecretEnv holds the default of halley token's --hmac-secret.
const tokenSecretEnv = "HALLEY_TOKEN_HMAC_SECRET"

func runToken(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: halley token [--hmac-secret S | --private-key FILE] [flags]

Mints a client token (a JWT) and prints it: something to try the server's
token settings with, or to give a test client. It is signed with an HMAC
secret (HS256; at least 32 bytes, from $`+tokenSecretEnv+` when no flag
gives one) or with a PEM private key (RSA: RS256, ECDSA: ES256/384/512,
Ed25519: EdDSA).

Lists are comma-separated patterns: an exact name, or a prefix and a
trailing '*' ("user:alice*"); '*' alone is everything. Listen patterns
are "notifier:keypattern" ("docs:42", "docs:*") or '*'.

  halley token --sub alice --channels 'news,user:alice*' --write chat --ttl 15m

flags:
`)
		fs.PrintDefaults()
	}
	secret := fs.String("hmac-secret", "", "HMAC `secret` to sign with, HS256 (default $"+tokenSecretEnv+")")
	keyFile := fs.String("private-key", "", "PEM `file` of the private key to sign with")
	sub := fs.String("sub", "", "the client's `user` (default: anonymous)")
	channels := fs.String("channels", "", "`patterns` of the channels the client may read")
	write := fs.String("write", "", "`patterns` of the buses the client may write to")
	listen := fs.String("listen", "", "`patterns` notifier:key of the keys the client may listen on")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	aud := fs.String("aud", "", "the token's `audience`")
	iss := fs.String("iss", "", "the token's `issuer`")
	if err := parseCommand(fs, args, os.LookupEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageError := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "halley token: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return usageError("unexpected argument %q", fs.Arg(0))
	}
	secretSet := false
	fs.Visit(func(f *flag.Flag) { secretSet = secretSet || f.Name == "hmac-secret" })
	if secretSet && *keyFile != "" {
		return usageError("--hmac-secret and --private-key: give one key only")
	}
	if *ttl <= 0 {
		return usageError("--ttl must be positive")
	}
	opts := jwt.MintOptions{
		Subject:  *sub,
		Channels: splitList(*channels),
		Write:    splitList(*write),
		Listen:   splitList(*listen),
		TTL:      *ttl,
		Audience: *aud,
		Issuer:   *iss,
	}
	if _, err := auth.ParseRights(opts.Channels, opts.Write, opts.Listen); err != nil {
		return usageError("%s", strings.TrimPrefix(err.Error(), "auth: "))
	}

	var key any
	if *keyFile != "" {
		pemBytes, err := os.ReadFile(*keyFile)
		if err != nil {
			fmt.Fprintf(stderr, "halley token: %v\n", err)
			return 1
		}
		signer, err := jwt.ParsePrivateKey(pemBytes)
		if err != nil {
			fmt.Fprintf(stderr, "halley token: %s: %v\n", *keyFile, err)
			return 1
		}
		key = signer
	} else {
		if !secretSet {
			*secret = os.Getenv(tokenSecretEnv)
		}
		switch {
		case *secret == "":
			return usageError("no key: give --hmac-secret (or $%s) or --private-key", tokenSecretEnv)
		case len(*secret) < jwt.MinHMACSecret:
			return usageError("the HMAC secret has %d bytes, at least %d wanted", len(*secret), jwt.MinHMACSecret)
		}
		key = []byte(*secret)
	}
	token, err := jwt.Mint(key, opts)
	if err != nil {
		fmt.Fprintf(stderr, "halley token: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, token)
	return 0
}

// splitList splits a comma-separated list, dropping spaces around items
// and empty items.
func splitList(s string) []string {
	var items []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}
