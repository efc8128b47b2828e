package halley

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/halleyhq/halley/internal/wire/ocsigen"
)

// control is the run-time switchboard of Ocsigen_comet's Security module:
// activation, the poll timeout, and killing the requests under way.
type control struct {
	active  atomic.Bool
	timeout atomic.Int64 // nanoseconds

	mu   sync.Mutex
	kill chan struct{} // closed to end every waiting request with 503
	// released is closed at Shutdown: waiting requests answer as at a
	// timeout.
	released chan struct{}

	// Streams (SSE, WebSocket) do not wait on the shared channels above,
	// whose locks a thousand goroutines would contend for at every
	// message: they register their waiter, get woken, and compare
	// generations. killGen counts kills; down is set at Shutdown.
	killGen atomic.Uint64
	down    atomic.Bool
	streams map[*waiter]struct{} // guarded by mu
}

func (c *control) init(timeout time.Duration) {
	c.active.Store(true)
	c.timeout.Store(int64(timeout))
	c.kill = make(chan struct{})
	c.released = make(chan struct{})
	c.streams = make(map[*waiter]struct{})
}

// generation returns the kill generation for a stream about to start; take
// it before checking that the hub is active, so a kill in between is seen.
func (c *control) generation() uint64 { return c.killGen.Load() }

// watch registers a stream's waiter, to be woken by kills and Shutdown.
func (c *control) watch(w *waiter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.streams[w] = struct{}{}
}

func (c *control) unwatch(w *waiter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.streams, w)
}

// stopReason tells a stream that started at generation gen whether it
// must end: "shutdown", "deactivated" (a kill), or "".
func (c *control) stopReason(gen uint64) string {
	switch {
	case c.down.Load():
		return "shutdown"
	case c.killGen.Load() != gen:
		return "deactivated"
	}
	return ""
}

// tick wakes every registered stream, for their heartbeats.
func (c *control) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wakeStreamsLocked()
}

// wakeStreamsLocked wakes every registered stream. c.mu is held.
func (c *control) wakeStreamsLocked() {
	for w := range c.streams {
		w.notify()
	}
}

// signals returns the current kill and release channels for a request
// about to wait.
func (c *control) signals() (kill, released <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kill, c.released
}

func (c *control) killAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	close(c.kill)
	c.kill = make(chan struct{})
	c.killGen.Add(1)
	c.wakeStreamsLocked()
}

func (c *control) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	close(c.released)
	c.down.Store(true)
	c.wakeStreamsLocked()
}

// Activate resumes client activity after Deactivate; clients reconnect by
// themselves. Activating an active hub does nothing.
func (h *Hub) Activate() { h.control.active.Store(true) }

// Deactivate stops all client activity: every waiting request is answered
// 503 at once and new ones are refused with 503 until Activate. Writes
// still work; connected readers miss what is written meanwhile unless their
// transport resumes by position.
func (h *Hub) Deactivate() {
	h.control.active.Store(false)
	h.control.killAll()
}

// Active reports whether client activity is enabled.
func (h *Hub) Active() bool { return h.control.active.Load() }

// PollTimeout returns the timeout given to new long-poll requests.
func (h *Hub) PollTimeout() time.Duration { return time.Duration(h.control.timeout.Load()) }

// SetPollTimeout changes the timeout of new long-poll requests. With kill,
// the requests under way are also ended at once (503); without, they keep
// the timeout they started with.
func (h *Hub) SetPollTimeout(d time.Duration, kill bool) error {
	if d <= 0 {
		return fmt.Errorf("%w: timeout must be positive", ErrUnknownCommand)
	}
	h.control.timeout.Store(int64(d))
	if kill {
		h.control.killAll()
	}
	return nil
}

// Command runs one line of Ocsigen's command pipe: "comet:activate",
// "comet:deactivate", "comet:set_timeout <seconds>" or
// "comet:set_timeout <seconds> KILL". Anything else fails with
// ErrUnknownCommand. A command applies to every node sharing the hub's
// broker: it is applied here, then broadcast to the others. (Activate,
// Deactivate and SetPollTimeout called directly apply to this node only.)
func (h *Hub) Command(line string) error {
	if err := h.applyCommand(line); err != nil {
		h.log.Warn("halley: command refused", "command", clip(line), "reason", Reason(err), "err", err)
		return err
	}
	h.log.Info("halley: command", "command", clip(line))
	env, _ := json.Marshal(commandEnvelope{Node: h.node, Line: line})
	if err := h.broker.Broadcast(h.ctx, commandTopic, env); err != nil {
		return fmt.Errorf("command %q applied on this node only: %w", line, err)
	}
	return nil
}

// applyCommand applies a command line on this node.
func (h *Hub) applyCommand(line string) error {
	cmd, err := ocsigen.ParseCommand(line)
	if err != nil {
		if errors.Is(err, ocsigen.ErrUnknownCommand) {
			return fmt.Errorf("%w: %q", ErrUnknownCommand, line)
		}
		return err
	}
	switch cmd.Op {
	case "activate":
		h.Activate()
	case "deactivate":
		h.Deactivate()
	case "set_timeout":
		if err := h.SetPollTimeout(cmd.Timeout, cmd.Kill); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: %q", ErrUnknownCommand, line)
	}
	h.log.Info("halley: command", "line", line)
	return nil
}

// commandTopic is the broker topic of commands crossing nodes.
const commandTopic = "halley.command"

// commandEnvelope is a command as it crosses to the other nodes.
type commandEnvelope struct {
	Node string `json:"node"`
	Line string `json:"line"`
}

// handleCommand applies a command another node sent.
func (h *Hub) handleCommand(data []byte) {
	var env commandEnvelope
	if err := json.Unmarshal(data, &env); err != nil || env.Node == h.node {
		return
	}
	if err := h.applyCommand(env.Line); err != nil {
		h.log.Warn("halley: command from another node", "line", env.Line, "err", err)
	}
}
