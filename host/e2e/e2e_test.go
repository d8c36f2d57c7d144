package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/cogs-dev/cogs/host/apply"
	"github.com/cogs-dev/cogs/host/config"
	"github.com/cogs-dev/cogs/host/enginetest"
	"github.com/cogs-dev/cogs/host/internal/redistest"
	"github.com/cogs-dev/cogs/host/serve"
)

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// recipeFile builds the Go recipe in dir and writes it to a file.
func recipeFile(t testing.TB, dir string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), filepath.Base(dir)+".wasm")
	if err := os.WriteFile(file, enginetest.Build(t, dir), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// hostConfig is a cogs configuration in front of upstream, writing to tg,
// with the given recipe files.
func hostConfig(t testing.TB, upstream string, tg *target, recipes ...string) config.Config {
	cfg := config.Default()
	cfg.Listen = freeAddr(t)
	cfg.Upstream.Address = upstream
	cfg.Engine.CacheDir = enginetest.CacheDir()
	cfg.Connections = config.Connections{tg.conn}
	cfg.Apply.BatchAge = 20 * time.Millisecond
	cfg.Apply.LeaseTTL = 2 * time.Second
	cfg.Apply.RetryMin = 20 * time.Millisecond
	cfg.Apply.RetryMax = 500 * time.Millisecond
	for _, r := range recipes {
		cfg.Recipes = append(cfg.Recipes, config.Recipe{File: r})
	}
	return cfg
}

// runHost runs cogs serve in this process until the test ends.
func runHost(t testing.TB, cfg config.Config, logger hclog.Logger, opts ...serve.Option) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve.Run(ctx, cfg, logger, opts...) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.DialTimeout("tcp", cfg.Listen, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case err := <-done:
			t.Fatalf("serve: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("cogs does not listen on %s", cfg.Listen)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func serveObserver(o apply.Observer) serve.Option { return serve.WithObserver(o) }

func client(t testing.TB, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2})
	t.Cleanup(func() { c.Close() })
	return c
}

// drained waits until the streams of recipes are empty with nothing
// pending.
func drained(t testing.TB, rdb *redis.Client, timeout time.Duration, recipes ...string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for _, r := range recipes {
		key := apply.KeysOf(r).Stream
		for {
			n, err := rdb.XLen(ctx, key).Result()
			if err == nil && n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("stream %s not drained: length %d (%v)", key, n, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// personsInRedis returns the person:* hashes as the persons table should
// hold them: "id|first|last|age".
func personsInRedis(t *testing.T, rdb *redis.Client) []string {
	t.Helper()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "person:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range keys {
		h, err := rdb.HGetAll(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		f := func(name string) string {
			if v, ok := h[name]; ok {
				return v
			}
			return "<nil>"
		}
		out = append(out, strings.Join([]string{strings.TrimPrefix(k, "person:"), f("first_name"), f("last_name"), f("age")}, "|"))
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

// waitAck reads the acknowledgement stream key, waiting for its entry.
func waitAck(t *testing.T, c *redis.Client, key string) map[string]any {
	t.Helper()
	res, err := c.XRead(context.Background(), &redis.XReadArgs{Streams: []string{key, "0"}, Block: 20 * time.Second}).Result()
	if err != nil || len(res) != 1 || len(res[0].Messages) != 1 {
		t.Fatalf("ack %s: %v (%v)", key, res, err)
	}
	return res[0].Messages[0].Values
}

// TestIntegrationRgsyncExample runs rgsync's README example (persons and
// cars) through cogs against SQLite, MariaDB and PostgreSQL: writes, HDEL,
// DEL, the "#" field with its acknowledgements, and a poison change.
func TestIntegrationRgsyncExample(t *testing.T) {
	persons := recipeFile(t, "../../examples/persons")
	cars := recipeFile(t, "../../examples/cars")
	for _, mk := range []func(t testing.TB) *target{
		sqliteTarget,
		func(t testing.TB) *target { return mariadbTarget(t, mysqlAddr) },
		postgresTarget,
	} {
		tg := mk(t)
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			rs := redistest.Start(t)
			cfg := hostConfig(t, rs.Addr, tg, persons, cars)
			runHost(t, cfg, nil)
			rgsyncExample(t, tg, client(t, cfg.Listen), client(t, rs.Addr))
		})
	}
}

// The same example with the persons recipe written in Rust
// (examples/rust-persons, built by make recipes): the same rows.
func TestIntegrationRgsyncExampleRust(t *testing.T) {
	file := "../../bin/recipes/rust-persons.wasm"
	if _, err := os.Stat(file); err != nil {
		if os.Getenv("COGS_REQUIRE_INTEGRATION") == "1" {
			t.Fatalf("%v: build it with make recipes", err)
		}
		t.Skipf("%v: build it with make recipes", err)
	}
	cars := recipeFile(t, "../../examples/cars")
	tg := sqliteTarget(t)
	rs := redistest.Start(t)
	cfg := hostConfig(t, rs.Addr, tg, file, cars)
	runHost(t, cfg, nil)
	rgsyncExample(t, tg, client(t, cfg.Listen), client(t, rs.Addr))
}

func rgsyncExample(t *testing.T, tg *target, c, direct *redis.Client) {
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.HSet(ctx, "person:1", "first_name", "Ann", "last_name", "Lee", "age", "42").Err())
	must(c.HSet(ctx, "person:2", "first_name", "Bob", "last_name", "Ray", "age", "30").Err())
	must(c.HSet(ctx, "car:1", "id", "1", "color", "red").Err())
	must(c.HSet(ctx, "car:2", "id", "2", "color", "blue").Err())
	must(c.HDel(ctx, "person:1", "last_name").Err()) // last becomes NULL
	must(c.Del(ctx, "person:2").Err())               // the row goes
	must(c.HIncrBy(ctx, "car:2", "id", 5).Err())     // id 7

	// "=" with a uuid: replicated, and acknowledged once it reached the
	// target.
	must(c.HSet(ctx, "person:3", "first_name", "Cy", "last_name", "Oz", "age", "9", "#", "=u-1").Err())
	if ack := waitAck(t, c, "{person:3}u-1"); ack["status"] != "done" {
		t.Errorf("ack of person:3: %v", ack)
	}
	if got := tg.table(t, "SELECT person_id, first FROM persons WHERE person_id = '3'"); len(got) != 1 {
		t.Errorf("acknowledged before the row was there: %v", got)
	}
	// "+": written to Redis only.
	must(c.HSet(ctx, "person:4", "first_name", "Di", "last_name", "Ng", "age", "1", "#", "+").Err())
	// "~" with a uuid: deleted from Redis and the target.
	must(c.HSet(ctx, "person:3", "#", "~u-2").Err())
	if ack := waitAck(t, c, "{person:3}u-2"); ack["status"] != "done" {
		t.Errorf("ack of the delete of person:3: %v", ack)
	}
	// "-": deleted from Redis only; the row stays.
	must(c.HSet(ctx, "person:5", "first_name", "Ed", "last_name", "Po", "age", "50").Err())
	must(c.HSet(ctx, "person:5", "#", "-").Err())
	// A poison change: the recipe rejects it; it is dead-lettered and
	// acknowledged as failed, and the rest goes on.
	must(c.HSet(ctx, "person:6", "first_name", "Fi", "last_name", "Qu", "age", "old", "#", "=u-3").Err())
	if ack := waitAck(t, c, "{person:6}u-3"); ack["status"] != "failed" || !strings.Contains(fmt.Sprint(ack["error"]), "age is not an integer") {
		t.Errorf("ack of person:6: %v", ack)
	}
	must(c.HSet(ctx, "person:7", "first_name", "Gil", "last_name", "Ro", "age", "77").Err())
	drained(t, direct, 30*time.Second, "persons", "cars")

	if got, want := tg.table(t, "SELECT person_id, first, last, age FROM persons ORDER BY person_id"),
		[]string{"1|Ann|<nil>|42", "5|Ed|Po|50", "7|Gil|Ro|77"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s persons:\n got %v\nwant %v", tg.name, got, want)
	}
	if got, want := tg.table(t, "SELECT car_id, id, color FROM cars ORDER BY car_id"),
		[]string{"1|1|red", "2|7|blue"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s cars:\n got %v\nwant %v", tg.name, got, want)
	}
	// Redis: person:4 written without replication, person:5 and person:3
	// deleted, the "#" field never stored.
	if got := personsInRedis(t, direct); strings.Join(got, ",") != "1|Ann|<nil>|42,4|Di|Ng|1,6|Fi|Qu|old,7|Gil|Ro|77" {
		t.Errorf("redis persons: %v", got)
	}
	dlq, err := direct.XRange(ctx, apply.KeysOf("persons").DLQ, "-", "+").Result()
	if err != nil || len(dlq) != 1 || dlq[0].Values["key"] != "person:6" || dlq[0].Values["stage"] != "recipe" {
		t.Errorf("dead letters: %v (%v)", dlq, err)
	}
}
