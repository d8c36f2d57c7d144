package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/cogs-dev/cogs/host/apply"
	"github.com/cogs-dev/cogs/host/internal/redistest"
)

// buildCogs builds the cogs binary once per test binary.
var buildCogs = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "cogs-e2e-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "cogs")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/cogs").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// writeConfig writes the YAML configuration of a cogs host that listens on
// listen, in front of upstream, with the audit recipe writing to tg.
func writeConfig(t *testing.T, listen, upstream string, tg *target, recipe string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: %s\nupstream:\n  address: %s\n", listen, upstream)
	fmt.Fprintf(&b, "connections:\n  mysql:\n    type: %s\n", tg.conn.Type)
	for k, v := range tg.conn.Options {
		fmt.Fprintf(&b, "    %s: %q\n", k, fmt.Sprint(v))
	}
	fmt.Fprintf(&b, "apply:\n  batch_size: 200\n  batch_age: 20ms\n  lease_ttl: 1s\n  retry_min: 20ms\n  retry_max: 500ms\n")
	fmt.Fprintf(&b, "recipes:\n  - file: %s\nlog:\n  level: info\n", recipe)
	file := filepath.Join(t.TempDir(), "cogs.yaml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// proc is a cogs host in a child process.
type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

func startProc(t *testing.T, bin, cfgFile, listen string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, "serve", "--config", cfgFile), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("cogs output:\n%s", p.out.String())
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.DialTimeout("tcp", listen, time.Second)
		if err == nil {
			c.Close()
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("cogs exited:\n%s", p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("cogs does not listen on %s:\n%s", listen, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// writer writes n changes to keys person:0..keys-1 through addr, each
// retried until it succeeds (cogs may be down meanwhile), at most rate
// writes per second when rate > 0. progress counts the writes done.
func writer(ctx context.Context, addr string, n, keys, rate int, progress *atomic.Int64) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 5 * time.Second})
	defer c.Close()
	var tick *time.Ticker
	if rate > 0 {
		tick = time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
	}
	for i := 0; i < n; i++ {
		if tick != nil {
			<-tick.C
		}
		key := fmt.Sprintf("person:%d", i%keys)
		for {
			err := c.HSet(ctx, key, "first_name", fmt.Sprint("F", i), "last_name", "L", "age", i).Err()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("write %d: %w", i, err)
			}
			if strings.HasPrefix(err.Error(), "ERR") || strings.HasPrefix(err.Error(), "COGS") {
				return fmt.Errorf("write %d: %w", i, err)
			}
			time.Sleep(20 * time.Millisecond) // cogs is down: try again
		}
		progress.Add(1)
	}
	return nil
}

// checkSame compares the persons table with Redis, and checks that
// nothing was dead-lettered: a change applied twice would have inserted
// its persons_log row twice, which the log's primary key refuses.
func checkSame(t *testing.T, tg *target, direct *redis.Client, writes int) {
	t.Helper()
	want := personsInRedis(t, direct)
	got := tg.table(t, "SELECT person_id, first, last, age FROM persons")
	if a, b := strings.Join(sorted(got), "\n"), strings.Join(want, "\n"); a != b {
		t.Errorf("%s persons differ from Redis: %d rows, %d keys", tg.name, len(got), len(want))
		for i := 0; i < len(got) && i < len(want); i++ {
			if sorted(got)[i] != want[i] {
				t.Errorf("first difference: row %q, redis %q", sorted(got)[i], want[i])
				break
			}
		}
	}
	if n := direct.XLen(context.Background(), apply.KeysOf("persons").DLQ).Val(); n != 0 {
		dl := direct.XRange(context.Background(), apply.KeysOf("persons").DLQ, "-", "+").Val()
		t.Errorf("%d dead letters, want 0: %v", n, dl[0].Values)
	}
	// Every captured change is applied once or coalesced into a later one
	// of its batch: the log holds at most as many rows as the stream ever
	// had entries (a write whose reply was lost when cogs was killed is
	// written again by the client, and captured twice).
	logged := tg.count(t, "persons_log")
	info, err := direct.XInfoStream(context.Background(), apply.KeysOf("persons").Stream).Result()
	if err != nil {
		t.Fatal(err)
	}
	if logged == 0 || int64(logged) > info.EntriesAdded || int64(writes) > info.EntriesAdded {
		t.Errorf("%d changes logged, %d entries captured, %d writes", logged, info.EntriesAdded, writes)
	}
	t.Logf("%d writes, %d entries captured, %d changes applied (the rest coalesced), %d rows", writes, info.EntriesAdded, logged, len(got))
}

// A cogs host killed with SIGKILL while changes flow, twice, and started
// again: no change is lost, none is applied twice.
func TestIntegrationKill9(t *testing.T) {
	t.Parallel()
	bin, err := buildCogs()
	if err != nil {
		t.Fatal(err)
	}
	tg := mariadbTarget(t, mysqlAddr)
	rs := redistest.Start(t)
	listen := freeAddr(t)
	cfgFile := writeConfig(t, listen, rs.Addr, tg, recipeFile(t, "testdata/audit"))
	direct := client(t, rs.Addr)

	const writes, keys = 30000, 700
	var progress atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p := startProc(t, bin, cfgFile, listen)
	written := make(chan error, 1)
	go func() { written <- writer(ctx, listen, writes, keys, 0, &progress) }()
	for _, at := range []int64{writes / 3, 2 * writes / 3} {
		for progress.Load() < at {
			time.Sleep(5 * time.Millisecond)
		}
		p.kill()
		time.Sleep(100 * time.Millisecond)
		p = startProc(t, bin, cfgFile, listen)
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	drained(t, direct, 60*time.Second, "persons")
	checkSame(t, tg, direct, writes)
}

// proxy is a TCP proxy that can be taken down (every connection cut, new
// ones refused) and brought up again, to make a target unreachable.
type proxy struct {
	addr, target string
	mu           sync.Mutex
	l            net.Listener
	conns        map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{target: target, conns: map[net.Conn]bool{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = l.Addr().String()
	p.serve(l)
	t.Cleanup(p.down)
	return p
}

func (p *proxy) serve(l net.Listener) {
	p.mu.Lock()
	p.l = l
	p.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[u] = true, true
			p.mu.Unlock()
			go func() { io.Copy(u, c); u.Close(); c.Close() }()
			go func() { io.Copy(c, u); u.Close(); c.Close() }()
		}
	}()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.l != nil {
		p.l.Close()
		p.l = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *proxy) up(t *testing.T) {
	for i := 0; ; i++ {
		l, err := net.Listen("tcp", p.addr)
		if err == nil {
			p.serve(l)
			return
		}
		if i == 100 {
			t.Fatalf("proxy up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The target unreachable for 30 seconds under a steady load: cogs keeps
// capturing, retries with backoff, logs the outage once and its end once,
// and everything arrives once the target is back.
func TestIntegrationTargetDown(t *testing.T) {
	t.Parallel()
	reachable(t, "MariaDB", mysqlAddr)
	px := newProxy(t, mysqlAddr)
	tg := mariadbTarget(t, px.addr)
	rs := redistest.Start(t)
	cfg := hostConfig(t, rs.Addr, tg, recipeFile(t, "testdata/audit"))
	logs := &syncBuffer{}
	runHost(t, cfg, hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Info}))
	direct := client(t, rs.Addr)

	const rate, keys = 1000, 300
	const writes = 40 * rate // 40 s: 5 up, 30 down, 5 up
	var progress atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	written := make(chan error, 1)
	go func() { written <- writer(ctx, cfg.Listen, writes, keys, rate, &progress) }()
	time.Sleep(5 * time.Second)
	px.down()
	time.Sleep(30 * time.Second)
	backlog := direct.XLen(ctx, apply.KeysOf("persons").Stream).Val()
	px.up(t)
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	drained(t, direct, 60*time.Second, "persons")
	checkSame(t, tg, direct, int(progress.Load()))
	if backlog < 1000 {
		t.Errorf("stream held %d entries at the end of the outage: was the target down?", backlog)
	}
	l := logs.String()
	if n := strings.Count(l, "target mysql failing; retrying"); n != 1 {
		t.Errorf("the outage was logged %d times, want once:\n%s", n, l)
	}
	if n := strings.Count(l, "target mysql recovered"); n != 1 {
		t.Errorf("the recovery was logged %d times, want once:\n%s", n, l)
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
