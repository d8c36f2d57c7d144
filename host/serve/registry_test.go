package serve

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/cogs-dev/cogs/host/apply"
	"github.com/cogs-dev/cogs/host/config"
	"github.com/cogs-dev/cogs/host/enginetest"
	"github.com/cogs-dev/cogs/host/internal/redistest"
)

const adminPassword = "s3cret"

// itemsDB is a SQLite file with the versioned recipe's table, as the
// connection "db".
func itemsDB(t *testing.T) (config.Connection, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "items.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE items (id TEXT PRIMARY KEY, v TEXT, mapped_by TEXT)`); err != nil {
		t.Fatal(err)
	}
	return config.Connection{Name: "db", Type: "sqlite", Options: map[string]any{"path": path}}, db
}

// adminHost runs a host in front of upstream with the admin commands on,
// until the test ends, and returns its address.
func adminHost(t *testing.T, upstream string, conn config.Connection, edit func(*config.Config)) string {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = freeAddr(t)
	cfg.Upstream.Address = upstream
	cfg.Engine.CacheDir = enginetest.CacheDir()
	cfg.Connections = config.Connections{conn}
	cfg.Apply.BatchAge = 10 * time.Millisecond
	cfg.Apply.LeaseTTL = time.Second
	cfg.Admin.Password = adminPassword
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, hclog.NewNullLogger()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	dial(t, cfg.Listen) // waits until it listens
	return cfg.Listen
}

func adminClient(t *testing.T, addr string) *redis.Client {
	// No retries: a RECIPE LOAD that takes long must not be sent twice.
	c := redis.NewClient(&redis.Options{Addr: addr, Username: "cogs", Password: adminPassword,
		ReadTimeout: time.Minute, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

func versionedWasm(t *testing.T) []byte {
	return enginetest.Build(t, "testdata/versioned")
}

// load sends RECIPE LOAD and returns the reply's fields.
func load(t *testing.T, c *redis.Client, wasm []byte, conf string, replace bool) (map[string]string, error) {
	t.Helper()
	args := []any{"RECIPE", "LOAD"}
	if replace {
		args = append(args, "REPLACE")
	}
	if conf != "" {
		args = append(args, "CONFIG", conf)
	}
	args = append(args, wasm)
	v, err := c.Do(context.Background(), args...).Result()
	if err != nil {
		return nil, err
	}
	return fields(t, v), nil
}

// fields flattens a RESP2 map reply (a flat array) or a RESP3 map.
func fields(t *testing.T, v any) map[string]string {
	t.Helper()
	out := map[string]string{}
	switch v := v.(type) {
	case []any:
		for i := 0; i+1 < len(v); i += 2 {
			out[fmt.Sprint(v[i])] = fmt.Sprint(v[i+1])
		}
	case map[any]any:
		for k, x := range v {
			out[fmt.Sprint(k)] = fmt.Sprint(x)
		}
	default:
		t.Fatalf("reply %#v is not a map", v)
	}
	return out
}

func TestIntegrationRecipeAdmin(t *testing.T) {
	rs := redistest.Start(t)
	conn, db := itemsDB(t)
	addr := adminHost(t, rs.Addr, conn, nil)
	ctx := context.Background()
	wasm := versionedWasm(t)

	// Not an admin: refused.
	anon := redis.NewClient(&redis.Options{Addr: addr})
	defer anon.Close()
	if err := anon.Do(ctx, "RECIPE", "LIST").Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
		t.Errorf("RECIPE LIST without AUTH: %v, want NOPERM", err)
	}
	wrong := redis.NewClient(&redis.Options{Addr: addr, Username: "cogs", Password: "nope"})
	defer wrong.Close()
	if err := wrong.Ping(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Errorf("AUTH with a wrong password: %v, want WRONGPASS", err)
	}

	c := adminClient(t, addr)
	got, err := load(t, c, wasm, "version=1.0.0", false)
	if err != nil || got["name"] != "items" || got["version"] != "1.0.0" {
		t.Fatalf("RECIPE LOAD: %v, %v", got, err)
	}
	// Its triggers work at once, for every client.
	if err := anon.HSet(ctx, "item:1", "v", "a").Err(); err != nil {
		t.Fatal(err)
	}
	waitRow(t, db, "1", "a|1.0.0")

	for _, tc := range []struct {
		name    string
		wasm    []byte
		conf    string
		replace bool
		want    string
	}{
		{"not wasm", []byte("not a module"), "", false, "recipe refused (invalid module)"},
		{"init fails", wasm, "colour=blue", false, "recipe refused (init failed)"},
		{"no triggers", wasm, "name=other;prefix=", false, "recipe refused (no triggers)"},
		{"overlap", wasm, "name=other;prefix=item:x", false, `recipe refused (overlapping prefix): recipes "items"`},
		{"connection", wasm, "name=other;prefix=thing:;connection=nowhere", false, `recipe refused (unknown connection): recipe "other": trigger "thing:" names connection "nowhere", which is not configured`},
		{"same version", wasm, "version=1.0.0", false, "recipe refused (version not higher): recipe \"items\" version 1.0.0 is not higher than the loaded 1.0.0 (give REPLACE to load it anyway)"},
		{"lower version", wasm, "version=0.9.0", false, "version not higher"},
		{"abi", wrongABI(t), "", false, "recipe refused (unsupported ABI)"},
	} {
		_, err := load(t, c, tc.wasm, tc.conf, tc.replace)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	// The running recipe is untouched.
	if st := statusOf(t, c, "items"); st["version"] != "1.0.0" {
		t.Errorf("after refusals: %v", st)
	}

	// A higher version replaces it; REPLACE loads any.
	if got, err := load(t, c, wasm, "version=1.1.0", false); err != nil || got["replaced"] != "1.0.0" {
		t.Fatalf("replace: %v, %v", got, err)
	}
	if got, err := load(t, c, wasm, "version=1.0.5", true); err != nil || got["version"] != "1.0.5" {
		t.Fatalf("REPLACE with a lower version: %v, %v", got, err)
	}
	anon.HSet(ctx, "item:2", "v", "b")
	waitRow(t, db, "2", "b|1.0.5")

	list, err := c.Do(ctx, "RECIPE", "LIST", "WITHSTATS").Slice()
	if err != nil || len(list) != 1 {
		t.Fatalf("RECIPE LIST: %v, %v", list, err)
	}
	if f := fields(t, list[0]); f["name"] != "items" || f["state"] != "running" || f["applied"] != "2" {
		t.Errorf("RECIPE LIST WITHSTATS: %v", f)
	}

	// DELETE stops the triggers at once; the stream stays until PURGE.
	if err := c.Do(ctx, "RECIPE", "DELETE", "items").Err(); err != nil {
		t.Fatal(err)
	}
	stream := apply.KeysOf("items").Stream
	direct := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer direct.Close()
	before := direct.XLen(ctx, stream).Val()
	anon.HSet(ctx, "item:3", "v", "c")
	if n, _ := direct.Exists(ctx, stream).Result(); n != 1 {
		t.Errorf("the stream went with DELETE")
	}
	if after := direct.XLen(ctx, stream).Val(); after != before {
		t.Errorf("a write after DELETE was captured")
	}
	if err := c.Do(ctx, "RECIPE", "STATUS", "items").Err(); err == nil || !strings.Contains(err.Error(), `no such recipe "items"`) {
		t.Errorf("STATUS after DELETE: %v", err)
	}
	if _, err := load(t, c, wasm, "version=2.0.0", false); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, "RECIPE", "DELETE", "items", "PURGE").Err(); err != nil {
		t.Fatal(err)
	}
	if n := direct.Exists(ctx, stream, RecipeKey("items")).Val(); n != 0 {
		t.Errorf("PURGE left %d keys", n)
	}
}

func TestIntegrationRecipeSizeLimit(t *testing.T) {
	rs := redistest.Start(t)
	conn, _ := itemsDB(t)
	addr := adminHost(t, rs.Addr, conn, func(c *config.Config) { c.Admin.MaxRecipeSize = 1000 })
	_, err := load(t, adminClient(t, addr), versionedWasm(t), "", false)
	if err == nil || !strings.Contains(err.Error(), "recipe refused (too large): the module is") || !strings.Contains(err.Error(), "more than the limit of 1000 (admin.max_recipe_size)") {
		t.Errorf("a module over the limit: %v", err)
	}
}

func wrongABI(t *testing.T) []byte {
	b, err := os.ReadFile("../engine/testdata/wrongabi.wasm")
	if err == nil {
		return b
	}
	return enginetest.Build(t, "../engine/testdata/wrongabi")
}

func statusOf(t *testing.T, c *redis.Client, name string) map[string]string {
	t.Helper()
	v, err := c.Do(context.Background(), "RECIPE", "STATUS", name).Result()
	if err != nil {
		t.Fatalf("RECIPE STATUS %s: %v", name, err)
	}
	return fields(t, v)
}

// waitRow waits until items holds the row id as "v|mapped_by".
func waitRow(t *testing.T, db *sql.DB, id, want string) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var v, by string
		if err := db.QueryRow(`SELECT v, mapped_by FROM items WHERE id = ?`, id).Scan(&v, &by); err == nil {
			got = v + "|" + by
			if got == want {
				return
			}
		}
	}
	t.Fatalf("row %s: %q, want %q", id, got, want)
}

// A second host against the same Redis picks up a load, a replace and a
// delete within a second; a restarted host runs the stored recipes.
func TestIntegrationRecipeFleet(t *testing.T) {
	rs := redistest.Start(t)
	conn, _ := itemsDB(t)
	a := adminClient(t, adminHost(t, rs.Addr, conn, nil))
	bAddr := adminHost(t, rs.Addr, conn, nil)
	b := adminClient(t, bAddr)
	wasm := versionedWasm(t)
	ctx := context.Background()

	seen := func(want string) {
		t.Helper()
		start := time.Now()
		for {
			got := ""
			if v, err := b.Do(ctx, "RECIPE", "STATUS", "items").Result(); err == nil {
				got = fields(t, v)["version"]
			}
			if got == want {
				// Hosts poll every 200ms (syncInterval); how long it took
				// is logged, not asserted (tests do not time things).
				t.Logf("the second host saw version %q after %v", want, time.Since(start).Round(time.Millisecond))
				return
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("the second host runs %q, want %q", got, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if _, err := load(t, a, wasm, "version=1.0.0", false); err != nil {
		t.Fatal(err)
	}
	seen("1.0.0")
	if _, err := load(t, a, wasm, "version=1.2.0", false); err != nil {
		t.Fatal(err)
	}
	seen("1.2.0")
	// The second host watches the keys too.
	if err := redis.NewClient(&redis.Options{Addr: bAddr}).HSet(ctx, "item:9", "v", "z").Err(); err != nil {
		t.Fatal(err)
	}
	direct := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer direct.Close()
	if err := a.Do(ctx, "RECIPE", "DELETE", "items").Err(); err != nil {
		t.Fatal(err)
	}
	seen("")

	// A restarted host runs what is stored.
	if _, err := load(t, a, wasm, "version=3.0.0", false); err != nil {
		t.Fatal(err)
	}
	c := adminClient(t, adminHost(t, rs.Addr, conn, nil))
	if st := statusOf(t, c, "items"); st["version"] != "3.0.0" {
		t.Errorf("a new host runs %v", st)
	}
}

// The recipe is replaced 20 times while a writer writes 100,000 changes
// through cogs: the table ends equal to Redis, and every change captured
// after a replace was mapped by that version or a later one.
func TestIntegrationHotReplace(t *testing.T) {
	rs := redistest.Start(t)
	conn, db := itemsDB(t)
	addr := adminHost(t, rs.Addr, conn, nil)
	c := adminClient(t, addr)
	wasm := versionedWasm(t)
	ctx := context.Background()
	if _, err := load(t, c, wasm, "version=1.0.0", false); err != nil {
		t.Fatal(err)
	}

	const writers, writes, keys, replaces = 8, 100000, 2000, 20
	var epoch atomic.Int64 // replaces acknowledged so far
	// floor[k] is the epoch known before the last write to key k was sent.
	var floor [keys]atomic.Int64
	var wg sync.WaitGroup
	var written atomic.Int64
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wc := redis.NewClient(&redis.Options{Addr: addr})
			defer wc.Close()
			for i := w; i < writes; i += writers {
				k := i % keys
				// Keys are shared by writers only in order: key k is
				// written by writer k%writers alone.
				e := epoch.Load()
				if err := wc.HSet(ctx, "item:"+strconv.Itoa(k), "v", strconv.Itoa(i)).Err(); err != nil {
					errs <- err
					return
				}
				floor[k].Store(e)
				written.Add(1)
			}
		}()
	}
	for n := 1; n <= replaces; n++ {
		for written.Load() < int64(n*writes/(replaces+1)) {
			time.Sleep(time.Millisecond)
		}
		if _, err := load(t, c, wasm, fmt.Sprintf("version=1.0.%d", n), false); err != nil {
			t.Fatalf("replace %d: %v", n, err)
		}
		epoch.Store(int64(n))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	direct := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer direct.Close()
	stream := apply.KeysOf("items").Stream
	for deadline := time.Now().Add(60 * time.Second); direct.XLen(ctx, stream).Val() > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("stream not drained")
		}
	}
	rows, err := db.Query(`SELECT id, v, mapped_by FROM items`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id, v, by string
		if err := rows.Scan(&id, &v, &by); err != nil {
			t.Fatal(err)
		}
		n++
		k, _ := strconv.Atoi(id)
		if want := direct.HGet(ctx, "item:"+id, "v").Val(); v != want {
			t.Errorf("item %s: row %s, redis %s", id, v, want)
		}
		minor, _ := strconv.Atoi(strings.TrimPrefix(by, "1.0."))
		if int64(minor) < floor[k].Load() {
			t.Errorf("item %s: last written after replace %d, mapped by %s", id, floor[k].Load(), by)
		}
	}
	if n != keys {
		t.Errorf("%d rows, want %d", n, keys)
	}
	if dl := direct.XLen(ctx, apply.KeysOf("items").DLQ).Val(); dl != 0 {
		t.Errorf("%d dead letters", dl)
	}
}
