//go:build !wasm

package main

import (
	"bytes"
	"context"
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
	"github.com/cogs-dev/cogs/sdk/go/cogstest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.out from the recipe's output")

// A suite is one configuration and changes with what rowmap makes of them.
type suite struct {
	name   string
	config string
	meta   string // abi.RecipeText of the declaration
	cases  []cogstest.Case
}

var suites = []suite{
	{
		name: "rgsync",
		// rgsync's persons example: mappings {first_name: first, last_name:
		// last, age: age}, a missing mapped field fails the change.
		config: `{"name": "persons", "prefix": "person:", "connection": "mysql", "table": "persons",
			"key": "person_id", "on_missing": "reject",
			"columns": {"first_name": "first", "last_name": "last", "age": "age"}}`,
		meta: `recipe name="persons" version="1.0.0" triggers=[trigger prefix="person:" mode=write-behind data=hash connection="mysql" flags=0] params=[]`,
		cases: []cogstest.Case{
			{Name: "upsert", Change: cogstest.Hash("person:1", "first_name", "Ann", "last_name", "Lee", "age", "42", "extra", "x"),
				Want: `outcome=rows rows=[upsert table="persons" keys=["person_id"=str:"1"] cols=["first"=str:"Ann" "last"=str:"Lee" "age"=str:"42"]]`},
			{Name: "missing field is rejected", Change: cogstest.Hash("person:2", "first_name", "Bo", "age", "7"),
				Want: `outcome=reject reason="missing field \x22last_name\x22 (column last)"`},
			{Name: "delete", Change: cogstest.Deleted("person:1"),
				Want: `outcome=rows rows=[delete table="persons" keys=["person_id"=str:"1"] cols=[]]`},
		},
	},
	{
		name: "typed",
		config: `{"prefix": "user:", "connection": "pg", "table": "users", "batch_size": 500, "batch_age_ms": 20,
			"mode": "write-through", "expiry_deletes": true,
			"key": {"column": "id", "type": "int"},
			"columns": {
				"age": {"type": "int", "on_invalid": "null"},
				"score": {"type": "float", "default": 0},
				"active": {"type": "bool"},
				"avatar": {"type": "bytes"},
				"nick": {"column": "nickname", "on_missing": "omit"},
				"email": {"empty_as_null": true},
				"level": {"type": "int", "default": "1", "on_invalid": "default", "on_missing": "null"},
				"prefs": {"type": "json", "on_invalid": "null", "default": {"theme": "dark"}}
			}}`,
		meta: `recipe name="rowmap" version="1.0.0" triggers=[trigger prefix="user:" mode=write-through data=hash connection="pg" flags=1] params=["batch_size"=int:500 "batch_age_ms"=int:20]`,
		cases: []cogstest.Case{
			{Name: "all typed", Change: cogstest.Hash("user:7", "age", "30", "score", "12.5", "active", "true", "avatar", "\x00\xff", "nick", "zed", "email", "z@x", "level", "3", "prefs", `{"theme": "light"}`),
				Want: `outcome=rows rows=[upsert table="users" keys=["id"=int:7] cols=["age"=int:30 "score"=float:0x4029000000000000 "active"=bool:true "avatar"=bytes:"\x00\xff" "nickname"=str:"zed" "email"=str:"z@x" "level"=int:3 "prefs"=str:"{\x22theme\x22: \x22light\x22}"]]`},
			{Name: "missing and invalid", Change: cogstest.Hash("user:8", "age", "old", "active", "0", "email", "", "level", "high", "prefs", "{theme"),
				Want: `outcome=rows rows=[upsert table="users" keys=["id"=int:8] cols=["age"=null "score"=float:0x0000000000000000 "active"=bool:false "avatar"=null "email"=null "level"=int:1 "prefs"=null]]`},
			{Name: "invalid bool is rejected", Change: cogstest.Hash("user:9", "active", "maybe"),
				Want: `outcome=reject reason="field \x22active\x22: \x22maybe\x22 is not a valid bool (column active)"`},
			{Name: "key not an int", Change: cogstest.Hash("user:abc", "age", "1"),
				Want: `outcome=reject reason="key part id: \x22abc\x22 is not a valid int"`},
			{Name: "delete with an int key", Change: cogstest.Deleted("user:7"),
				Want: `outcome=rows rows=[delete table="users" keys=["id"=int:7] cols=[]]`},
			{Name: "expiry deletes", Change: abi.Change{Op: abi.ChangeExpired, Data: abi.DataHash, Key: "user:8"},
				Want: `outcome=rows rows=[delete table="users" keys=["id"=int:8] cols=[]]`},
		},
	},
	{
		name: "pattern",
		config: `{"name": "tenant-users", "prefix": "tenant:", "connection": "pg", "table": "users",
			"key": {"pattern": "tenant:{tenant}:user:{user_id:int}"}, "on_key_mismatch": "skip",
			"rename_fields": {"mail": "email"}, "remove_fields": ["password"], "add_fields": {"origin": "cache"},
			"constants": {"source": "redis", "schema_version": 2, "synced": true, "ratio": 0.5, "note": null}}`,
		meta: `recipe name="tenant-users" version="1.0.0" triggers=[trigger prefix="tenant:" mode=write-behind data=hash connection="pg" flags=0] params=[]`,
		cases: []cogstest.Case{
			{Name: "other fields become columns", Change: cogstest.Hash("tenant:acme:user:7", "name", "Ann", "mail", "a@acme", "password", "secret", "user_id", "99"),
				Want: `outcome=rows rows=[upsert table="users" keys=["tenant"=str:"acme" "user_id"=int:7] cols=["name"=str:"Ann" "email"=str:"a@acme" "origin"=str:"cache" "source"=str:"redis" "schema_version"=int:2 "synced"=bool:true "ratio"=float:0x3fe0000000000000 "note"=null]]`},
			{Name: "separator inside a part", Change: cogstest.Hash("tenant:a:b:user:8", "origin", "hash"),
				Want: `outcome=rows rows=[upsert table="users" keys=["tenant"=str:"a:b" "user_id"=int:8] cols=["origin"=str:"cache" "source"=str:"redis" "schema_version"=int:2 "synced"=bool:true "ratio"=float:0x3fe0000000000000 "note"=null]]`},
			{Name: "key not matching is skipped", Change: cogstest.Hash("tenant:acme:group:1", "name", "admins"),
				Want: `outcome=skip`},
			{Name: "empty part is skipped", Change: cogstest.Hash("tenant::user:1", "name", "x"),
				Want: `outcome=skip`},
			{Name: "delete", Change: cogstest.Deleted("tenant:acme:user:7"),
				Want: `outcome=rows rows=[delete table="users" keys=["tenant"=str:"acme" "user_id"=int:7] cols=[]]`},
		},
	},
	{
		name: "rdi",
		// An RDI write-behind job: rename_field, remove_field, add_field,
		// filter, keys from a field and a mapping.
		config: `{"name": "emp", "prefix": "emp:", "connection": "mssql", "table": "emp",
			"rename_fields": {"FirstName": "fname", "LastName": "lname"},
			"remove_fields": ["ssn"],
			"add_fields": {"country": "US"},
			"filter": [{"field": "status", "op": "ne", "value": "test"}, {"field": "salary", "op": "ge", "value": 1000}],
			"on_filtered": "delete", "on_delete": "skip",
			"columns": {
				"empno": {"column": "emp_no", "type": "int", "key": true},
				"fname": "first_name", "lname": "last_name", "ssn": "ssn",
				"salary": {"type": "float"}, "country": "country"
			}}`,
		meta: `recipe name="emp" version="1.0.0" triggers=[trigger prefix="emp:" mode=write-behind data=hash connection="mssql" flags=0] params=[]`,
		cases: []cogstest.Case{
			{Name: "renamed, removed, added", Change: cogstest.Hash("emp:1", "empno", "1", "FirstName", "Ann", "LastName", "Lee", "ssn", "123", "salary", "1999.5", "fname", "shadowed"),
				Want: `outcome=rows rows=[upsert table="emp" keys=["emp_no"=int:1] cols=["first_name"=str:"Ann" "last_name"=str:"Lee" "ssn"=null "salary"=float:0x409f3e0000000000 "country"=str:"US"]]`},
			{Name: "filtered out becomes a delete", Change: cogstest.Hash("emp:2", "empno", "2", "status", "test", "salary", "5000"),
				Want: `outcome=rows rows=[delete table="emp" keys=["emp_no"=int:2] cols=[]]`},
			{Name: "numeric filter", Change: cogstest.Hash("emp:3", "empno", "3", "salary", "999"),
				Want: `outcome=rows rows=[delete table="emp" keys=["emp_no"=int:3] cols=[]]`},
			{Name: "missing key field", Change: cogstest.Hash("emp:4", "salary", "2000"),
				Want: `outcome=reject reason="missing field \x22empno\x22 (column emp_no)"`},
			{Name: "deletes are skipped", Change: cogstest.Deleted("emp:1"),
				Want: `outcome=skip`},
		},
	},
	{
		name: "separator",
		config: `{"prefix": "order:", "connection": "sqlite", "table": "orders", "operation": "insert",
			"key": {"separator": ":", "columns": ["customer_id", "", "order_id:int"]},
			"filter": {"field": "state", "op": "in", "value": ["paid", "shipped"]},
			"columns": {"total": {"type": "float"}, "state": "state"}}`,
		meta: `recipe name="rowmap" version="1.0.0" triggers=[trigger prefix="order:" mode=write-behind data=hash connection="sqlite" flags=0] params=[]`,
		cases: []cogstest.Case{
			{Name: "insert", Change: cogstest.Hash("order:c1:2026:5", "total", "19.5", "state", "paid", "note", "x"),
				Want: `outcome=rows rows=[insert table="orders" keys=["customer_id"=str:"c1" "order_id"=int:5] cols=["total"=float:0x4033800000000000 "state"=str:"paid"]]`},
			{Name: "filtered out is skipped", Change: cogstest.Hash("order:c1:2026:6", "state", "cart"),
				Want: `outcome=skip`},
			{Name: "too few parts", Change: cogstest.Hash("order:c1:5", "state", "paid"),
				Want: `outcome=reject reason="key \x22order:c1:5\x22 has 2 parts after the prefix, want 3 separated by \x22:\x22"`},
			{Name: "too many parts", Change: cogstest.Hash("order:c1:2026:5:9", "state", "paid"),
				Want: `outcome=reject reason="key \x22order:c1:2026:5:9\x22 has more than 3 parts after the prefix separated by \x22:\x22"`},
			{Name: "delete", Change: cogstest.Deleted("order:c2:2026:7"),
				Want: `outcome=rows rows=[delete table="orders" keys=["customer_id"=str:"c2" "order_id"=int:7] cols=[]]`},
		},
	},
	{
		name: "filters",
		config: `{"prefix": "f:", "connection": "c", "table": "t", "key": "k", "columns": {"v": "v"},
			"filter": [{"field": "a", "op": "exists"}, {"field": "b", "op": "missing"}, {"field": "c", "op": "prefix", "value": "x"},
				{"field": "d", "op": "suffix", "value": "y"}, {"field": "e", "op": "contains", "value": "z"}, {"field": "n", "op": "lt", "value": 10},
				{"field": "n", "op": "gt", "value": -1.5}, {"field": "n", "op": "le", "value": 9}, {"field": "s", "op": "not_in", "value": ["no", 0, false]},
				{"field": "t", "op": "eq", "value": 1}]}`,
		meta: `recipe name="rowmap" version="1.0.0" triggers=[trigger prefix="f:" mode=write-behind data=hash connection="c" flags=0] params=[]`,
		cases: []cogstest.Case{
			{Name: "all hold", Change: cogstest.Hash("f:1", "a", "", "c", "xx", "d", "yy", "e", "azb", "n", "9", "s", "yes", "t", "1", "v", "ok"),
				Want: `outcome=rows rows=[upsert table="t" keys=["k"=str:"1"] cols=["v"=str:"ok"]]`},
			{Name: "exists fails", Change: cogstest.Hash("f:2", "c", "xx", "d", "yy", "e", "azb", "n", "9", "t", "1"), Want: `outcome=skip`},
			{Name: "missing fails", Change: cogstest.Hash("f:3", "a", "", "b", "", "c", "xx", "d", "yy", "e", "azb", "n", "9", "t", "1"), Want: `outcome=skip`},
			{Name: "prefix fails", Change: cogstest.Hash("f:4", "a", "", "c", "ax", "d", "yy", "e", "azb", "n", "9", "t", "1"), Want: `outcome=skip`},
			{Name: "suffix fails", Change: cogstest.Hash("f:5", "a", "", "c", "xx", "d", "ya", "e", "azb", "n", "9", "t", "1"), Want: `outcome=skip`},
			{Name: "contains fails", Change: cogstest.Hash("f:6", "a", "", "c", "xx", "d", "yy", "e", "ab", "n", "9", "t", "1"), Want: `outcome=skip`},
			{Name: "le fails", Change: cogstest.Hash("f:7", "a", "", "c", "xx", "d", "yy", "e", "azb", "n", "9.5", "t", "1"), Want: `outcome=skip`},
			{Name: "not a number fails", Change: cogstest.Hash("f:8", "a", "", "c", "xx", "d", "yy", "e", "azb", "n", "NaN", "t", "1"), Want: `outcome=skip`},
			{Name: "not_in fails", Change: cogstest.Hash("f:9", "a", "", "c", "xx", "d", "yy", "e", "azb", "n", "0", "s", "false", "t", "1"), Want: `outcome=skip`},
			{Name: "eq compares text", Change: cogstest.Hash("f:10", "a", "", "c", "xx", "d", "yy", "e", "azb", "n", "0", "t", "1.0"), Want: `outcome=skip`},
		},
	},
}

func TestRowmapNative(t *testing.T) {
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

func TestRowmapWasm(t *testing.T) {
	wasm := enginetest.Build(t, ".")
	for _, s := range suites {
		t.Run(s.name, func(t *testing.T) {
			r := enginetest.New(t, "rowmap", wasm, []byte(s.config), engine.Config{})
			meta := r.Recipe()
			if got := abi.RecipeText(&meta); got != s.meta {
				t.Errorf("declaration:\n got %s\nwant %s", got, s.meta)
			}
			cogstest.Check(t, r, s.cases)
		})
	}
}

// base is a valid configuration that the error cases extend.
const base = `"prefix": "p:", "connection": "c", "table": "t"`

var configErrors = []struct{ config, want string }{
	{``, `config: no configuration given (pass a JSON object as CONFIG of RECIPE LOAD, or --config to cogs recipe test)`},
	{`{"prefix": "p:",}`, `config: not JSON: json: invalid character '}' looking for beginning of object key string at offset 16`},
	{`[]`, `config: want a JSON object, not an array`},
	{`{` + base + `, "key": "id", "colums": {}}`, `config: unknown option "colums" (known: name, prefix, connection, mode, expiry_deletes, batch_size, batch_age_ms, table, operation, key, on_key_mismatch, on_delete, rename_fields, remove_fields, add_fields, filter, on_filtered, columns, other_fields, constants, on_missing, on_invalid, empty_as_null)`},
	{`{"connection": "c", "table": "t", "key": "id"}`, `config: prefix: required`},
	{`{` + base + `, "key": "id", "name": "Persons"}`, `config: name: "Persons" is not a recipe name: want [a-z][a-z0-9_-]*, at most 64 bytes`},
	{`{"prefix": "p:", "table": "t", "key": "id"}`, `config: connection: required`},
	{`{"prefix": "p:", "connection": "c", "key": "id"}`, `config: table: required`},
	{`{` + base + `, "key": "id", "prefix": "q:"}`, `config: prefix: given twice`},
	{`{` + base + `, "key": "id", "mode": "write-around"}`, `config: mode: want one of "write-behind", "write-through"; not "write-around"`},
	{`{` + base + `, "key": "id", "batch_size": 0.5}`, `config: batch_size: want an integer from 0 to 1000000, not a number (0.5)`},
	{`{` + base + `}`, `config: key: required: say which columns identify a row ("key": "id", a pattern or a separator), or mark a column "key": true`},
	{`{` + base + `, "key": 7}`, `config: key: want a column name or an object with column, pattern or separator`},
	{`{` + base + `, "key": {"column": "a", "pattern": "p:{a}"}}`, `config: key: give exactly one of column, pattern and separator`},
	{`{` + base + `, "key": {"pattern": "p:{a}{b}"}}`, `config: key.pattern: placeholders must be separated by text (offset 5)`},
	{`{` + base + `, "key": {"pattern": "q:{a}"}}`, `config: key.pattern: can never match a key that starts with prefix "p:"`},
	{`{` + base + `, "key": {"pattern": "p:{a:integer}"}}`, `config: key.pattern: unknown type "integer" (want string, int, float, bool, bytes or json)`},
	{`{` + base + `, "key": {"pattern": "p:{a"}}`, `config: key.pattern: unclosed '{' at offset 2`},
	{`{` + base + `, "key": {"pattern": "p:a"}}`, `config: key.pattern: has no {placeholder}`},
	{`{` + base + `, "key": {"separator": ":", "columns": []}}`, `config: key.columns: want a list of column names, one per part of the key after the prefix ("" to ignore a part)`},
	{`{` + base + `, "key": {"separator": ":", "columns": ["", ""]}}`, `config: key.columns: names no column`},
	{`{` + base + `, "key": "id", "columns": {"age": {"type": "integer"}}}`, `config: columns.age.type: want one of "string", "int", "float", "bool", "bytes", "json"; not "integer"`},
	{`{` + base + `, "key": "id", "columns": {"age": {"type": "int", "default": "x"}}}`, `config: columns.age.default: "x" is not a valid int`},
	{`{` + base + `, "key": "id", "columns": {"age": {"on_missing": "default"}}}`, `config: columns.age.default: required by the "default" policy`},
	{`{` + base + `, "key": "id", "columns": {"age": {"colum": "a"}}}`, `config: columns.age: unknown option "colum" (known: column, type, key, on_missing, on_invalid, default, empty_as_null)`},
	{`{` + base + `, "key": "id", "columns": {"a": "x", "b": "x"}}`, `config: columns.b: column "x" is already written by columns.a`},
	{`{` + base + `, "key": "id", "columns": {"id": "id"}}`, `config: columns.id: column "id" is already written by key`},
	{`{` + base + `, "key": "id", "columns": {"a b": 3}}`, `config: columns["a b"]: want a column name or an object {"column": ..., "type": ...}`},
	{`{` + base + `, "columns": {"id": {"key": true}}}`, `config: on_delete: a deleted key has no fields, and key column "id" comes from a field: take the key columns from the key, or set on_delete to "skip"`},
	{`{` + base + `, "on_delete": "skip", "columns": {"id": {"key": true, "on_missing": "null"}}}`, `config: columns.id: a key column must have a value: on_missing and on_invalid may be reject or default`},
	{`{` + base + `, "on_delete": "skip", "remove_fields": ["id"], "columns": {"id": {"key": true}}}`, `config: columns.id: is a key column, but the field is removed by remove_fields or renamed away by rename_fields`},
	{`{` + base + `, "key": "id", "add_fields": {"n": "x"}, "columns": {"n": {"type": "int"}}}`, `config: columns.n.type: the value add_fields gives, "x", is not a valid int`},
	{`{` + base + `, "key": "id", "rename_fields": {"a": "c", "b": "c"}}`, `config: rename_fields.b: renames to "c", as "a" does`},
	{`{` + base + `, "key": "id", "constants": {"k": [1]}}`, `config: constants.k: want a string, number, bool or null, not an array`},
	{`{` + base + `, "key": "id", "constants": {"id": 1}}`, `config: constants.id: column "id" is already written by key`},
	{`{` + base + `, "key": "id", "filter": {"field": "a", "op": "like", "value": "x"}}`, `config: filter.op: want one of "eq", "ne", "in", "not_in", "exists", "missing", "prefix", "suffix", "contains", "gt", "ge", "lt", "le"; not "like"`},
	{`{` + base + `, "key": "id", "filter": [{"field": "a", "op": "gt", "value": "x"}]}`, `config: filter[0].value: op gt wants a number`},
	{`{` + base + `, "key": "id", "filter": [{"field": "a", "op": "exists", "value": 1}]}`, `config: filter[0].value: op exists takes no value`},
	{`{` + base + `, "key": "id", "filter": [{"op": "exists"}]}`, `config: filter[0].field: required`},
	{`{` + base + `, "key": "id", "other_fields": "all"}`, `config: other_fields: want one of "ignore", "columns"; not "all"`},
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
		_, err := e.Load(ctx, "rowmap", wasm, []byte(c.config))
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
	file := filepath.Join(t.TempDir(), "rowmap.wasm")
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

// FuzzMap runs arbitrary hashes through a configuration that uses every
// feature: mapping must never fail, and a change is rejected only with a
// reason.
func FuzzMap(f *testing.F) {
	config := `{"prefix": "t:", "connection": "c", "table": "t",
		"key": {"pattern": "t:{tenant}:u:{id:int}"},
		"rename_fields": {"a": "b"}, "remove_fields": ["c"], "add_fields": {"d": "1"},
		"filter": [{"field": "s", "op": "ne", "value": "x"}, {"field": "n", "op": "lt", "value": 100}],
		"on_filtered": "delete", "other_fields": "columns",
		"columns": {"b": {"type": "int", "on_invalid": "null"}, "n": {"type": "float", "default": 1}, "j": {"type": "json", "on_invalid": "reject"}},
		"constants": {"k": true}}`
	r := cogstest.Native(f, []byte(config))
	f.Add("t:x:u:1", "a", "12", "n", "5", true)
	f.Add("t::u:", "j", "{", "s", "x", false)
	f.Add("t:x:u:1", "b", "", "c", "\xff", true)
	f.Fuzz(func(t *testing.T, key, f1, v1, f2, v2 string, set bool) {
		if !strings.HasPrefix(key, "t:") {
			key = "t:" + key
		}
		c := cogstest.Hash(key, f1, v1, f2, v2)
		if !set {
			c = cogstest.Deleted(key)
		}
		res, err := r.Map([]abi.Change{c})
		if err != nil {
			t.Fatalf("map %q: %v", key, err)
		}
		if res[0].Outcome == abi.OutcomeReject && res[0].Reason == "" {
			t.Fatalf("change %q rejected without a reason", key)
		}
	})
}
