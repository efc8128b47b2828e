package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/halleyhq/halley"
)

// demoFS holds the demo page.
//
//go:embed demo/index.html
var demoFS embed.FS

// demoChannel is the name of the channel the demo page reads.
const demoChannel = "demo"

// demoPage serves the demo page. The page has no external resources, so
// its policy allows nothing beyond this origin.
func demoPage() http.Handler {
	page, err := demoFS.ReadFile("demo/index.html")
	if err != nil {
		panic("halley: demo page missing from the binary: " + err.Error())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(page)
	})
}

// tick is one message of the demo channel.
type tick struct {
	Tick int    `json:"tick"`
	Time string `json:"time"`
}

// runDemo publishes a tick on c every period until ctx is done or the
// channel is closed.
func runDemo(ctx context.Context, c *halley.Channel, period time.Duration, log *slog.Logger) {
	t := time.NewTicker(period)
	defer t.Stop()
	for n := 1; ; n++ {
		var now time.Time
		select {
		case <-ctx.Done():
			return
		case now = <-t.C:
		}
		b, err := json.Marshal(tick{Tick: n, Time: now.UTC().Format(time.RFC3339)})
		if err != nil {
			log.Error("halley: demo: encode tick", "err", err)
			return
		}
		if _, err := c.Write(ctx, b); err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, halley.ErrChannelClosed) {
				log.Info("halley: demo: channel closed, ticks stop")
				return
			}
			log.Warn("halley: demo: publish", "err", err)
		}
	}
}
