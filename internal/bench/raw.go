package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
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
		// A polled subscriber gives its connection slot back once
		// subscribed (rawLine), or here when it failed.
		polled := r.poller != nil && strings.HasPrefix(r.cfg.Servers[s.id%len(r.cfg.Servers)], "http:")
		var err error
		if polled {
			err = r.pollRaw(ctx, s)
		} else {
			err = r.readRaw(ctx, s)
		}
		if err != nil || !polled {
			r.release(s)
		}
		if err != nil && ctx.Err() == nil {
			r.fail(fmt.Errorf("bench: subscriber %d: %w", s.id, err))
		}
	})
}

// fail reports err as the run's subscriber failure, unless one is
// reported already.
func (r *runner) fail(err error) {
	select {
	case r.failed <- err:
	default:
	}
}

// pollRaw connects s and gives its socket to the poller, which reads it
// from then on.
func (r *runner) pollRaw(ctx context.Context, s *subscriber) error {
	req, err := r.rawRequest(ctx, s)
	if err != nil {
		return err
	}
	conn, err := r.addrs.dialer(s.id).DialContext(ctx, "tcp", req.URL.Host)
	if err != nil {
		return err
	}
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		conn.Close()
		return errors.New("not a TCP connection")
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	br := bufio.NewReaderSize(conn, 64<<10)
	var res *http.Response
	if err = req.Write(conn); err == nil {
		res, err = http.ReadResponse(br, req)
	}
	if err != nil {
		conn.Close()
		return fmt.Errorf("stream: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		conn.Close()
		return fmt.Errorf("stream: %s: %s", res.Status, bytes.TrimSpace(b))
	}
	if !stop() {
		conn.Close()
		return nil // the run ended
	}
	_ = conn.SetDeadline(time.Time{})
	chunked := slices.Contains(res.TransferEncoding, "chunked")
	rest, _ := br.Peek(br.Buffered())
	rest = bytes.Clone(rest)
	d := &sseDecoder{chunked: chunked, line: func(line []byte) error {
		r.rawLine(s, line)
		return nil
	}}
	if err := d.feed(rest); err != nil {
		conn.Close()
		return err
	}
	fd, err := detach(tc, conn)
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	return r.poller.add(s.id, fd, d.feed, func(err error) {
		r.release(s)
		r.fail(fmt.Errorf("bench: subscriber %d: stream: %w", s.id, err))
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

// rawRequest returns the request of s's stream.
func (r *runner) rawRequest(ctx context.Context, s *subscriber) (*http.Request, error) {
	u, err := r.rawURL(s)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err == nil {
		req.Header.Set("Accept", "text/event-stream")
	}
	return req, err
}

// readRaw reads s's stream until ctx is done or it fails.
func (r *runner) readRaw(ctx context.Context, s *subscriber) error {
	req, err := r.rawRequest(ctx, s)
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
		r.rawLine(s, line)
	}
}

// rawLine takes one line of s's stream: its first data line says it is
// subscribed, and a data line with a payload is a message.
func (r *runner) rawLine(s *subscriber, line []byte) {
	data, ok := bytes.CutPrefix(line, []byte("data:"))
	if !ok {
		return
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
