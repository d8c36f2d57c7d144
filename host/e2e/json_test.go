package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/host/config"
	"github.com/cogs-dev/cogs/host/internal/redistest"
	"github.com/cogs-dev/cogs/host/serve"
	"github.com/redis/go-redis/v9"
)

// JSON documents held in plain string keys, captured by cogs (SET, DEL)
// and written behind by the stock jsondoc recipe to SQLite.
func TestIntegrationJSONStringDocuments(t *testing.T) {
	tg := sqliteTarget(t)
	if _, err := tg.db.Exec(`CREATE TABLE movies (movie_id BIGINT PRIMARY KEY, title TEXT, year BIGINT, rating DOUBLE, lead_actor TEXT, studio TEXT)`); err != nil {
		t.Fatal(err)
	}
	rs := redistest.Start(t)
	cfg := hostConfig(t, rs.Addr, tg)
	cfg.Recipes = []config.Recipe{{File: recipeFile(t, "../../recipes/jsondoc"), Config: `{
		"name": "movies", "prefix": "movie:", "connection": "mysql", "data": "string", "table": "movies",
		"key": {"column": "movie_id", "type": "int"},
		"filter": {"path": "$.status", "op": "ne", "value": "draft"},
		"columns": {
			"title": {"path": "$.title", "type": "string", "on_missing": "reject"},
			"year": {"path": "$.year", "type": "int"},
			"rating": {"path": "$.rating", "type": "float", "on_invalid": "null"},
			"lead_actor": "$.cast[0].name",
			"studio": {"path": "$[\"production company\"].name", "default": "unknown"}
		}
	}`}}
	runHost(t, cfg, nil)
	c := client(t, cfg.Listen)
	ctx := context.Background()
	for _, kv := range [][2]string{
		{"movie:1", `{"title": "Heat", "year": 1995, "rating": 8.3, "cast": [{"name": "Al Pacino"}], "production company": {"name": "Forward Pass"}}`},
		{"movie:2", `{"title": "Ronin", "year": "1998", "rating": "n/a"}`},
		{"movie:3", `{"title": "Draft", "status": "draft"}`},
		{"movie:4", `{"year": 2001}`}, // no title: rejected
		{"movie:5", `{"title": "Gone", "year": 2000}`},
	} {
		if err := c.Set(ctx, kv[0], kv[1], 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Del(ctx, "movie:5").Err(); err != nil {
		t.Fatal(err)
	}
	drained(t, client(t, rs.Addr), 30*time.Second, "movies")
	got := tg.table(t, "SELECT movie_id, title, year, rating, lead_actor, studio FROM movies ORDER BY movie_id")
	want := []string{"1|Heat|1995|8.3|Al Pacino|Forward Pass", "2|Ronin|1998|<nil>|<nil>|unknown"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("movies:\n got %v\nwant %v", got, want)
	}
	dl := client(t, rs.Addr).XRange(ctx, "cogs:{movies}:dlq", "-", "+").Val()
	if len(dl) != 1 || dl[0].Values["key"] != "movie:4" {
		t.Errorf("dead letters: %v", dl)
	}
}

// RedisJSON documents, captured by cogs: written behind (JSON.SET,
// JSON.NUMINCRBY, JSON.DEL...) and written through, by the stock jsondoc
// recipe to SQLite. It needs a Redis with the module (COGS_TEST_REDIS_JSON,
// see redistest.StartJSON).
func TestIntegrationJSONModuleDocuments(t *testing.T) {
	rs := redistest.StartJSON(t)
	u := strconv.FormatInt(time.Now().UnixNano(), 36)
	behind, through := "docs-"+u, "wdocs-"+u
	if rs.Shared {
		t.Cleanup(func() {
			c := redis.NewClient(&redis.Options{Addr: rs.Addr})
			defer c.Close()
			ctx := context.Background()
			for _, k := range c.Keys(ctx, "*"+u+"*").Val() {
				c.Del(ctx, k)
			}
			c.SRem(ctx, "cogs:recipes", behind, through)
		})
	}
	tg := sqliteTarget(t)
	for _, table := range []string{"docs", "wdocs"} {
		if _, err := tg.db.Exec(`CREATE TABLE ` + table + ` (doc_id BIGINT PRIMARY KEY, name TEXT, age BIGINT, tags TEXT)`); err != nil {
			t.Fatal(err)
		}
	}
	recipe := func(name, prefix, mode, table string) config.Recipe {
		return config.Recipe{File: recipeFile(t, "../../recipes/jsondoc"), Config: `{
			"name": "` + name + `", "prefix": "` + prefix + `", "connection": "mysql", "data": "json",
			"mode": "` + mode + `", "table": "` + table + `", "key": {"column": "doc_id", "type": "int"},
			"columns": {"name": {"path": "$.name", "on_missing": "reject"}, "age": {"path": "$.age", "type": "int"}, "tags": "$.tags"}
		}`}
	}
	cfg := hostConfig(t, rs.Addr, tg)
	cfg.Recipes = []config.Recipe{
		recipe(behind, "doc:"+u+":", "write-behind", "docs"),
		recipe(through, "wdoc:"+u+":", "write-through", "wdocs"),
	}
	runHost(t, cfg, nil)
	c := client(t, cfg.Listen)
	ctx := context.Background()
	do := func(args ...any) (any, error) {
		t.Helper()
		for i, a := range args { // doc:1 is doc:<u>:1
			if s, ok := a.(string); ok && (strings.HasPrefix(s, "doc:") || strings.HasPrefix(s, "wdoc:")) {
				args[i] = strings.Replace(s, ":", ":"+u+":", 1)
			}
		}
		return c.Do(ctx, args...).Result()
	}
	must := func(args ...any) {
		t.Helper()
		if _, err := do(args...); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
	}

	// Written behind.
	must("JSON.SET", "doc:1", ".", `{"name":"Ann","age":42,"tags":["a"]}`)
	must("JSON.NUMINCRBY", "doc:1", ".age", "1")
	must("JSON.ARRAPPEND", "doc:1", ".tags", `"b"`)
	must("JSON.SET", "doc:2", ".", `{"name":"Bob"}`)
	must("JSON.SET", "doc:3", ".", `{"name":"Cid"}`)
	must("JSON.DEL", "doc:3")
	must("JSON.SET", "doc:4", ".", `{"age":1}`) // no name: rejected
	drained(t, client(t, rs.Addr), 30*time.Second, behind)
	got := tg.table(t, "SELECT doc_id, name, age, tags FROM docs ORDER BY doc_id")
	want := []string{`1|Ann|43|["a","b"]`, "2|Bob|<nil>|<nil>"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("docs:\n got %v\nwant %v", got, want)
	}
	if dl := client(t, rs.Addr).XRange(ctx, "cogs:{"+behind+"}:dlq", "-", "+").Val(); len(dl) != 1 || dl[0].Values["key"] != "doc:"+u+":4" {
		t.Errorf("dead letters: %v", dl)
	}

	// Written through: the table has each write when its reply comes.
	wtable := func() string {
		return strings.Join(tg.table(t, "SELECT doc_id, name, age, tags FROM wdocs ORDER BY doc_id"), ",")
	}
	must("JSON.SET", "wdoc:1", ".", `{"name":"Ann","age":1}`)
	if got := wtable(); got != "1|Ann|1|<nil>" {
		t.Errorf("after JSON.SET: %s", got)
	}
	must("JSON.NUMINCRBY", "wdoc:1", ".age", "5")
	if got := wtable(); got != "1|Ann|6|<nil>" {
		t.Errorf("after JSON.NUMINCRBY: %s", got)
	}
	// The recipe rejects a document without a name: Redis keeps it.
	if _, err := do("JSON.DEL", "wdoc:1", ".name"); err == nil || !strings.Contains(err.Error(), "COGSWRITETHROUGH") || !strings.Contains(err.Error(), "rejected") {
		t.Errorf("JSON.DEL of the name: %v", err)
	}
	if v, err := do("JSON.GET", "wdoc:1"); err != nil || !strings.Contains(fmt.Sprint(v), `"name":"Ann"`) {
		t.Errorf("document after the refusal: %v, %v", v, err)
	}
	// A document that is a plain JSON string is written through too.
	must("SET", "wdoc:2", `{"name":"Bea","tags":"x"}`)
	if got := wtable(); got != `1|Ann|6|<nil>,2|Bea|<nil>|x` {
		t.Errorf("after SET: %s", got)
	}
	must("JSON.DEL", "wdoc:1")
	must("DEL", "wdoc:2")
	if got := wtable(); got != "" {
		t.Errorf("after the deletes: %s", got)
	}
	if n := client(t, rs.Addr).XLen(ctx, serve.StreamKey(through)).Val(); n != 0 {
		t.Errorf("write-through changes in the stream: %d", n)
	}
}
