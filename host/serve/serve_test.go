package serve

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
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

// sqliteConn is a connection named "mysql" (the name the persons example's
// trigger uses, as in rgsync's example) to a new SQLite file with the
// persons table, and a handle on that file.
func sqliteConn(t *testing.T) (config.Connection, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "target.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE persons (person_id TEXT PRIMARY KEY, first TEXT, last TEXT, age INTEGER)`); err != nil {
		t.Fatal(err)
	}
	return config.Connection{Name: "mysql", Type: "sqlite", Options: map[string]any{"path": path}}, db
}

func TestIntegrationServe(t *testing.T) {
	redis := redistest.Start(t)
	conn, db := sqliteConn(t)
	cfg := config.Default()
	cfg.Listen = freeAddr(t)
	cfg.Upstream.Address = redis.Addr
	cfg.Engine.CacheDir = enginetest.CacheDir()
	cfg.Connections = config.Connections{conn}
	cfg.Apply.BatchAge = 10 * time.Millisecond
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

	// The change reaches the target, and leaves the stream.
	var row string
	for deadline := time.Now().Add(20 * time.Second); ; {
		var first, last string
		var age int
		err := db.QueryRow(`SELECT first, last, age FROM persons WHERE person_id = '1'`).Scan(&first, &last, &age)
		if err == nil {
			row = fmt.Sprint(first, " ", last, " ", age)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("row of person:1 not written: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if row != "Ann Lee 42" {
		t.Errorf("row %q, want Ann Lee 42", row)
	}
	direct := dial(t, redis.Addr)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if v, _ := direct.do("XLEN", StreamKey("persons")); v.Int == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("stream not trimmed after the commit")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The unwatched write reached Redis.
	if _, raw := direct.do("GET", "plain"); raw != "$1\r\nv\r\n" {
		t.Errorf("GET plain straight from redis: %q", raw)
	}

	// The change stream is cogs's: clients may read it, not write it.
	for _, cmd := range [][]string{{"DEL", StreamKey("persons")}, {"XTRIM", StreamKey("persons"), "MAXLEN", "0"}} {
		want := "-COGS " + cmd[0] + ` refused: key "cogs:{persons}:changes" is the change stream of recipe "persons", which cogs owns` + "\r\n"
		if _, raw := c.do(cmd...); raw != want {
			t.Errorf("%s through cogs: %q, want %q", cmd[0], raw, want)
		}
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
	upstream := redistest.Start(t).Addr

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
		{"unknown connection", func(c *config.Config) {
			c.Connections = nil
			c.Recipes = []config.Recipe{{File: persons}}
		}, "recipes[0]: " + persons + `: recipe "persons": trigger "person:" names connection "mysql", which is not configured`},
		{"unknown connector", func(c *config.Config) {
			c.Connections = config.Connections{{Name: "mysql", Type: "oracle9"}}
		}, `connections.mysql: connector "oracle9": unknown connector`},
		{"bad connector option", func(c *config.Config) {
			c.Connections = config.Connections{{Name: "mysql", Type: "sqlite", Options: map[string]any{"pth": "x"}}}
		}, `connections.mysql: connector "sqlite": `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, _ := sqliteConn(t)
			cfg := config.Default()
			cfg.Connections = config.Connections{conn}
			cfg.Upstream.Address = upstream
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
