package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cogs-dev/cogs/host/enginetest"
)

func run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	if code, _, stderr := run(); code != 2 || !strings.Contains(stderr, "Usage:") {
		t.Fatalf("no args: code %d, stderr %q", code, stderr)
	}
	if code, _, stderr := run("frobnicate"); code != 2 || !strings.Contains(stderr, `unknown command "frobnicate"`) {
		t.Fatalf("unknown: code %d, stderr %q", code, stderr)
	}
	if code, stdout, _ := run("version"); code != 0 || !strings.Contains(stdout, "recipe ABI 1.0") {
		t.Fatalf("version: code %d, stdout %q", code, stdout)
	}
}

func TestRecipeTest(t *testing.T) {
	dir := t.TempDir()
	wasm := filepath.Join(dir, "persons.wasm")
	if err := os.WriteFile(wasm, enginetest.Build(t, "../../examples/persons"), 0o644); err != nil {
		t.Fatal(err)
	}
	changes := "../../examples/persons/testdata/changes.jsonl"

	code, stdout, stderr := run("recipe", "test", wasm, "--changes", changes)
	if code != 0 {
		t.Fatalf("code %d, stderr %s", code, stderr)
	}
	want := `recipe name="persons" version="1.0.0" triggers=[trigger prefix="person:" mode=write-behind data=hash connection="mysql" flags=0] params=[]
1700000000000-0 "person:1": outcome=rows rows=[upsert table="persons" keys=["person_id"=str:"1"] cols=["first"=str:"Ann" "last"=str:"Lee" "age"=int:42]]
1700000000000-1 "person:2": outcome=rows rows=[upsert table="persons" keys=["person_id"=str:"2"] cols=["first"=str:"Bo" "last"=null "age"=int:7]]
1700000000001-0 "person:3": outcome=reject reason="age is not an integer"
1700000000002-0 "person:1": outcome=rows rows=[delete table="persons" keys=["person_id"=str:"1"] cols=[]]
`
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}

	code, stdout, _ = run("recipe", "test", wasm, "--changes", changes, "--json", "--batch", "2")
	if code != 0 || strings.Count(stdout, "\n") != 4 ||
		!strings.Contains(stdout, `{"id":"1700000000000-0","key":"person:1","outcome":"rows","rows":[{"op":"upsert","table":"persons","keys":[{"name":"person_id","kind":"string","value":"1"}],"cols":[{"name":"first","kind":"string","value":"Ann"},{"name":"last","kind":"string","value":"Lee"},{"name":"age","kind":"int","value":42}]}]}`) {
		t.Errorf("json: code %d, stdout:\n%s", code, stdout)
	}

	for _, tc := range []struct{ lines, want string }{
		{`{"key": "car:1", "fields": {}}`, `key "car:1" matches no trigger of recipe "persons"`},
		{`{"key": "person:1", "op": "upsert"}`, `"op" must be set, delete or expired, not "upsert"`},
		{`{"key": "person:1", "colour": "red"}`, `unknown field "colour"`},
		{`{"fields": {}}`, `"key" is required`},
		{`{"key": "person:1", "id": "x"}`, `"id" "x" is not a stream ID`},
		{`{"key": "person:1", "op": "delete", "fields": {"a": "b"}}`, `a delete change carries no fields or doc`},
		{`# nothing`, `no changes`},
	} {
		f := filepath.Join(dir, "changes.jsonl")
		os.WriteFile(f, []byte(tc.lines+"\n"), 0o644)
		code, _, stderr := run("recipe", "test", wasm, "--changes", f)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: code %d, stderr %q, want it to contain %q", tc.lines, code, stderr, tc.want)
		}
	}

	os.WriteFile(filepath.Join(dir, "junk.wasm"), []byte("junk"), 0o644)
	code, _, stderr = run("recipe", "test", filepath.Join(dir, "junk.wasm"), "--changes", changes)
	if code != 1 || !strings.Contains(stderr, `recipe "junk": load: invalid module: not a valid WebAssembly module`) {
		t.Errorf("junk: code %d, stderr %q", code, stderr)
	}
	if code, _, _ := run("recipe", "test", wasm); code != 2 {
		t.Errorf("missing --changes: code %d, want 2", code)
	}
}
