package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/host/internal/redistest"
)

func TestServeUsage(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "extra"},
		{"serve", "--bogus"},
		{"serve", "--listen"},
	} {
		if code, _, stderr := run(args...); code != 2 || !strings.Contains(stderr, "Usage: cogs serve") {
			t.Errorf("%q: code %d, stderr %q", args, code, stderr)
		}
	}
	if code, stdout, _ := run("help"); code != 0 || !strings.Contains(stdout, "cogs serve [--config FILE]") {
		t.Errorf("help does not list serve: %q", stdout)
	}
}

// noSignals makes cogs serve run under a context that ends after d
// rather than on a signal, so that a test that starts it by mistake fails
// instead of hanging.
func noSignals(t *testing.T, d time.Duration) {
	saved := signalContext
	signalContext = func() (context.Context, context.CancelFunc) { return context.WithTimeout(context.Background(), d) }
	t.Cleanup(func() { signalContext = saved })
}

func TestServeInvalidConfig(t *testing.T) {
	noSignals(t, 5*time.Second)
	dir := t.TempDir()
	for _, tc := range []struct{ yaml, want string }{
		{"listen: nowhere\n", `cogs.yaml: listen: "nowhere" is not host:port`},
		{"upstream:\n  adress: x\n", "cogs.yaml: upstream.adress: unknown key (line 2)"},
		{"engine:\n  memory_limit: lots\n", `cogs.yaml: engine.memory_limit: "lots" is not a size`},
		{"upstream:\n  password: ${env:COGS_TEST_NO_SUCH_VARIABLE}\n", `upstream.password: ${env:COGS_TEST_NO_SUCH_VARIABLE}: environment variable "COGS_TEST_NO_SUCH_VARIABLE" is not set`},
		{"recipes:\n  - file: none.wasm\n", filepath.Join(dir, "none.wasm") + ": no such file or directory"},
	} {
		file := filepath.Join(dir, "cogs.yaml")
		os.WriteFile(file, []byte(tc.yaml), 0o644)
		code, _, stderr := run("serve", "--config", file)
		if code != 1 || !strings.Contains(stderr, "cogs serve: ") || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: code %d, stderr %q, want 1 and a message containing %q", tc.yaml, code, stderr, tc.want)
		}
	}
	// Flags are validated too, and override the file.
	if code, _, stderr := run("serve", "--upstream", "redis"); code != 1 || !strings.Contains(stderr, `upstream.address: "redis" is not host:port`) {
		t.Errorf("--upstream redis: code %d, stderr %q", code, stderr)
	}
	if code, _, stderr := run("serve", "--config", filepath.Join(dir, "missing.yaml")); code != 1 || !strings.Contains(stderr, "missing.yaml") {
		t.Errorf("missing file: code %d, stderr %q", code, stderr)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cogs serve with no file serves the defaults, overridden by flags, and
// stops cleanly (exit 0) when its context ends.
func TestServeStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	saved := signalContext
	signalContext = func() (context.Context, context.CancelFunc) { return ctx, cancel }
	defer func() { signalContext = saved }()

	addr := freeAddr(t)
	upstream := redistest.Start(t).Addr
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Main([]string{"serve", "--listen", addr, "--upstream", upstream}, &bytes.Buffer{}, &stderr)
	}()
	waitListening(t, addr)
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("code %d, stderr %s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
	log := stderr.String()
	for _, want := range []string{"cogs.serve: starting: listen=" + addr + " upstream=" + upstream + " recipes=0", "cogs.serve: stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// The real thing: the binary's Main in a child process, stopped by SIGINT
// and by SIGTERM.
func TestServeSignal(t *testing.T) {
	if addr := os.Getenv("COGS_TEST_SERVE_CHILD"); addr != "" {
		os.Exit(Main([]string{"serve", "--listen", addr, "--upstream", os.Getenv("COGS_TEST_SERVE_UPSTREAM")}, os.Stdout, os.Stderr))
	}
	upstream := redistest.Start(t).Addr
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		addr := freeAddr(t)
		cmd := exec.Command(os.Args[0], "-test.run=^TestServeSignal$")
		cmd.Env = append(os.Environ(), "COGS_TEST_SERVE_CHILD="+addr, "COGS_TEST_SERVE_UPSTREAM="+upstream)
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitListening(t, addr)
		cmd.Process.Signal(sig)
		if err := cmd.Wait(); err != nil {
			t.Errorf("%v: %v\n%s", sig, err, out.String())
		} else if !strings.Contains(out.String(), "stopped") {
			t.Errorf("%v: no clean stop logged:\n%s", sig, out.String())
		}
	}
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitListening(t testing.TB, addr string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			// The front end opens its upstream connection (to a closed port
			// here) and drops the client; that is fine: it listens.
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
