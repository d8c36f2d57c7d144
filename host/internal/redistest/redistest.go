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
