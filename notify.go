package halley

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// Identity is who listens, as a notifier's Prepare sees it.
type Identity struct {
	// Session is the listening client's session.
	Session *Session
	// User is the session's user, if the application set one.
	User string
}

// NotFor excludes listeners from a notification (Eliom's ?notfor): the
// session that caused it, or every session of a user. The zero value
// excludes nobody.
type NotFor struct {
	Session string `json:"session,omitempty"`
	User    string `json:"user,omitempty"`
}

func (nf NotFor) excludes(s *Session) bool {
	return nf.Session != "" && nf.Session == s.id || nf.User != "" && nf.User == s.User()
}

// NotifierOptions describe a notifier over keys K, server notifications S
// and client notifications C (Eliom_notif's ARG).
type NotifierOptions[K comparable, S, C any] struct {
	// Name is the notifier's name on the wire ("docs"); required, unique.
	Name string
	// Prepare makes the notification one listener gets, from the
	// listener's identity (the original's prepare): return send=false to
	// block it for that listener. Required unless S and C are the same type
	// (then nil passes notifications through, as Make_Simple).
	Prepare func(ctx context.Context, id Identity, key K, n S) (c C, send bool, err error)
	// FormatKey and ParseKey give keys their text form on the wire.
	// Default: the string itself for string keys, JSON for other types.
	FormatKey func(K) string
	ParseKey  func(string) (K, error)
	// ServerCodec encodes S to cross to other nodes; ClientCodec encodes
	// C for clients. Default: JSON.
	ServerCodec Codec[S]
	ClientCodec Codec[C]
	// PrepareBatch, instead of Prepare, makes the notifications of many
	// listeners in one call, for a Prepare that asks another service (an
	// HTTP hook): it gets up to BatchSize identities and returns one
	// Prepared per identity, in the same order. An error drops the batch's
	// notifications (and is logged).
	PrepareBatch func(ctx context.Context, ids []Identity, key K, n S) ([]Prepared[C], error)
	// BatchSize bounds the identities of one PrepareBatch call. Default:
	// DefaultBatchSize.
	BatchSize int
	// Public lets every client listen on every key when the hub has an
	// Authorizer; otherwise listening needs the right to (Rights.CanListen).
	Public bool
	// Declare, in a cluster, makes the notifier join one of the same name
	// that another node made, instead of failing with ErrNameTaken.
	Declare bool
	// Spec, in a cluster, is what Config.Restore needs to make the
	// notifier again on another node (its prepare hook, say). Without it,
	// a node that does not declare the notifier itself passes its
	// notifications through.
	Spec []byte
	// Concurrency is how many listeners Prepare runs for at once (with
	// PrepareBatch: how many batches). Default 1; raise it for a slow
	// Prepare (one that asks another service). A listener still gets the
	// notifications of successive Notify calls in order.
	Concurrency int
}

// DefaultBatchSize is NotifierOptions.BatchSize when zero.
const DefaultBatchSize = 100

// Prepared is what PrepareBatch makes for one listener: the notification,
// and whether to send it.
type Prepared[C any] struct {
	Value C
	Send  bool
}

// Notifier lets clients listen on keys (resources) and the server notify
// every listener of a key (Eliom_notif). A notification goes through the
// broker once, without client data, and each node prepares it for its own
// listeners. Listeners are sessions: a session that closes stops
// listening. Each session's notifications are bounded (Config.NotifyQueue);
// a client that falls behind gets a gap, never silence, and two
// notifications sent one after the other reach a listener in that order.
// Its methods are safe for concurrent use.
type Notifier[K comparable, S, C any] struct {
	core *notifier
	opts NotifierOptions[K, S, C]
}

// notifier is the untyped part of a Notifier, which the hub finds by name
// for the wire and the broker.
type notifier struct {
	h      *Hub
	name   string
	public bool   // NotifierOptions.Public
	rec    []byte // its record in a cluster's registry

	mu       sync.Mutex
	keys     map[string]map[*Session]struct{}
	sessions map[*Session]map[string]struct{}

	// deliver prepares and queues a notification for the listeners of key
	// on this node, and returns how many got it.
	deliver func(ctx context.Context, key string, payload []byte, nf NotFor) (int, error)
	// check validates a key's text form, and decode a notification.
	check  func(key string) error
	decode func(payload []byte) error
}

// NewNotifier creates a notifier. It fails with ErrInvalidOptions for a
// missing name or Prepare, and ErrNameTaken for a name in use.
func NewNotifier[K comparable, S, C any](h *Hub, opts NotifierOptions[K, S, C]) (*Notifier[K, S, C], error) {
	if opts.Name == "" || !validName(opts.Name) {
		return nil, fmt.Errorf("%w: notifier name %q", ErrInvalidOptions, opts.Name)
	}
	if opts.Prepare != nil && opts.PrepareBatch != nil {
		return nil, fmt.Errorf("%w: notifier %q has both Prepare and PrepareBatch", ErrInvalidOptions, opts.Name)
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.Prepare == nil && opts.PrepareBatch == nil {
		if reflect.TypeFor[S]() != reflect.TypeFor[C]() {
			return nil, fmt.Errorf("%w: notifier %q needs a Prepare", ErrInvalidOptions, opts.Name)
		}
		opts.Prepare = func(_ context.Context, _ Identity, _ K, n S) (C, bool, error) {
			return any(n).(C), true, nil
		}
	}
	if opts.FormatKey == nil {
		opts.FormatKey = formatKey[K]
	}
	if opts.ParseKey == nil {
		opts.ParseKey = parseKey[K]
	}
	if opts.ServerCodec == nil {
		opts.ServerCodec = JSON[S]{}
	}
	if opts.ClientCodec == nil {
		opts.ClientCodec = JSON[C]{}
	}
	n := &Notifier[K, S, C]{opts: opts}
	n.core = &notifier{
		h:        h,
		name:     opts.Name,
		public:   opts.Public,
		keys:     make(map[string]map[*Session]struct{}),
		sessions: make(map[*Session]map[string]struct{}),
		deliver:  n.deliver,
		check: func(key string) error {
			_, err := opts.ParseKey(key)
			return err
		},
		decode: func(payload []byte) error {
			var v S
			if err := opts.ServerCodec.Unmarshal(payload, &v); err != nil {
				return fmt.Errorf("%w: notification of %q does not decode: %w", ErrInvalidOptions, opts.Name, err)
			}
			return nil
		},
	}
	if opts.Concurrency < 1 {
		n.opts.Concurrency = 1
	}
	if err := h.addNotifier(n.core); err != nil {
		return nil, err
	}
	if h.clustered() {
		if err := h.claimNotifier(n.core, opts.Declare, opts.Spec); err != nil {
			h.nmu.Lock()
			delete(h.notifiers, n.core.name)
			h.nmu.Unlock()
			return nil, err
		}
	}
	return n, nil
}

// NewSimpleNotifier creates a notifier that passes notifications of type
// N through to every listener (Eliom's Make_Simple).
func NewSimpleNotifier[K comparable, N any](h *Hub, name string) (*Notifier[K, N, N], error) {
	return NewNotifier(h, NotifierOptions[K, N, N]{Name: name})
}

func formatKey[K comparable](k K) string {
	if s, ok := any(k).(string); ok {
		return s
	}
	b, _ := json.Marshal(k)
	return string(b)
}

func parseKey[K comparable](s string) (K, error) {
	var k K
	if p, ok := any(&k).(*string); ok {
		*p = s
		return k, nil
	}
	if err := json.Unmarshal([]byte(s), &k); err != nil {
		return k, fmt.Errorf("%w: bad key %q: %v", ErrInvalidOptions, s, err)
	}
	return k, nil
}

// Name returns the notifier's name.
func (n *Notifier[K, S, C]) Name() string { return n.core.name }

// Listen makes the session listen on key. Its notifications arrive on the
// session's notification channel, whose id it returns: clients subscribe
// to it (the WebSocket transport does so by itself).
func (n *Notifier[K, S, C]) Listen(s *Session, key K) (string, error) {
	return n.core.listen(s, n.opts.FormatKey(key))
}

// Unlisten stops the session listening on key.
func (n *Notifier[K, S, C]) Unlisten(s *Session, key K) { n.core.unlisten(s, n.opts.FormatKey(key)) }

// UnlistenUser stops every session of user listening on key (ocsigen-start's
// unlisten_user), and returns how many stopped.
func (n *Notifier[K, S, C]) UnlistenUser(user string, key K) int {
	return n.core.unlistenUser(user, n.opts.FormatKey(key))
}

// Listeners returns the number of sessions listening on key on this node.
func (n *Notifier[K, S, C]) Listeners(key K) int {
	n.core.mu.Lock()
	defer n.core.mu.Unlock()
	return len(n.core.keys[n.opts.FormatKey(key)])
}

// Notify sends v to every listener of key but those nf excludes, each
// getting what Prepare makes of it for them. It returns how many listeners
// on this node got a notification; other nodes get it through the broker
// and prepare it for their own listeners.
func (n *Notifier[K, S, C]) Notify(ctx context.Context, key K, v S, nf NotFor) (int, error) {
	payload, err := n.opts.ServerCodec.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("notify %q: %w", n.core.name, err)
	}
	return n.core.notify(ctx, n.opts.FormatKey(key), payload, nf)
}

// deliver is the typed half of notifier.deliver.
func (n *Notifier[K, S, C]) deliver(ctx context.Context, key string, payload []byte, nf NotFor) (int, error) {
	listeners := n.core.listenersOf(key)
	if len(listeners) == 0 {
		return 0, nil
	}
	k, err := n.opts.ParseKey(key)
	if err != nil {
		return 0, err
	}
	var v S
	if err := n.opts.ServerCodec.Unmarshal(payload, &v); err != nil {
		return 0, fmt.Errorf("notify %q: %w: the notification does not decode: %w", n.core.name, ErrInvalidOptions, err)
	}
	var sent atomic.Int64
	if n.opts.PrepareBatch != nil {
		listeners = slices.DeleteFunc(listeners, nf.excludes)
		size := n.opts.BatchSize
		batches := (len(listeners) + size - 1) / size
		forEach(batches, n.opts.Concurrency, func(i int, buf *[]byte) {
			batch := listeners[i*size : min((i+1)*size, len(listeners))]
			sent.Add(int64(n.deliverBatch(ctx, batch, key, k, v, buf)))
		})
		return int(sent.Load()), nil
	}
	forEach(len(listeners), n.opts.Concurrency, func(i int, buf *[]byte) {
		if n.deliverOne(ctx, listeners[i], key, k, v, nf, buf) {
			sent.Add(1)
		}
	})
	return int(sent.Load()), nil
}

// deliverBatch prepares the notifications of a batch of listeners in one
// PrepareBatch call and queues them, returning how many were sent.
func (n *Notifier[K, S, C]) deliverBatch(ctx context.Context, batch []*Session, key string, k K, v S, buf *[]byte) int {
	ids := make([]Identity, len(batch))
	for i, s := range batch {
		ids[i] = Identity{Session: s, User: s.User()}
	}
	out, err := n.opts.PrepareBatch(ctx, ids, k, v)
	if err == nil && len(out) != len(ids) {
		err = fmt.Errorf("PrepareBatch returned %d results for %d listeners", len(out), len(ids))
	}
	if err != nil {
		n.core.h.log.Warn("halley: notifier prepare failed", "notifier", n.core.name, "key", key, "listeners", len(ids), "err", err)
		return 0
	}
	sent := 0
	for i, p := range out {
		if p.Send && n.queue(ctx, batch[i], key, p.Value, buf) {
			sent++
		}
	}
	return sent
}

// deliverOne prepares and queues one listener's notification, reporting
// whether it was sent.
func (n *Notifier[K, S, C]) deliverOne(ctx context.Context, s *Session, key string, k K, v S, nf NotFor, buf *[]byte) bool {
	if nf.excludes(s) {
		return false
	}
	c, send, err := n.opts.Prepare(ctx, Identity{Session: s, User: s.User()}, k, v)
	if err != nil {
		n.core.h.log.Warn("halley: notifier prepare failed", "notifier", n.core.name, "key", key, "err", err)
		return false
	}
	if !send {
		return false
	}
	return n.queue(ctx, s, key, c, buf)
}

// queue encodes a listener's notification and queues it on the session's
// notification channel, reporting whether it was.
func (n *Notifier[K, S, C]) queue(ctx context.Context, s *Session, key string, c C, buf *[]byte) bool {
	data, err := n.opts.ClientCodec.Marshal(c)
	if err != nil {
		n.core.h.log.Warn("halley: notifier encode failed", "notifier", n.core.name, "key", key, "err", err)
		return false
	}
	*buf = appendNotification((*buf)[:0], n.core.name, key, data)
	ch, err := s.notifications()
	if err != nil {
		return false // the session closed meanwhile
	}
	if ch.local {
		_, err = ch.writeLocal(nil, append([]byte(nil), *buf...))
	} else {
		_, err = ch.write(ctx, append([]byte(nil), *buf...))
	}
	return err == nil
}

// forEach calls f for 0..n-1 on up to workers goroutines, each with a
// scratch buffer of its own, and returns when all calls did.
func forEach(n, workers int, f func(i int, buf *[]byte)) {
	if workers <= 1 || n <= 1 {
		var buf []byte
		for i := range n {
			f(i, &buf)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			var buf []byte
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				f(i, &buf)
			}
		})
	}
	wg.Wait()
}

// appendNotification appends the payload of a notification message:
// {"notifier":…,"key":…,<json|data|data64>}.
func appendNotification(dst []byte, name, key string, data []byte) []byte {
	dst = append(dst, `{"notifier":`...)
	dst = frame.AppendString(dst, name)
	dst = append(dst, `,"key":`...)
	dst = frame.AppendString(dst, key)
	dst = append(dst, ',')
	dst = frame.AppendData(dst, data)
	return append(dst, '}')
}

func (n *notifier) listenersOf(key string) []*Session {
	n.mu.Lock()
	defer n.mu.Unlock()
	set := n.keys[key]
	out := make([]*Session, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	return out
}

func (n *notifier) listen(s *Session, key string) (string, error) {
	if len(key) > n.h.cfg.MaxKeyLen || !validKey(key) {
		return "", fmt.Errorf("listen: %w: at most %d bytes of UTF-8 without control characters", ErrInvalidKey, n.h.cfg.MaxKeyLen)
	}
	if err := n.check(key); err != nil {
		return "", err
	}
	ch, err := s.notifications()
	if err != nil {
		return "", err
	}
	n.mu.Lock()
	first := n.sessions[s] == nil
	if _, again := n.sessions[s][key]; !again && !s.addListen(n.h.cfg.MaxListens) {
		n.mu.Unlock()
		return "", fmt.Errorf("listen: %w: a session listens on at most %d keys", ErrTooManyListens, n.h.cfg.MaxListens)
	}
	if first {
		n.sessions[s] = make(map[string]struct{})
	}
	n.sessions[s][key] = struct{}{}
	if n.keys[key] == nil {
		n.keys[key] = make(map[*Session]struct{})
	}
	n.keys[key][s] = struct{}{}
	n.mu.Unlock()
	if first && !s.whenClosed(func() { n.forgetSession(s) }) {
		return "", fmt.Errorf("listen: %w", ErrSessionClosed)
	}
	return ch.id, nil
}

func (n *notifier) unlisten(s *Session, key string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.dropLocked(s, key)
}

func (n *notifier) dropLocked(s *Session, key string) {
	if set := n.keys[key]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(n.keys, key)
		}
	}
	if keys := n.sessions[s]; keys != nil {
		if _, ok := keys[key]; ok {
			delete(keys, key)
			s.dropListen()
		}
	}
}

// validKey reports whether a key is UTF-8 without control characters.
func validKey(key string) bool {
	return key != "" && utf8.ValidString(key) && !strings.ContainsFunc(key, isControl)
}

func (n *notifier) unlistenUser(user, key string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	dropped := 0
	for s := range n.keys[key] {
		if s.User() == user {
			n.dropLocked(s, key)
			dropped++
		}
	}
	return dropped
}

// forgetSession drops every key of a session that closed (Eliom's
// automatic unlisten when a client goes away).
func (n *notifier) forgetSession(s *Session) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for key := range n.sessions[s] {
		n.dropLocked(s, key)
	}
	delete(n.sessions, s)
}

// notifyTopic is the broker topic of notifications crossing nodes.
const notifyTopic = "halley.notify"

// envelope is a notification as it crosses to other nodes: the server's
// notification only, never client data.
type envelope struct {
	Node     string `json:"node"`
	Notifier string `json:"notifier"`
	Key      string `json:"key"`
	Payload  []byte `json:"payload"`
	NotFor   NotFor `json:"not_for"`
}

func (n *notifier) notify(ctx context.Context, key string, payload []byte, nf NotFor) (int, error) {
	sent, err := n.deliver(ctx, key, payload, nf)
	if err != nil {
		return sent, err
	}
	env, _ := json.Marshal(envelope{Node: n.h.node, Notifier: n.name, Key: key, Payload: payload, NotFor: nf})
	if err := n.h.broker.Broadcast(ctx, notifyTopic, env); err != nil {
		return sent, fmt.Errorf("notify %q: %w", n.name, err)
	}
	return sent, nil
}

// handleNotify delivers a notification that another node sent.
func (h *Hub) handleNotify(data []byte) {
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil || env.Node == h.node {
		return
	}
	h.nmu.RLock()
	n, ok := h.notifiers[env.Notifier] // a node without it has no listeners
	h.nmu.RUnlock()
	if !ok {
		return
	}
	if _, err := n.deliver(h.ctx, env.Key, env.Payload, env.NotFor); err != nil {
		h.log.Warn("halley: notification from another node", "notifier", env.Notifier, "err", err)
	}
}

func (h *Hub) addNotifier(n *notifier) error {
	h.nmu.Lock()
	defer h.nmu.Unlock()
	if _, taken := h.notifiers[n.name]; taken {
		return fmt.Errorf("%w: notifier %q", ErrNameTaken, n.name)
	}
	h.notifiers[n.name] = n
	return nil
}

func (h *Hub) notifier(name string) (*notifier, bool) {
	h.nmu.RLock()
	n, ok := h.notifiers[name]
	h.nmu.RUnlock()
	if ok || !h.clustered() {
		return n, ok
	}
	return h.foundNotifier(name)
}

// Listen makes session s listen on key of the notifier called name, for
// transports and APIs that know notifiers by name. It returns the session's
// notification channel id.
func (h *Hub) Listen(s *Session, name, key string) (string, error) {
	n, ok := h.notifier(name)
	if !ok {
		return "", fmt.Errorf("listen: %w: %q", ErrUnknownNotifier, name)
	}
	return n.listen(s, key)
}

// Unlisten undoes Listen.
func (h *Hub) Unlisten(s *Session, name, key string) error {
	n, ok := h.notifier(name)
	if !ok {
		return fmt.Errorf("unlisten: %w: %q", ErrUnknownNotifier, name)
	}
	n.unlisten(s, key)
	return nil
}

// UnlistenUser stops every session of user listening on key of the
// notifier called name, and returns how many stopped.
func (h *Hub) UnlistenUser(name, user, key string) (int, error) {
	n, ok := h.notifier(name)
	if !ok {
		return 0, fmt.Errorf("unlisten: %w: %q", ErrUnknownNotifier, name)
	}
	return n.unlistenUser(user, key), nil
}

// Notify sends a notification, already encoded with the notifier's server
// codec, to the listeners of key of the notifier called name (for APIs that
// know notifiers by name). It returns how many listeners on this node got
// it.
func (h *Hub) Notify(ctx context.Context, name, key string, payload []byte, nf NotFor) (int, error) {
	n, ok := h.notifier(name)
	if !ok {
		return 0, fmt.Errorf("notify: %w: %q", ErrUnknownNotifier, name)
	}
	if err := n.check(key); err != nil {
		return 0, err
	}
	if err := n.decode(payload); err != nil {
		return 0, err
	}
	return n.notify(ctx, key, payload, nf)
}

// notifications returns the session's notification channel: a ring of
// Config.NotifyQueue notifications kept on this node, owned by the session,
// made on first use.
func (s *Session) notifications() (*Channel, error) {
	s.mu.Lock()
	c, closed := s.notify, s.closed
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("notifications: %w", ErrSessionClosed)
	}
	if c != nil {
		return c, nil
	}
	c, err := s.hub.newRing(s, s.hub.cfg.NotifyQueue)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.notify != nil { // another goroutine won
		go c.Close(s.hub.ctx)
		return s.notify, nil
	}
	s.notify = c
	return c, nil
}
