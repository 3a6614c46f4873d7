package redisstore

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

// The tests run against a real redis-server: the one at REBOUND_REDIS_ADDR,
// or else one that TestMain starts on a free loopback port and stops at the
// end. Without redis-server they skip, but fail under CI.

var (
	redisAddr  string // the shared server's address
	skipReason string // why the tests that need Redis skip
)

// quiet drops go-redis's log lines (dial failures, expected when the fault
// test stops Redis).
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	redis.SetLogger(quiet{})
	var own *server
	if redisAddr = os.Getenv("REBOUND_REDIS_ADDR"); redisAddr == "" {
		if _, err := exec.LookPath("redis-server"); err != nil {
			if os.Getenv("CI") != "" {
				fmt.Fprintln(os.Stderr, "redisstore: redis-server is not installed and REBOUND_REDIS_ADDR is unset; CI must provide one")
				os.Exit(1)
			}
			skipReason = "redis-server is not installed and REBOUND_REDIS_ADDR is unset"
		} else {
			var err error
			if own, err = startServer(); err != nil {
				fmt.Fprintln(os.Stderr, "redisstore:", err)
				os.Exit(1)
			}
			redisAddr = own.addr()
		}
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if own != nil {
			own.kill()
		}
		os.Exit(code)
	}))
}

// needServerBinary skips (or, under CI, fails) a test that runs its own
// redis-server.
func needServerBinary(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is not installed")
		}
		t.Skip("redis-server is not installed")
	}
}

// server is a redis-server process the test binary owns.
type server struct {
	port int
	cmd  *exec.Cmd
}

// startServer starts a redis-server on a free loopback port, without
// persistence, and waits until it answers PING.
func startServer() (*server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &server{port: port}
	return s, s.start()
}

func (s *server) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *server) start() error {
	s.cmd = exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no")
	s.cmd.Dir = os.TempDir()
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: s.addr(), MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := rdb.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("redis-server on port %d did not answer PING: %w", s.port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

func (s *server) signal(sig syscall.Signal) error { return s.cmd.Process.Signal(sig) }

// needRedis skips t when there is no Redis to test against.
func needRedis(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// newClient returns a client of addr that honours contexts, closed at the
// end of t.
func newClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

var prefixes atomic.Int64

// testPrefix returns a prefix no other test (or run) uses.
func testPrefix(t *testing.T) string {
	return fmt.Sprintf("rebound-test:%d:%d:%s:", os.Getpid(), prefixes.Add(1), t.Name())
}

// newStore returns a Store on rdb, closed at the end of t.
func newStore(t *testing.T, rdb redis.UniversalClient, opts Options) *Store {
	t.Helper()
	s, err := New(rdb, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// eventually polls cond until it holds, failing t after within.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type deadline struct {
	name  string
	until time.Time
}

// recorder returns a subscriber that sends what it is told on a channel.
func recorder() (chan deadline, func(string, time.Time)) {
	ch := make(chan deadline, 256)
	return ch, func(name string, until time.Time) { ch <- deadline{name, until} }
}

// await receives from ch until name comes with until, failing t after
// within.
func await(t *testing.T, ch <-chan deadline, name string, until time.Time, within time.Duration) {
	t.Helper()
	timer := time.NewTimer(within)
	defer timer.Stop()
	for {
		select {
		case d := <-ch:
			if d.name == name && d.until.UnixMilli() == raisedMilli(until) {
				return
			}
		case <-timer.C:
			t.Fatalf("deadline %s=%v not delivered within %v", name, until, within)
		}
	}
}

// raisedMilli is until as Raise sends it: in Unix milliseconds, rounded up.
func raisedMilli(until time.Time) int64 {
	ms := until.UnixMilli()
	if time.UnixMilli(ms).Before(until) {
		ms++
	}
	return ms
}
