// Package redistest starts throwaway redis-server processes for tests.
//
// Start looks for redis-server on PATH. When it is missing the test is
// skipped, unless COGS_REQUIRE_INTEGRATION=1, in which case it fails.
// Each server listens on a free port of 127.0.0.1, keeps nothing on disk
// (its directory is the test's temporary directory) and is killed when the
// test ends.
package redistest

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a running redis-server.
type Server struct {
	// Addr is its "127.0.0.1:<port>" address.
	Addr string
	// Shared is set when the server is not the test's own (StartJSON given
	// an address): the test must use keys of its own, and delete them.
	Shared bool
}

// StartJSON returns a Redis with the RedisJSON module, as the environment
// variable COGS_TEST_REDIS_JSON says: the path of the module (a file
// ending in ".so"), which it loads into a throwaway redis-server started as
// Start starts one, or the address (host:port) of a running server, which
// the test then shares (Shared). Without the variable the test is skipped,
// even with COGS_REQUIRE_INTEGRATION=1: no RedisJSON module can be
// installed from Debian's packages.
func StartJSON(t testing.TB) *Server {
	t.Helper()
	v := os.Getenv("COGS_TEST_REDIS_JSON")
	switch {
	case v == "":
		t.Skip("COGS_TEST_REDIS_JSON is not set (the path of a RedisJSON module, or the address of a Redis that has it)")
	case strings.HasSuffix(v, ".so"):
		if _, err := os.Stat(v); err != nil {
			t.Fatalf("COGS_TEST_REDIS_JSON: %v", err)
		}
		return Start(t, "--loadmodule", v)
	}
	if err := waitPing(v, nil); err != nil {
		t.Fatalf("COGS_TEST_REDIS_JSON=%s: %v", v, err)
	}
	return &Server{Addr: v, Shared: true}
}

// Start starts a redis-server with the extra command-line arguments args
// (such as "--databases", "4") and waits until it answers PING.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("COGS_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("redis-server not on PATH and COGS_REQUIRE_INTEGRATION=1")
		}
		t.Skip("redis-server not on PATH")
	}
	for attempt := 0; ; attempt++ {
		addr, port := freePort(t)
		argv := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", t.TempDir(), "--logfile", ""}, args...)
		c := exec.Command(bin, argv...)
		var log lockedBuffer
		c.Stdout, c.Stderr = &log, &log
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { c.Wait(); close(exited) }()
		stop := func() {
			c.Process.Kill()
			<-exited
		}
		if err := waitPing(addr, exited); err != nil {
			stop()
			if attempt < 3 { // another process took the port meanwhile
				continue
			}
			t.Fatalf("redis-server did not start: %v\n%s", err, log.String())
		}
		t.Cleanup(stop)
		return &Server{Addr: addr}
	}
}

func freePort(t testing.TB) (string, int) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	return "127.0.0.1:" + strconv.Itoa(port), port
}

// waitPing waits up to 10 seconds for an answer to PING, or until the
// process exits.
func waitPing(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.SetDeadline(time.Now().Add(2 * time.Second))
			_, err = conn.Write([]byte("PING\r\n"))
			var line string
			if err == nil {
				line, err = bufio.NewReader(conn).ReadString('\n')
			}
			conn.Close()
			// A server with requirepass answers NOAUTH: it is up too.
			if err == nil && (line == "+PONG\r\n" || strings.HasPrefix(line, "-NOAUTH")) {
				return nil
			}
		}
		select {
		case <-exited:
			return os.ErrProcessDone
		default:
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
