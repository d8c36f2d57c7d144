package serve

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/cogs-dev/cogs/host/config"
	"github.com/cogs-dev/cogs/host/enginetest"
	"github.com/cogs-dev/cogs/host/internal/redistest"
	"github.com/cogs-dev/cogs/host/internal/resp"
)

// client is a raw RESP client.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *resp.Reader
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	var conn net.Conn
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; {
		if conn, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() { conn.Close() })
	return &client{t: t, conn: conn, r: resp.NewReader(bufio.NewReader(conn), resp.Limits{})}
}

// do sends a command and returns its reply, parsed, and raw.
func (c *client) do(args ...string) (resp.Value, string) {
	c.t.Helper()
	bargs := make([][]byte, len(args))
	for i, a := range args {
		bargs[i] = []byte(a)
	}
	c.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.conn.Write(resp.AppendCommand(nil, bargs...)); err != nil {
		c.t.Fatalf("%v: %v", args, err)
	}
	v, raw, err := c.r.ReadValue()
	if err != nil {
		c.t.Fatalf("%v: %v", args, err)
	}
	return v, string(raw)
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func writeRecipe(t testing.TB) string {
	file := filepath.Join(t.TempDir(), "persons.wasm")
	if err := os.WriteFile(file, enginetest.Build(t, "../../examples/persons"), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestIntegrationServe(t *testing.T) {
	redis := redistest.Start(t)
	cfg := config.Default()
	cfg.Listen = freeAddr(t)
	cfg.Upstream.Address = redis.Addr
	cfg.Engine.CacheDir = enginetest.CacheDir()
	cfg.Recipes = []config.Recipe{{File: writeRecipe(t)}}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, hclog.NewNullLogger()) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run after cancel: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Error("Run did not return after cancel")
			}
		}
	}
	t.Cleanup(stop)

	c := dial(t, cfg.Listen)
	if _, raw := c.do("HSET", "person:1", "first_name", "Ann", "last_name", "Lee", "age", "42"); raw != ":3\r\n" {
		t.Fatalf("HSET: %q, want :3", raw)
	}
	if _, raw := c.do("SET", "plain", "v"); raw != "+OK\r\n" {
		t.Errorf("SET plain: %q", raw)
	}
	if _, raw := c.do("GET", "plain"); raw != "$1\r\nv\r\n" {
		t.Errorf("GET plain: %q", raw)
	}

	direct := dial(t, redis.Addr)
	v, raw := direct.do("XRANGE", StreamKey("persons"), "-", "+")
	if len(v.Elems) != 1 {
		t.Fatalf("XRANGE %s: %q, want one entry", StreamKey("persons"), raw)
	}
	fields := map[string]string{}
	kv := v.Elems[0].Elems[1].Elems
	for i := 0; i+1 < len(kv); i += 2 {
		fields[string(kv[i].Str)] = string(kv[i+1].Str)
	}
	if fields["op"] != "set" || fields["key"] != "person:1" {
		t.Errorf("entry %q, want op set and key person:1", raw)
	}
	// The unwatched write left no stream behind, and reached Redis.
	if _, raw := direct.do("GET", "plain"); raw != "$1\r\nv\r\n" {
		t.Errorf("GET plain straight from redis: %q", raw)
	}
	if _, raw := direct.do("KEYS", "cogs:*"); raw != "*1\r\n$22\r\ncogs:{persons}:changes\r\n" {
		t.Errorf("KEYS cogs:*: %q", raw)
	}

	// The change stream is cogs's: clients may read it, not write it.
	for _, cmd := range [][]string{{"DEL", StreamKey("persons")}, {"XTRIM", StreamKey("persons"), "MAXLEN", "0"}} {
		want := "-COGS " + cmd[0] + ` refused: key "cogs:{persons}:changes" is the change stream of recipe "persons", which cogs owns` + "\r\n"
		if _, raw := c.do(cmd...); raw != want {
			t.Errorf("%s through cogs: %q, want %q", cmd[0], raw, want)
		}
	}
	if v, raw := c.do("XLEN", StreamKey("persons")); v.Int != 1 {
		t.Errorf("XLEN through cogs: %q, want 1", raw)
	}

	stop()
	if _, err := net.DialTimeout("tcp", cfg.Listen, time.Second); err == nil {
		t.Error("still listening after shutdown")
	}
}

func TestRunStartupErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.wasm")
	os.WriteFile(junk, []byte("junk"), 0o644)
	persons := writeRecipe(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	for _, tc := range []struct {
		name string
		edit func(*config.Config)
		want string
	}{
		{"invalid", func(c *config.Config) { c.Listen = "x" }, `listen: "x" is not host:port`},
		{"missing file", func(c *config.Config) {
			c.Recipes = []config.Recipe{{File: filepath.Join(dir, "none.wasm")}}
		}, "recipes[0]: " + filepath.Join(dir, "none.wasm") + ": no such file or directory"},
		{"junk", func(c *config.Config) {
			c.Recipes = []config.Recipe{{File: persons}, {File: junk}}
		}, "recipes[1]: " + junk + `: recipe "junk": load: invalid module`},
		{"missing config", func(c *config.Config) {
			c.Recipes = []config.Recipe{{File: persons, Config: filepath.Join(dir, "none.json")}}
		}, "recipes[0]: " + persons + ": config: open "},
		{"loaded twice", func(c *config.Config) {
			c.Recipes = []config.Recipe{{File: persons}, {File: persons}}
		}, `recipe "persons" is loaded twice`},
		{"port in use", func(c *config.Config) { c.Listen = busy.Addr().String() }, "listen: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Listen = freeAddr(t)
			cfg.Engine.CacheDir = enginetest.CacheDir()
			tc.edit(&cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := Run(ctx, cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
