// Package redistest runs throwaway redis-server processes for tests: each on
// a free loopback port, in the test's temporary folder, stopped by PID when
// the test ends. Tests never touch a Redis they did not start.
//
// Use Start for a server (Options.Persist for one whose data survives a
// restart, Options.ReplicaOf for a replica), StartSentinel for a Sentinel
// watching it, and the Server's Stop, Kill, Start and Restart to make it
// fail. Outside CI (the CI environment variable empty) a machine without
// redis-server skips the test with a reason; in CI that is a failure.
package redistest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// StartTimeout bounds how long Start waits for a server to answer PING, and
// Stop for it to exit.
const StartTimeout = 10 * time.Second

// Options configure a server started by Start. The zero value is a server
// without persistence.
type Options struct {
	// Persist turns the append-only file on, fsynced at every write, so
	// that a Stop, Kill or Restart loses nothing. Default: no persistence
	// at all (--save "" --appendonly no): a restart starts empty.
	Persist bool
	// ReplicaOf makes the server a replica of that one. Default: a primary.
	ReplicaOf *Server
	// Args are more redis-server arguments, such as "--maxmemory", "10mb".
	Args []string
}

// Server is one redis-server process (or redis-server --sentinel) started
// by Start or StartSentinel. Its methods are meant for the test's goroutine.
type Server struct {
	t        testing.TB
	bin      string
	dir      string
	port     int
	args     []string
	sentinel bool

	cmd    *exec.Cmd
	exited chan struct{}
}

// Binary returns the path of redis-server, skipping the test when it is not
// installed (failing it when the CI environment variable is set).
func Binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := fmt.Sprintf("redis-server not installed: %v (Debian: apt-get install redis-server)", err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

// Start starts a redis-server on a free loopback port, in a folder of
// t.TempDir(), and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s := &Server{t: t, bin: Binary(t), dir: t.TempDir()}
	s.args = []string{"--bind", "127.0.0.1", "--dir", s.dir, "--save", "", "--daemonize", "no", "--logfile", "redis.log"}
	if opts.Persist {
		s.args = append(s.args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		s.args = append(s.args, "--appendonly", "no")
	}
	if opts.ReplicaOf != nil {
		s.args = append(s.args, "--replicaof", "127.0.0.1", strconv.Itoa(opts.ReplicaOf.port))
	}
	s.args = append(s.args, opts.Args...)
	s.startFresh()
	return s
}

// StartSentinel starts a Sentinel (redis-server --sentinel) that monitors
// primary under the name master, with a quorum of one and a primary deemed
// down after one second without an answer.
func StartSentinel(t testing.TB, primary *Server, master string) *Server {
	t.Helper()
	s := &Server{t: t, bin: Binary(t), dir: t.TempDir(), sentinel: true}
	conf := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]d 1\n"+
		"sentinel down-after-milliseconds %[1]s 1000\n"+
		"sentinel failover-timeout %[1]s 5000\n"+
		"sentinel parallel-syncs %[1]s 1\n", master, primary.port)
	path := filepath.Join(s.dir, "sentinel.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// The configuration file comes first, and Sentinel rewrites it.
	s.args = []string{path, "--sentinel", "--bind", "127.0.0.1", "--dir", s.dir, "--daemonize", "no", "--logfile", "redis.log"}
	s.startFresh()
	return s
}

// startFresh picks a free port and starts the process on it, trying
// another port when the first is taken before the server binds it.
func (s *Server) startFresh() {
	s.t.Helper()
	var err error
	for range 5 {
		if s.port, err = freePort(); err != nil {
			continue
		}
		if err = s.launch(); err == nil {
			s.t.Cleanup(s.cleanup)
			return
		}
	}
	s.t.Fatalf("redistest: could not start %s: %v", s.bin, err)
}

func freePort() (int, error) {
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		// Never the well-known port, where a shared server may run.
		if port != 6379 && port != 26379 {
			return port, nil
		}
	}
}

// launch starts the process and waits until it answers PING.
func (s *Server) launch() error {
	args := append(append([]string(nil), s.args...), "--port", strconv.Itoa(s.port))
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = childAttr()
	cmd.Stdout, cmd.Stderr = nil, nil // the log goes to redis.log
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited
	deadline := time.Now().Add(StartTimeout)
	for {
		if reply, err := s.Do("PING"); err == nil && reply == "PONG" {
			return nil
		}
		select {
		case <-exited:
			s.cmd = nil
			return fmt.Errorf("redis-server exited at start: %s", s.logTail())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.signal(syscall.SIGKILL)
			return fmt.Errorf("redis-server not answering PING after %v: %s", StartTimeout, s.logTail())
		}
	}
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// signal sends sig to the process and waits for it to exit.
func (s *Server) signal(sig syscall.Signal) {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.exited:
	case <-time.After(StartTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

func (s *Server) cleanup() { s.signal(syscall.SIGKILL) }

// Addr returns the server's host:port on the loopback interface.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL returns a redis:// URL of the server's database 0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Port returns the server's port.
func (s *Server) Port() int { return s.port }

// PID returns the process id, or 0 while the server is stopped.
func (s *Server) PID() int {
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Dir returns the server's working folder (its data and redis.log).
func (s *Server) Dir() string { return s.dir }

// Stop shuts the server down with SIGTERM and waits until it exited.
func (s *Server) Stop() {
	s.t.Helper()
	s.signal(syscall.SIGTERM)
}

// Kill kills the server with SIGKILL and waits until it exited.
func (s *Server) Kill() {
	s.t.Helper()
	s.signal(syscall.SIGKILL)
}

// Start starts a stopped server again, on the same port and folder.
func (s *Server) Start() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("redistest: Start of a running server")
	}
	if err := s.launch(); err != nil {
		s.t.Fatalf("redistest: restart: %v", err)
	}
}

// Restart stops the server (SIGTERM) and starts it again.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.Start()
}

// Do sends one command and returns its reply: a status, bulk string or
// integer as text, an array as its elements on lines, nil as "". A Redis
// error reply is returned as an error.
func (s *Server) Do(args ...string) (string, error) {
	conn, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	var req bytes.Buffer
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write(req.Bytes()); err != nil {
		return "", err
	}
	r := &respReader{conn: conn}
	var lines []string
	if err := r.read(&lines); err != nil {
		return "", err
	}
	return strings.Join(lines, "\n"), nil
}

// MustDo is Do that fails the test on an error.
func (s *Server) MustDo(args ...string) string {
	s.t.Helper()
	reply, err := s.Do(args...)
	if err != nil {
		s.t.Fatalf("redistest: %s: %v", strings.Join(args, " "), err)
	}
	return reply
}

// respReader reads the RESP2 replies of Do.
type respReader struct {
	conn net.Conn
	buf  []byte
}

func (r *respReader) line() (string, error) {
	for {
		if i := bytes.Index(r.buf, []byte("\r\n")); i >= 0 {
			l := string(r.buf[:i])
			r.buf = r.buf[i+2:]
			return l, nil
		}
		if err := r.fill(); err != nil {
			return "", err
		}
	}
}

func (r *respReader) fill() error {
	p := make([]byte, 4096)
	n, err := r.conn.Read(p)
	r.buf = append(r.buf, p[:n]...)
	if n > 0 {
		return nil
	}
	return err
}

func (r *respReader) read(out *[]string) error {
	l, err := r.line()
	if err != nil {
		return err
	}
	if l == "" {
		return errors.New("redistest: empty reply line")
	}
	switch l[0] {
	case '+', ':':
		*out = append(*out, l[1:])
	case '-':
		return errors.New(l[1:])
	case '$':
		n, err := strconv.Atoi(l[1:])
		if err != nil {
			return err
		}
		if n < 0 {
			*out = append(*out, "")
			return nil
		}
		for len(r.buf) < n+2 {
			if err := r.fill(); err != nil {
				return err
			}
		}
		*out = append(*out, string(r.buf[:n]))
		r.buf = r.buf[n+2:]
	case '*':
		n, err := strconv.Atoi(l[1:])
		if err != nil {
			return err
		}
		for range n {
			if err := r.read(out); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("redistest: unexpected reply %q", l)
	}
	return nil
}
