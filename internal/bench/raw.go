package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Peers: servers of other projects that the same load measures, with raw
// SSE subscribers and plain HTTP publications.
const (
	// PeerCentrifugo is Centrifugo (v5, v6): unidirectional SSE
	// (/connection/uni_sse, uni_sse.enabled) with the subscriber's
	// channel in its connection token (client.token.hmac_secret_key:
	// Config.PeerSecret), and publications to /api/publish with the
	// http_api.key (Config.APIKey).
	PeerCentrifugo = "centrifugo"
)

// rawLine is the longest SSE line a raw subscriber reads whole.
const rawLine = 1 << 20

// startRaw starts subscriber s as a raw SSE reader: one GET, then lines.
// It takes any data line holding a payload as a message, whatever the
// envelope around it (a Halley msg frame, a Centrifugo publication), and
// its first data line as the sign that it is subscribed: both servers
// send it once the subscription holds.
func (r *runner) startRaw(ctx context.Context, wg *sync.WaitGroup, s *subscriber) {
	wg.Go(func() {
		err := r.readRaw(ctx, s)
		r.release(s)
		if err != nil && ctx.Err() == nil {
			select {
			case r.failed <- fmt.Errorf("bench: subscriber %d: %w", s.id, err):
			default:
			}
		}
	})
}

// rawURL returns the stream's address of subscriber s.
func (r *runner) rawURL(s *subscriber) (string, error) {
	base := r.cfg.Servers[s.id%len(r.cfg.Servers)]
	ch := r.ids[s.channel]
	switch r.cfg.Peer {
	case PeerCentrifugo:
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": "bench-" + strconv.Itoa(s.id), "channels": []string{ch},
		}).SignedString([]byte(r.cfg.PeerSecret))
		if err != nil {
			return "", err
		}
		connect := `{"token":"` + tok + `"}`
		return base + "/connection/uni_sse?cf_connect=" + url.QueryEscape(connect), nil
	}
	u := base + "/sse?channel=" + url.QueryEscape(ch)
	if r.cfg.Token != "" {
		u += "&token=" + url.QueryEscape(r.cfg.Token)
	}
	return u, nil
}

// readRaw reads s's stream until ctx is done or it fails.
func (r *runner) readRaw(ctx context.Context, s *subscriber) error {
	u, err := r.rawURL(s)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := r.addrs.client(s.id).Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("stream: %s: %s", res.Status, bytes.TrimSpace(b))
	}
	br := bufio.NewReaderSize(res.Body, 64<<10)
	var long []byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) && len(long)+len(line) < rawLine {
			long = append(long, line...)
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("stream: %w", err)
		}
		if long != nil {
			line = append(long, line...)
			long = nil
		}
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue
		}
		if !s.connected {
			s.connected = true
			r.release(s)
			if r.connected.Add(1) == int64(r.cfg.Subscribers) {
				close(r.allConnected)
			}
		}
		if i := bytes.Index(data, seqKey); i >= 0 {
			r.delivery(s, data[i:], 0)
		}
	}
}

// publishPeer publishes one message through server k of a peer.
func (r *runner) publishPeer(ctx context.Context, hc *http.Client, k int, channel string, payload []byte, body []byte) ([]byte, error) {
	body = append(body[:0], `{"channel":`...)
	body = strconv.AppendQuote(body, channel)
	body = append(body, `,"data":`...)
	body = append(body, payload...)
	body = append(body, '}')
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.Servers[k]+"/api/publish", bytes.NewReader(body))
	if err != nil {
		return body, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", r.cfg.APIKey)
	res, err := hc.Do(req)
	if err != nil {
		return body, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK || !bytes.HasPrefix(b, []byte(`{"result"`)) {
		return body, fmt.Errorf("publish: %s: %s", res.Status, bytes.TrimSpace(b))
	}
	return body, nil
}

// peerChannels names the channels of a run against a peer: they need no
// making.
func (r *runner) peerChannels() {
	prefix := "bench" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36) + "_"
	r.ids = make([]string, r.cfg.Channels)
	for i := range r.ids {
		r.ids[i] = prefix + strconv.Itoa(i)
	}
}
