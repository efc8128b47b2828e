package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"

	"github.com/halleyhq/halley/broker"
	"github.com/halleyhq/halley/broker/redis"
)

// brokerConfig says which broker the hub uses: in memory (the default, one
// node), or Redis, shared by every node of a cluster.
type brokerConfig struct {
	Redis         string `json:"redis"`          // a redis:// or rediss:// URL
	RedisSentinel list   `json:"redis_sentinel"` // host:port of Sentinels
	RedisMaster   string `json:"redis_master"`   // the name Sentinels monitor
	RedisPrefix   string `json:"redis_prefix"`
}

func (c *brokerConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Redis, "redis", c.Redis, "Redis `URL` (redis://host:port/db, rediss:// for TLS) of the broker shared by every node; with Sentinel, only its credentials and database count (default: in memory, one node)")
	fs.Var(&c.RedisSentinel, "redis-sentinel", "comma-separated `host:port` of Redis Sentinels: the broker follows the primary they name")
	fs.StringVar(&c.RedisMaster, "redis-master", c.RedisMaster, "`name` of the primary the Sentinels monitor (with --redis-sentinel)")
	fs.StringVar(&c.RedisPrefix, "redis-prefix", c.RedisPrefix, "`prefix` of the broker's keys and channels, so that several clusters can share one Redis (default halley)")
}

func (c brokerConfig) check() error {
	switch {
	case len(c.RedisSentinel) > 0 && c.RedisMaster == "":
		return errors.New("--redis-sentinel needs --redis-master")
	case c.RedisMaster != "" && len(c.RedisSentinel) == 0:
		return errors.New("--redis-master needs --redis-sentinel")
	}
	for _, s := range c.RedisSentinel {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return fmt.Errorf("redis sentinel %q: want host:port", s)
		}
	}
	return nil
}

// open returns the broker: nil (the hub's in-memory default) without
// Redis.
func (c brokerConfig) open(ctx context.Context, log *slog.Logger) (broker.Broker, error) {
	if c.Redis == "" && len(c.RedisSentinel) == 0 {
		return nil, nil
	}
	b, err := redis.New(ctx, redis.Options{
		URL:        c.Redis,
		Sentinel:   c.RedisSentinel,
		MasterName: c.RedisMaster,
		Prefix:     c.RedisPrefix,
		Logger:     log,
	})
	if err != nil {
		return nil, fmt.Errorf("redis broker: %w", err)
	}
	return b, nil
}

// describe names the Redis for the start-up line, without its password.
func (c brokerConfig) describe() string {
	if len(c.RedisSentinel) > 0 {
		return fmt.Sprintf("primary %q of Sentinels %s", c.RedisMaster, c.RedisSentinel.String())
	}
	if u, err := url.Parse(c.Redis); err == nil {
		u.User = nil
		return u.String()
	}
	return "?"
}
