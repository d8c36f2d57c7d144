package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/host/config"
	"github.com/cogs-dev/cogs/host/internal/redistest"
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
