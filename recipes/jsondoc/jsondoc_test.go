//go:build !wasm

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/cli"
	"github.com/cogs-dev/cogs/host/engine"
	"github.com/cogs-dev/cogs/host/enginetest"
	cogs "github.com/cogs-dev/cogs/sdk/go"
	"github.com/cogs-dev/cogs/sdk/go/cogsjson"
	"github.com/cogs-dev/cogs/sdk/go/cogstest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.out from the recipe's output")

// A suite is one configuration and changes with what jsondoc makes of them.
type suite struct {
	name   string
	config string
	meta   string // abi.RecipeText of the declaration
	cases  []cogstest.Case
}

func str(key, doc string) abi.Change {
	return abi.Change{Op: abi.ChangeSet, Data: abi.DataString, Key: key, Doc: doc}
}

const heat = `{"title": "Heat", "year": 1995, "rating": 8.3, "released": true, "status": "out",
	"cast": [{"name": "Pacino"}, {"name": "De Niro"}], "genres": ["crime", "drama"],
	"production company": {"name": "Forward Pass"}}`

var suites = []suite{
	{
		name: "movies",
		config: `{"name": "movies", "prefix": "movie:", "connection": "pg", "table": "movies",
			"key": {"column": "movie_id", "type": "int"},
			"filter": {"path": "$.status", "op": "ne", "value": "draft"},
			"columns": {
				"title": {"path": "$.title", "type": "string"},
				"year": {"path": "$.year", "type": "int"},
				"rating": {"path": "rating", "type": "float"},
				"lead": "$.cast[0].name",
				"last_actor": "$.cast[-1].name",
				"genres": {"path": "$.genres", "type": "json"},
				"studio": {"path": "$[\"production company\"].name", "on_missing": "omit"},
				"released": {"type": "bool", "on_invalid": "null"}
			}}`,
		meta: `recipe name="movies" version="1.0.0" triggers=[trigger prefix="movie:" mode=write-behind data=json connection="pg" flags=0] params=[]`,
		cases: []cogstest.Case{
			{Name: "all columns", Change: cogstest.Doc("movie:1", heat),
				Want: `outcome=rows rows=[upsert table="movies" keys=["movie_id"=int:1] cols=["title"=str:"Heat" "year"=int:1995 "rating"=float:0x402099999999999a "lead"=str:"Pacino" "last_actor"=str:"De Niro" "genres"=str:"[\x22crime\x22, \x22drama\x22]" "studio"=str:"Forward Pass" "released"=bool:true]]`},
			{Name: "missing, null and lenient values", Change: cogstest.Doc("movie:2", `{"title": "Ronin", "year": "1998", "rating": null, "cast": [], "released": "soon"}`),
				Want: `outcome=rows rows=[upsert table="movies" keys=["movie_id"=int:2] cols=["title"=str:"Ronin" "year"=int:1998 "rating"=null "lead"=null "last_actor"=null "genres"=null "released"=null]]`},
			{Name: "escaped strings", Change: cogstest.Doc("movie:3", `{"title": "Caf\u00e9 \"Noir\"", "year": 2.0e3}`),
				Want: `outcome=rows rows=[upsert table="movies" keys=["movie_id"=int:3] cols=["title"=str:"Caf\xc3\xa9 \x22Noir\x22" "year"=int:2000 "rating"=null "lead"=null "last_actor"=null "genres"=null "released"=null]]`},
			{Name: "invalid value is rejected", Change: cogstest.Doc("movie:4", `{"title": "X", "year": 1995.5}`),
				Want: `outcome=reject reason="$.year: \x221995.5\x22 is not a valid int (column year)"`},
			{Name: "object for a string is rejected", Change: cogstest.Doc("movie:5", `{"title": {"en": "X"}}`),
				Want: `outcome=reject reason="$.title: \x22{\x5c\x22en\x5c\x22: \x5c\x22X\x5c\x22}\x22 is not a valid string (column title)"`},
			{Name: "not JSON is rejected", Change: cogstest.Doc("movie:6", `{"title": "X",}`),
				Want: `outcome=reject reason="document is not JSON: json: invalid character '}' looking for beginning of object key string at offset 14"`},
			{Name: "draft is skipped", Change: cogstest.Doc("movie:7", `{"title": "Y", "status": "draft"}`),
				Want: `outcome=skip`},
			{Name: "delete", Change: abi.Change{Op: abi.ChangeDelete, Data: abi.DataJSON, Key: "movie:1"},
				Want: `outcome=rows rows=[delete table="movies" keys=["movie_id"=int:1] cols=[]]`},
		},
	},
	{
		name: "document",
		// rgsync's RGJSONWriteBehind: the whole document in one column.
		config: `{"name": "persons-json", "prefix": "person:", "connection": "mongo", "table": "persons",
			"key": "person_id", "document": "gears"}`,
		meta: `recipe name="persons-json" version="1.0.0" triggers=[trigger prefix="person:" mode=write-behind data=json connection="mongo" flags=0] params=[]`,
		cases: []cogstest.Case{
			{Name: "document column", Change: cogstest.Doc("person:1", `{"hello": "world"}`),
				Want: `outcome=rows rows=[upsert table="persons" keys=["person_id"=str:"1"] cols=["gears"=str:"{\x22hello\x22: \x22world\x22}"]]`},
			{Name: "any JSON value", Change: cogstest.Doc("person:2", `[1, 2]`),
				Want: `outcome=rows rows=[upsert table="persons" keys=["person_id"=str:"2"] cols=["gears"=str:"[1, 2]"]]`},
			{Name: "delete", Change: abi.Change{Op: abi.ChangeDelete, Data: abi.DataJSON, Key: "person:1"},
				Want: `outcome=rows rows=[delete table="persons" keys=["person_id"=str:"1"] cols=[]]`},
		},
	},
	{
		name: "string",
		config: `{"prefix": "cfg:", "connection": "sqlite", "table": "settings", "data": "string",
			"key": {"pattern": "cfg:{app}:{env}"}, "on_bad_document": "skip",
			"constants": {"source": "redis"}}`,
		meta: `recipe name="jsondoc" version="1.0.0" triggers=[trigger prefix="cfg:" mode=write-behind data=string connection="sqlite" flags=0] params=[]`,
		cases: []cogstest.Case{
			{Name: "members become columns", Change: str("cfg:shop:prod", `{"a": 1, "b": "x", "c": [1, 2], "d": null, "e": true, "f": 2.5, "app": "shadowed", "source": "shadowed"}`),
				Want: `outcome=rows rows=[upsert table="settings" keys=["app"=str:"shop" "env"=str:"prod"] cols=["a"=int:1 "b"=str:"x" "c"=str:"[1, 2]" "d"=null "e"=bool:true "f"=float:0x4004000000000000 "source"=str:"redis"]]`},
			{Name: "not an object", Change: str("cfg:shop:dev", `[1]`),
				Want: `outcome=rows rows=[upsert table="settings" keys=["app"=str:"shop" "env"=str:"dev"] cols=["source"=str:"redis"]]`},
			{Name: "not JSON is skipped", Change: str("cfg:shop:qa", `plain text`),
				Want: `outcome=skip`},
			{Name: "key not matching is rejected", Change: str("cfg:shop", `{}`),
				Want: `outcome=reject reason="key \x22cfg:shop\x22 does not match pattern \x22cfg:{app}:{env}\x22"`},
		},
	},
	{
		name: "key from the document",
		config: `{"prefix": "evt:", "connection": "pg", "table": "events", "operation": "insert", "on_delete": "skip",
			"filter": [{"path": "$.kind", "op": "in", "value": ["click", "view"]}, {"path": "$.n", "op": "gt", "value": 0}],
			"on_filtered": "delete",
			"columns": {"id": {"path": "$.id", "type": "int", "key": true}, "kind": "$.kind",
				"n": {"path": "$.n", "type": "int"}, "tags": {"path": "$.tags", "type": "string", "on_invalid": "null"},
				"who": {"path": "$.user.name", "default": "anonymous"}, "note": {"path": "$.note", "empty_as_null": true}}}`,
		meta: `recipe name="jsondoc" version="1.0.0" triggers=[trigger prefix="evt:" mode=write-behind data=json connection="pg" flags=0] params=[]`,
		cases: []cogstest.Case{
			{Name: "insert", Change: cogstest.Doc("evt:a", `{"id": "12", "kind": "click", "n": 3, "tags": ["x"], "user": {"name": "ann"}, "note": ""}`),
				Want: `outcome=rows rows=[insert table="events" keys=["id"=int:12] cols=["kind"=str:"click" "n"=int:3 "tags"=null "who"=str:"ann" "note"=null]]`},
			{Name: "default", Change: cogstest.Doc("evt:b", `{"id": 13, "kind": "view", "n": 1e2, "note": "hi"}`),
				Want: `outcome=rows rows=[insert table="events" keys=["id"=int:13] cols=["kind"=str:"view" "n"=int:100 "tags"=null "who"=str:"anonymous" "note"=str:"hi"]]`},
			{Name: "filtered out becomes a delete", Change: cogstest.Doc("evt:c", `{"id": 14, "kind": "scroll", "n": 1}`),
				Want: `outcome=rows rows=[delete table="events" keys=["id"=int:14] cols=[]]`},
			{Name: "missing key", Change: cogstest.Doc("evt:d", `{"kind": "click", "n": 1}`),
				Want: `outcome=reject reason="missing $.id (column id)"`},
			{Name: "null key", Change: cogstest.Doc("evt:e", `{"id": null, "kind": "click", "n": 1}`),
				Want: `outcome=reject reason="$.id: \x22null\x22 is not a valid int (column id)"`},
			{Name: "deletes are skipped", Change: abi.Change{Op: abi.ChangeDelete, Data: abi.DataJSON, Key: "evt:a"},
				Want: `outcome=skip`},
		},
	},
}

func TestJSONDocNative(t *testing.T) {
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			r := cogstest.Native(t, []byte(s.config))
			meta := r.Recipe()
			if got := abi.RecipeText(&meta); got != s.meta {
				t.Errorf("declaration:\n got %s\nwant %s", got, s.meta)
			}
			cogstest.Check(t, r, s.cases)
		})
	}
}

func TestJSONDocWasm(t *testing.T) {
	wasm := enginetest.Build(t, ".")
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			r := enginetest.New(t, "jsondoc", wasm, []byte(s.config), engine.Config{})
			meta := r.Recipe()
			if got := abi.RecipeText(&meta); got != s.meta {
				t.Errorf("declaration:\n got %s\nwant %s", got, s.meta)
			}
			cogstest.Check(t, r, s.cases)
		})
	}
}

const base = `"prefix": "p:", "connection": "c", "table": "t"`

var configErrors = []struct{ config, want string }{
	{``, `config: no configuration given (pass a JSON object as CONFIG of RECIPE LOAD, or --config to cogs recipe test)`},
	{`{` + base + `, "key": "id", "colums": {}}`, `config: unknown option "colums" (known: name, prefix, connection, data, mode, expiry_deletes, batch_size, batch_age_ms, table, operation, key, on_key_mismatch, on_delete, on_bad_document, filter, on_filtered, columns, document, other_members, constants, on_missing, on_invalid, empty_as_null)`},
	{`{"connection": "c", "table": "t", "key": "id"}`, `config: prefix: required`},
	{`{` + base + `, "key": "id", "name": "my movies"}`, `config: name: "my movies" is not a recipe name: want [a-z][a-z0-9_-]*, at most 64 bytes`},
	{`{` + base + `, "key": "id", "data": "hash"}`, `config: data: want one of "json", "string"; not "hash"`},
	{`{` + base + `}`, `config: key: required: say which columns identify a row ("key": "id", a pattern or a separator), or mark a column "key": true`},
	{`{` + base + `, "key": "id", "columns": {"a": "$.a["}}`, `config: columns.a: path "$.a[": unterminated '[' at offset 4`},
	{`{` + base + `, "key": "id", "columns": {"a": "$.*"}}`, `config: columns.a: path "$.*": wildcards are not supported at offset 2`},
	{`{` + base + `, "key": "id", "columns": {"a": {"type": "number"}}}`, `config: columns.a.type: want one of "auto", "string", "int", "float", "bool", "bytes", "json"; not "number"`},
	{`{` + base + `, "key": "id", "columns": {"a": {"field": "x"}}}`, `config: columns.a: unknown option "field" (known: path, type, key, on_missing, on_invalid, default, empty_as_null)`},
	{`{` + base + `, "key": "id", "columns": {"a": 1}}`, `config: columns.a: want a JSON path or an object {"path": ..., "type": ...}`},
	{`{` + base + `, "key": "id", "columns": {"id": "$.id"}}`, `config: columns.id: column "id" is already written by key`},
	{`{` + base + `, "key": "id", "document": "doc", "columns": {"doc": "$"}}`, `config: columns.doc: column "doc" is already written by document`},
	{`{` + base + `, "key": "id", "document": ""}`, `config: document: want a column name, not ""`},
	{`{` + base + `, "columns": {"id": {"key": true}}}`, `config: on_delete: a deleted key has no document, and key column "id" comes from the document: take the key columns from the key, or set on_delete to "skip"`},
	{`{` + base + `, "key": "id", "columns": {"n": {"type": "int", "default": 1.5}}}`, `config: columns.n.default: "1.5" is not a valid int`},
	{`{` + base + `, "key": "id", "filter": [{"path": "$..a", "op": "exists"}]}`, `config: filter[0].path: path "$..a": a member name must follow '.' at offset 2`},
	{`{` + base + `, "key": "id", "filter": {"field": "a", "op": "exists"}}`, `config: filter: unknown option "field" (known: path, op, value)`},
}

func TestConfigErrors(t *testing.T) {
	for _, c := range configErrors {
		_, err := cogs.NewNativeHost([]byte(c.config))
		if err == nil || err.Error() != "init: "+c.want {
			t.Errorf("config %s:\n got %v\nwant init: %s", c.config, err, c.want)
		}
	}
}

func TestConfigErrorsWasm(t *testing.T) {
	wasm := enginetest.Build(t, ".")
	ctx := context.Background()
	e, err := engine.New(ctx, engine.Config{CacheDir: enginetest.CacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	for _, c := range configErrors {
		_, err := e.Load(ctx, "jsondoc", wasm, []byte(c.config))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config %s:\n got %v\nwant an error with %s", c.config, err, c.want)
		}
	}
}

// TestSamples runs every sample configuration testdata/NAME.json over
// testdata/NAME.jsonl through `cogs recipe test` and compares the output
// with testdata/NAME.out (go test -update rewrites those).
func TestSamples(t *testing.T) {
	wasm := enginetest.Build(t, ".")
	file := filepath.Join(t.TempDir(), "jsondoc.wasm")
	if err := os.WriteFile(file, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	configs, _ := filepath.Glob("testdata/*.json")
	if len(configs) == 0 {
		t.Fatal("no sample configurations in testdata")
	}
	for _, cfg := range configs {
		name := strings.TrimSuffix(cfg, ".json")
		t.Run(filepath.Base(name), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := cli.Main([]string{"recipe", "test", file, "--config", cfg, "--changes", name + ".jsonl"}, &stdout, &stderr)
			if code != 0 {
				t.Fatalf("cogs recipe test exited with %d: %s", code, stderr.String())
			}
			if *update {
				if err := os.WriteFile(name+".out", stdout.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(name + ".out")
			if err != nil {
				t.Fatal(err)
			}
			if stdout.String() != string(want) {
				t.Errorf("cogs recipe test --config %s:\n got:\n%s\nwant:\n%s", cfg, stdout.String(), want)
			}
		})
	}
}

// FuzzMap runs arbitrary documents through jsondoc: mapping never fails,
// and a document is rejected as not JSON exactly when encoding/json
// refuses it.
func FuzzMap(f *testing.F) {
	config := `{"prefix": "d:", "connection": "c", "table": "t", "key": "id", "other_members": "columns",
		"filter": {"path": "$.s", "op": "ne", "value": "x"},
		"columns": {"a": {"path": "$.a[-1].b", "type": "int", "on_invalid": "null"}, "j": {"path": "$.j", "type": "json"},
			"f": {"path": "$[\"f\"]", "type": "float", "on_invalid": "null"}, "s": {"path": "s", "type": "bool", "on_invalid": "null"}}}`
	r := cogstest.Native(f, []byte(config))
	f.Add(`{"a": [{"b": 1}], "j": {"x": [1, "y"]}, "f": 1e3, "s": "t", "z": null}`)
	f.Add(`[1, 2`)
	f.Add(`"\ud800"`)
	f.Fuzz(func(t *testing.T, doc string) {
		res, err := r.Map([]abi.Change{cogstest.Doc("d:1", doc)})
		if err != nil {
			t.Fatalf("map %q: %v", doc, err)
		}
		notJSON := res[0].Outcome == abi.OutcomeReject && strings.HasPrefix(res[0].Reason, "document is not JSON: ")
		var d cogsjson.Doc
		if err := d.Parse(doc); err != nil {
			var deep *cogsjson.TooDeepError
			if errors.As(err, &deep) {
				return
			}
		}
		if valid := json.Valid([]byte(doc)); notJSON == valid {
			t.Fatalf("document %q: json.Valid %v, result %s", doc, valid, abi.ResultText(&res[0]))
		}
	})
}
