package redis_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
	"github.com/cogs-dev/cogs/connectors/conformance"
	"github.com/cogs-dev/cogs/connectors/redis"
	goredis "github.com/redis/go-redis/v9"
)

var addr = env("COGS_REDIS_ADDR", "127.0.0.1:6379")

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// server skips the test when no Redis is reachable, unless
// COGS_REQUIRE_INTEGRATION=1.
func server(t testing.TB) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		return
	}
	if os.Getenv("COGS_REQUIRE_INTEGRATION") == "1" {
		t.Fatalf("Redis at %s: %v", addr, err)
	}
	t.Skipf("Redis at %s unreachable (set COGS_REDIS_ADDR): %v", addr, err)
}

var seq atomic.Int64

// prefix returns a key prefix no other test (or run) uses.
func prefix() string {
	return fmt.Sprintf("cogstest:%d:%d:", time.Now().UnixNano(), seq.Add(1))
}

// direct is a client straight to the server, for inspection.
func direct(t testing.TB) *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DisableIdentity: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// cleanup deletes every key under p when the test ends.
func cleanup(t testing.TB, rc *goredis.Client, p string) {
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rc.Scan(ctx, 0, globEscape(p)+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
			if len(keys) == 1000 {
				rc.Del(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			rc.Del(ctx, keys...)
		}
		if err := iter.Err(); err != nil {
			t.Errorf("cleanup %s: %v", p, err)
		}
	})
}

func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\*?[]`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// store reads rows back with its own client and its own idea of the keys:
// prefix + table + ":" + the key values joined by ':'.
type store struct {
	rc     *goredis.Client
	prefix string
	json   bool
}

func (s *store) key(table string, keys []abi.Column) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = redis.HashValue(k.Value)
	}
	return s.prefix + table + ":" + strings.Join(parts, ":")
}

func (s *store) Table(t *testing.T, name string, keys, cols []conformance.Col) {}

func (s *store) Row(t *testing.T, table string, keys []abi.Column) (map[string]abi.Value, bool) {
	t.Helper()
	ctx := context.Background()
	k := s.key(table, keys)
	if s.json {
		body, err := s.rc.Get(ctx, k).Result()
		if errors.Is(err, goredis.Nil) {
			return nil, false
		}
		if err != nil {
			t.Fatal(err)
		}
		return decodeJSON(t, body), true
	}
	m, err := s.rc.HGetAll(ctx, k).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(m) == 0 {
		return nil, false
	}
	row := make(map[string]abi.Value, len(m))
	for f, v := range m {
		row[f] = abi.String(v)
	}
	return row, true
}

func decodeJSON(t *testing.T, body string) map[string]abi.Value {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("stored document %q: %v", body, err)
	}
	row := make(map[string]abi.Value, len(m))
	for f, v := range m {
		switch v := v.(type) {
		case nil:
			row[f] = abi.Null()
		case string:
			row[f] = abi.String(v)
		case bool:
			row[f] = abi.Bool(v)
		case json.Number:
			if strings.ContainsAny(string(v), ".eE") {
				x, err := strconv.ParseFloat(string(v), 64)
				if err != nil {
					t.Fatal(err)
				}
				row[f] = abi.Float(x)
			} else {
				x, err := strconv.ParseInt(string(v), 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				row[f] = abi.Int(x)
			}
		default:
			t.Fatalf("stored document %q: member %q is a %T", body, f, v)
		}
	}
	return row
}

func (s *store) Count(t *testing.T, table string) int {
	t.Helper()
	ctx := context.Background()
	iter := s.rc.Scan(ctx, 0, globEscape(s.prefix+table+":")+"*", 1000).Iterator()
	n := 0
	for iter.Next(ctx) {
		n++
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// openAt opens a connector through addr (a proxy, or the server) with a
// fresh prefix and checkpoint hash, both removed in cleanup.
func openAt(t *testing.T, at string, extra map[string]any) (*redis.Connector, *store) {
	t.Helper()
	rc := direct(t)
	p := prefix()
	cleanup(t, rc, p)
	cfg := map[string]any{
		"address":        at,
		"key_template":   p + "{table}:{keys}",
		"checkpoint_key": p + "checkpoints",
		"client_name":    "cogstest",
	}
	for k, v := range extra {
		cfg[k] = v
	}
	c, err := connectors.Open("redis", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*redis.Connector), &store{rc: rc, prefix: p, json: c.(*redis.Connector).Mode() == redis.ModeJSONString}
}

type proxied struct {
	*redis.Connector
	proxy *conformance.Proxy
}

func target(extra map[string]any) conformance.StoreTarget {
	tg := conformance.StoreTarget{
		Open: func(t *testing.T) (connectors.Connector, conformance.Store) {
			p := conformance.NewProxy(t, addr)
			c, s := openAt(t, p.Addr, extra)
			return proxied{c, p}, s
		},
		Atomic:                 true,
		RejectsDuplicateInsert: true,
		Poison: func(t *testing.T, s conformance.Store, table string, keys []abi.Column) {
			st := s.(*store)
			if err := st.rc.LPush(context.Background(), st.key(table, keys), "not a row").Err(); err != nil {
				t.Fatal(err)
			}
		},
		Drop: func(t *testing.T, c connectors.Connector) {
			// The batch of the case is 5,000 rows of ~150 bytes: cut in
			// the middle of its MULTI.
			c.(proxied).proxy.CutAfter(600 << 10)
		},
	}
	if extra["mode"] == "json" {
		tg.Stored = func(v abi.Value) abi.Value {
			if v.Kind() == abi.KindBytes {
				return abi.String(base64.StdEncoding.EncodeToString([]byte(v.Str())))
			}
			return v
		}
	} else {
		tg.Stored = func(v abi.Value) abi.Value { return abi.String(redis.HashValue(v)) }
	}
	return tg
}

func TestIntegrationConformanceHash(t *testing.T) {
	server(t)
	conformance.RunStore(t, target(nil))
}

// The local server has no JSON module: json_fallback string stores each
// row as a string holding a JSON document.
func TestIntegrationConformanceJSONString(t *testing.T) {
	server(t)
	extra := map[string]any{"mode": "json", "json_fallback": "string"}
	c, _ := openAt(t, addr, extra)
	if c.Mode() != redis.ModeJSONString {
		t.Skip("the server has the JSON module; the JSON string fallback is not used")
	}
	conformance.RunStore(t, target(extra))
}

func TestIntegrationJSONModuleMissing(t *testing.T) {
	server(t)
	rc := direct(t)
	if n, err := rc.Do(context.Background(), "COMMAND", "INFO", "JSON.SET").Slice(); err != nil || (len(n) == 1 && n[0] != nil) {
		t.Skipf("the server has the JSON module (%v)", err)
	}
	_, err := connectors.Open("redis", map[string]any{"address": addr, "mode": "json"})
	if err == nil || !strings.Contains(err.Error(), "needs the JSON module") || !strings.Contains(err.Error(), "json_fallback: string") {
		t.Errorf("Open(mode json) without the module = %v", err)
	}
}

// TestIntegrationWrongTypeFirst puts the key of another type first in the
// batch, in every mode: the refusal names it whatever the order of the
// type check's replies.
func TestIntegrationWrongTypeFirst(t *testing.T) {
	server(t)
	for _, extra := range []map[string]any{nil, {"mode": "json", "json_fallback": "string"}, {"mode": "json", "json_fallback": "string", "write": "replace"}} {
		t.Run(fmt.Sprint(extra), func(t *testing.T) {
			c, s := openAt(t, addr, extra)
			ctx := context.Background()
			k := []abi.Column{{Name: "id", Value: abi.Int(1)}}
			if err := s.rc.LPush(ctx, s.key("t", k), "x").Err(); err != nil {
				t.Fatal(err)
			}
			ops := []abi.RowOp{
				{Op: abi.RowUpsert, Table: "t", Keys: k},
				{Op: abi.RowUpsert, Table: "t", Keys: []abi.Column{{Name: "id", Value: abi.Int(2)}}},
			}
			err := c.Apply(ctx, ops, connectors.Checkpoint{})
			var be *connectors.BatchError
			if !errors.As(err, &be) || !be.Permanent || be.Index != 0 || !strings.Contains(err.Error(), "WRONGTYPE") {
				t.Errorf("apply = %v, want a permanent WRONGTYPE at 0", err)
			}
			if n := s.Count(t, "t"); n != 1 {
				t.Errorf("%d keys, want the list only", n)
			}
		})
	}
}

func TestIntegrationReplace(t *testing.T) {
	server(t)
	for _, mode := range []string{"hash", "json"} {
		t.Run(mode, func(t *testing.T) {
			c, s := openAt(t, addr, map[string]any{"write": "replace", "mode": mode, "json_fallback": "string"})
			ctx := context.Background()
			up := func(id int64, kv ...abi.Column) abi.RowOp {
				return abi.RowOp{Op: abi.RowUpsert, Table: "t", Keys: []abi.Column{{Name: "id", Value: abi.Int(id)}}, Cols: kv}
			}
			if err := c.Apply(ctx, []abi.RowOp{up(1, abi.Column{Name: "a", Value: abi.String("x")}, abi.Column{Name: "b", Value: abi.String("y")})}, connectors.Checkpoint{}); err != nil {
				t.Fatal(err)
			}
			if err := c.Apply(ctx, []abi.RowOp{up(1, abi.Column{Name: "a", Value: abi.String("z")})}, connectors.Checkpoint{}); err != nil {
				t.Fatal(err)
			}
			row, ok := s.Row(t, "t", []abi.Column{{Name: "id", Value: abi.Int(1)}})
			if !ok || row["a"].Str() != "z" || len(row) != 2 {
				t.Errorf("row after replace = %v, want id and a only", row)
			}
		})
	}
}

func TestIntegrationTTLAndTemplate(t *testing.T) {
	server(t)
	rc := direct(t)
	p := prefix()
	cleanup(t, rc, p)
	c, err := connectors.Open("redis", map[string]any{
		"address":        addr,
		"key_template":   p + "{{{table}}}:{org}/{id}",
		"checkpoint_key": p + "cp",
		"ttl_seconds":    100,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	op := abi.RowOp{Op: abi.RowUpsert, Table: "person",
		Keys: []abi.Column{{Name: "id", Value: abi.Int(7)}, {Name: "org", Value: abi.String("acme")}},
		Cols: []abi.Column{{Name: "name", Value: abi.String("Ann")}, {Name: "ok", Value: abi.Bool(true)}, {Name: "f", Value: abi.Float(0.5)}}}
	if err := c.Apply(ctx, []abi.RowOp{op}, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 3, Seq: 4}}); err != nil {
		t.Fatal(err)
	}
	key := p + "{person}:acme/7"
	got, err := rc.HGetAll(ctx, key).Result()
	want := map[string]string{"id": "7", "org": "acme", "name": "Ann", "ok": "1", "f": "0.5"}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("HGETALL %s = %v, %v; want %v", key, got, err, want)
	}
	if ttl, err := rc.TTL(ctx, key).Result(); err != nil || ttl <= 90*time.Second || ttl > 100*time.Second {
		t.Errorf("TTL %s = %v, %v; want about 100s", key, ttl, err)
	}
	if v, err := rc.HGet(ctx, p+"cp", "s").Result(); err != nil || v != "3-4" {
		t.Errorf("checkpoint hash = %q, %v; want 3-4", v, err)
	}
	// An op without the column the template names is refused for good.
	bad := op
	bad.Keys = bad.Keys[:1]
	err = c.Apply(ctx, []abi.RowOp{op, bad}, connectors.Checkpoint{})
	var be *connectors.BatchError
	if !errors.As(err, &be) || !be.Permanent || be.Index != 1 || !strings.Contains(err.Error(), `key column "org"`) {
		t.Errorf("apply without org = %v", err)
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		cfg  map[string]any
		want string
	}{
		{map[string]any{"adress": "x"}, `unknown option "adress"`},
		{map[string]any{"password": "${env:COGS_TEST_UNSET_VARIABLE}"}, "COGS_TEST_UNSET_VARIABLE is not set"},
		{map[string]any{"mode": "list"}, `option "mode": want hash or json`},
		{map[string]any{"write": "upsert"}, `option "write": want merge or replace`},
		{map[string]any{"json_fallback": "drop"}, `option "json_fallback"`},
		{map[string]any{"ttl_seconds": -1}, `"ttl_seconds" must not be negative`},
		{map[string]any{"ttl_seconds": "soon"}, `option "ttl_seconds": want an integer`},
		{map[string]any{"key_template": "{table}"}, "names no key column"},
		{map[string]any{"key_template": "{table}:{id"}, "unterminated"},
		{map[string]any{"key_template": "x}:{id}"}, "unmatched '}'"},
		{map[string]any{"checkpoint_key": ""}, `"checkpoint_key" must not be empty`},
		{map[string]any{"address": "127.0.0.1:1", "timeout_ms": 200}, "open 127.0.0.1:1"},
	} {
		_, err := connectors.Open("redis", tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
}

// startServer starts a throwaway redis-server on a free port with extra
// arguments, killed when the test ends. A missing redis-server skips the
// test unless COGS_REQUIRE_INTEGRATION=1.
func startServer(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("COGS_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("redis-server not on PATH and COGS_REQUIRE_INTEGRATION=1")
		}
		t.Skip("redis-server not on PATH")
	}
	for attempt := 0; ; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		at := "127.0.0.1:" + strconv.Itoa(port)
		argv := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir()}, args...)
		cmd := exec.Command(bin, argv...)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		up := false
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if c, err := net.DialTimeout("tcp", at, time.Second); err == nil {
				c.Close()
				up = true
				break
			}
			select {
			case <-exited:
			default:
				continue
			}
			break
		}
		if !up {
			cmd.Process.Kill()
			<-exited
			if attempt < 3 {
				continue
			}
			t.Fatalf("redis-server did not start:\n%s", out.String())
		}
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
		})
		return at
	}
}

func TestIntegrationPasswordFromFile(t *testing.T) {
	at := startServer(t, "--requirepass", "s3cret")
	path := t.TempDir() + "/pw"
	if err := os.WriteFile(path, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := connectors.Open("redis", map[string]any{"address": at, "password": "${file:" + path + "}"})
	if err != nil {
		t.Fatalf("Open with the password from a file: %v", err)
	}
	defer c.Close()
	if err := c.Apply(context.Background(), []abi.RowOp{{Op: abi.RowUpsert, Table: "t", Keys: []abi.Column{{Name: "id", Value: abi.Int(1)}}}}, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 1}}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("COGS_TEST_REDIS_PASSWORD", "wrong")
	_, err = connectors.Open("redis", map[string]any{"address": at, "password": "${env:COGS_TEST_REDIS_PASSWORD}"})
	if err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("Open with a wrong password = %v, want WRONGPASS", err)
	}
}

// TestIntegrationBusy applies a batch while a script keeps the server busy:
// the server answers BUSY, a transient error, and nothing is applied.
func TestIntegrationBusy(t *testing.T) {
	at := startServer(t, "--busy-reply-threshold", "50")
	c, err := connectors.Open("redis", map[string]any{"address": at})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc := goredis.NewClient(&goredis.Options{Addr: at, MaxRetries: -1, DisableIdentity: true, ReadTimeout: -1})
	defer rc.Close()
	ctx := context.Background()
	scriptDone := make(chan error, 1)
	go func() {
		scriptDone <- rc.Eval(ctx, "local i = 0 while true do i = i + 1 end", nil).Err()
	}()
	killer := goredis.NewClient(&goredis.Options{Addr: at, MaxRetries: -1, DisableIdentity: true})
	defer killer.Close()
	// Wait until the server says BUSY.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if err := killer.Ping(ctx).Err(); err != nil && strings.HasPrefix(err.Error(), "BUSY") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server never became busy")
		}
	}
	op := abi.RowOp{Op: abi.RowUpsert, Table: "t", Keys: []abi.Column{{Name: "id", Value: abi.Int(1)}}}
	err = c.Apply(ctx, []abi.RowOp{op}, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 1}})
	var be *connectors.BatchError
	if !errors.As(err, &be) || be.Permanent || !strings.Contains(err.Error(), "BUSY") {
		t.Errorf("apply on a busy server = %v, want a transient BUSY BatchError", err)
	}
	if err := killer.ScriptKill(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	<-scriptDone
	if n, err := killer.Exists(ctx, "t:1").Result(); err != nil || n != 0 {
		t.Errorf("row after the busy batch: %d, %v", n, err)
	}
	if err := c.Apply(ctx, []abi.RowOp{op}, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 1}}); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n, err := killer.Exists(ctx, "t:1").Result(); err != nil || n != 1 {
		t.Errorf("row after the retry: %d, %v", n, err)
	}
}

func BenchmarkIntegrationApply(b *testing.B) {
	server(b)
	for _, n := range []int{100, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			rc := direct(b)
			p := prefix()
			cleanup(b, rc, p)
			c, err := connectors.Open("redis", map[string]any{"address": addr, "key_template": p + "{table}:{keys}", "checkpoint_key": p + "cp"})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ops := make([]abi.RowOp, n)
			ctx := context.Background()
			var next int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range ops {
					id := next % 100000
					next++
					ops[j] = abi.RowOp{Op: abi.RowUpsert, Table: "persons",
						Keys: []abi.Column{{Name: "id", Value: abi.Int(id)}},
						Cols: []abi.Column{
							{Name: "name", Value: abi.String(fmt.Sprintf("person %d", id))},
							{Name: "email", Value: abi.String(fmt.Sprintf("p%d@example.com", id))},
							{Name: "age", Value: abi.Int(id % 90)},
						}}
				}
				if err := c.Apply(ctx, ops, connectors.Checkpoint{Stream: "bench", ID: abi.StreamID{Ms: uint64(i + 1)}}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

func TestSlot(t *testing.T) {
	for key, want := range map[string]uint16{
		"foo": 12182, "123456789": 12739, "{user1000}.following": redis.Slot("user1000"),
		"a{}b": redis.Slot("a{}b"), "{}": 15257, "x{a}{b}": redis.Slot("a"),
	} {
		if got := redis.Slot(key); got != want {
			t.Errorf("Slot(%q) = %d, want %d", key, got, want)
		}
	}
}

// startCluster starts a Redis Cluster of three masters and returns their
// addresses.
func startCluster(t *testing.T) []string {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		if os.Getenv("COGS_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("redis-cli not on PATH and COGS_REQUIRE_INTEGRATION=1")
		}
		t.Skip("redis-cli not on PATH")
	}
	var addrs []string
	for i := 0; i < 3; i++ {
		addrs = append(addrs, startServer(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000"))
	}
	out, err := exec.Command(cli, append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	ctx := context.Background()
	for _, a := range addrs {
		rc := goredis.NewClient(&goredis.Options{Addr: a, DisableIdentity: true})
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			info, err := rc.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster at %s not ok: %q %v", a, info, err)
			}
		}
		rc.Close()
	}
	return addrs
}

type clusterStore struct {
	rc     *goredis.ClusterClient
	prefix string
}

func (s *clusterStore) Table(t *testing.T, name string, keys, cols []conformance.Col) {}

func (s *clusterStore) key(table string, keys []abi.Column) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = redis.HashValue(k.Value)
	}
	return s.prefix + table + ":" + strings.Join(parts, ":")
}

func (s *clusterStore) Row(t *testing.T, table string, keys []abi.Column) (map[string]abi.Value, bool) {
	m, err := s.rc.HGetAll(context.Background(), s.key(table, keys)).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(m) == 0 {
		return nil, false
	}
	row := make(map[string]abi.Value, len(m))
	for f, v := range m {
		row[f] = abi.String(v)
	}
	return row, true
}

func (s *clusterStore) Count(t *testing.T, table string) int {
	ctx := context.Background()
	var n atomic.Int64
	err := s.rc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
		iter := c.Scan(ctx, 0, globEscape(s.prefix+table+":")+"*", 1000).Iterator()
		for iter.Next(ctx) {
			n.Add(1)
		}
		return iter.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return int(n.Load())
}

func TestIntegrationCluster(t *testing.T) {
	addrs := startCluster(t)
	rc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	for _, k := range []string{"foo", "{}", "a{}b", "x{a}{b}", "person:{7}:x", "日本", "\x00\xff"} {
		if want, err := rc.ClusterKeySlot(context.Background(), k).Result(); err != nil || uint16(want) != redis.Slot(k) {
			t.Errorf("Slot(%q) = %d, server says %d (%v)", k, redis.Slot(k), want, err)
		}
	}
	open := func(t *testing.T) (*redis.Connector, *clusterStore) {
		p := prefix()
		c, err := connectors.Open("redis", map[string]any{"address": strings.Join(addrs, ","), "topology": "cluster", "key_template": p + "{table}:{keys}", "checkpoint_key": p + "cp"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*redis.Connector), &clusterStore{rc: rc, prefix: p}
	}
	conformance.RunStore(t, conformance.StoreTarget{
		Open: func(t *testing.T) (connectors.Connector, conformance.Store) {
			return open(t)
		},
		Stored:                 func(v abi.Value) abi.Value { return abi.String(redis.HashValue(v)) },
		RejectsDuplicateInsert: true,
		Poison: func(t *testing.T, s conformance.Store, table string, keys []abi.Column) {
			st := s.(*clusterStore)
			if err := st.rc.LPush(context.Background(), st.key(table, keys), "not a row").Err(); err != nil {
				t.Fatal(err)
			}
		},
	})
	// The types of all slots are checked before any slot is written: an op
	// refused in the last slot leaves the others untouched.
	t.Run("RefusedBeforeWriting", func(t *testing.T) {
		c, s := open(t)
		var ops []abi.RowOp
		slots := map[uint16]bool{}
		for i := int64(0); i < 100; i++ {
			op := abi.RowOp{Op: abi.RowUpsert, Table: "t", Keys: []abi.Column{{Name: "id", Value: abi.Int(i)}}}
			k, _ := c.Key(&op)
			slots[redis.Slot(k)] = true
			ops = append(ops, op)
		}
		if len(slots) < 3 {
			t.Fatalf("100 keys in %d slots", len(slots))
		}
		bad := ops[99].Keys
		if err := s.rc.Set(context.Background(), s.key("t", bad), "x", 0).Err(); err != nil {
			t.Fatal(err)
		}
		err := c.Apply(context.Background(), ops, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 1}})
		var be *connectors.BatchError
		if !errors.As(err, &be) || !be.Permanent || be.Index != 99 {
			t.Fatalf("apply = %v, want a permanent BatchError at 99", err)
		}
		if n := s.Count(t, "t"); n != 1 {
			t.Errorf("%d keys after the refused batch, want 1 (the string)", n)
		}
		if err := c.Apply(context.Background(), ops[:99], connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 1}}); err != nil {
			t.Fatal(err)
		}
		if n := s.Count(t, "t"); n != 100 {
			t.Errorf("%d keys, want 100", n)
		}
		if id, err := c.Checkpoint(context.Background(), "s"); err != nil || id.Ms != 1 {
			t.Errorf("checkpoint = %v, %v", id, err)
		}
	})
}
