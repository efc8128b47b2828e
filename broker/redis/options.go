package redis

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/rueidis"
)

// Options configure New. The zero value connects to a Redis on
// 127.0.0.1:6379, database 0, with the key prefix "halley".
type Options struct {
	// URL is the Redis to use: "redis://[user:password@]host:port/db", or
	// rediss:// for TLS (verified against the system's roots), as in
	// "rediss://:secret@redis.example.com:6380/2". With Sentinel, the URL
	// gives only the primary's credentials, database and TLS (its host is
	// ignored). Default: "redis://127.0.0.1:6379/0".
	URL string
	// Sentinel lists the host:port of Redis Sentinels. When set, the broker
	// asks them for the primary of MasterName and follows its failovers.
	// Default: none, URL is the server.
	Sentinel []string
	// MasterName is the name under which the Sentinels monitor the primary.
	// Required with Sentinel.
	MasterName string
	// SentinelPassword authenticates to the Sentinels. Default: none.
	SentinelPassword string

	// Prefix starts every key and channel name of the broker, so several
	// Halley clusters (or other programs) can share one Redis. Default:
	// "halley".
	Prefix string

	// Logger receives the broker's operational logs (reconnections,
	// resubscriptions, holes it could not fill). Default: slog.Default().
	Logger *slog.Logger

	// DialTimeout bounds the opening of a connection. Default: 5s.
	DialTimeout time.Duration
	// IOTimeout bounds how long a connection may stay unanswered (a
	// command, or the periodic PING of an idle one) before it is deemed
	// dead and dialled again; it also bounds the broker's own calls made
	// on delivery (filling a hole from history). Default: 5s.
	IOTimeout time.Duration
	// ReadyTimeout bounds Ready when its context has no deadline.
	// Default: 2s.
	ReadyTimeout time.Duration
}

const (
	defaultURL          = "redis://127.0.0.1:6379/0"
	defaultPrefix       = "halley"
	defaultDialTimeout  = 5 * time.Second
	defaultIOTimeout    = 5 * time.Second
	defaultReadyTimeout = 2 * time.Second
	// topologyRefresh is how often a Sentinel client checks that it
	// follows the current primary, besides Sentinel's own events.
	topologyRefresh = 5 * time.Second
)

// withDefaults returns o with its zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.URL == "" {
		o.URL = defaultURL
	}
	if o.Prefix == "" {
		o.Prefix = defaultPrefix
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = defaultDialTimeout
	}
	if o.IOTimeout <= 0 {
		o.IOTimeout = defaultIOTimeout
	}
	if o.ReadyTimeout <= 0 {
		o.ReadyTimeout = defaultReadyTimeout
	}
	return o
}

// clientOption turns o (with its defaults) into rueidis's options.
func (o Options) clientOption() (rueidis.ClientOption, error) {
	co, err := rueidis.ParseURL(o.URL)
	if err != nil {
		return co, fmt.Errorf("redis broker: URL: %w", err)
	}
	if len(o.Sentinel) > 0 || o.MasterName != "" {
		if len(o.Sentinel) == 0 || o.MasterName == "" {
			return co, errors.New("redis broker: Sentinel and MasterName go together")
		}
		co.InitAddress = append([]string(nil), o.Sentinel...)
		co.Sentinel = rueidis.SentinelOption{
			MasterSet:               o.MasterName,
			Password:                o.SentinelPassword,
			TopologyRefreshInterval: topologyRefresh,
		}
		co.Sentinel.Dialer.Timeout = o.DialTimeout
	}
	co.Dialer.Timeout = o.DialTimeout
	co.ConnWriteTimeout = o.IOTimeout
	// The broker never reads through the client-side cache: no tracking.
	co.DisableCache = true
	if co.ClientName == "" {
		co.ClientName = "halley"
	}
	return co, nil
}
