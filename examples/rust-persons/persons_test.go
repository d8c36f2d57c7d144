package rustpersons_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/engine"
	"github.com/cogs-dev/cogs/host/enginetest"
)

// The Rust persons recipe (this directory) must produce exactly the row
// operations of the Go one (examples/persons), on the sample changes and on
// thousands of generated ones.

const (
	root       = "../.."
	builtWasm  = root + "/bin/recipes/rust-persons.wasm"
	rustTarget = "wasm32-unknown-unknown"
)

// requireIntegration reports whether a missing prerequisite must fail the
// test rather than skip it.
func requireIntegration() bool { return os.Getenv("COGS_REQUIRE_INTEGRATION") == "1" }

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// rustWasm returns the compiled recipe: bin/recipes/rust-persons.wasm as
// `make recipes` builds it, unless a source of the recipe or of the SDK is
// newer, in which case it builds it (with the same cargo command, into a
// temporary directory).
func rustWasm(t testing.TB) []byte {
	t.Helper()
	if fi, err := os.Stat(builtWasm); err == nil && !newerSources(t, fi.ModTime().UnixNano()) {
		b, err := os.ReadFile(builtWasm)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cargo := envOr("COGS_CARGO", "/usr/bin/cargo")
	rustc := envOr("COGS_RUSTC", "/usr/bin/rustc")
	std := "/usr/lib/rustlib/" + rustTarget
	for _, p := range []string{cargo, rustc, std} {
		if _, err := os.Stat(p); err != nil {
			msg := "no " + builtWasm + " and no Rust toolchain to build it (" + p + " is missing; `make recipes` installs it)"
			if requireIntegration() {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	target := t.TempDir()
	cmd := exec.Command(cargo, "build", "--offline", "--quiet", "--release", "--target", rustTarget, "--manifest-path", "Cargo.toml")
	cmd.Env = append(os.Environ(), "RUSTC="+rustc, "CARGO_TARGET_DIR="+target)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	b, err := os.ReadFile(filepath.Join(target, rustTarget, "release", "rust_persons.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newerSources reports whether a Rust source or manifest of the recipe or
// the SDK was modified after mtime.
func newerSources(t testing.TB, mtime int64) bool {
	newer := false
	for _, dir := range []string{".", root + "/sdk/rust"} {
		for _, pat := range []string{"Cargo.toml", "src/*.rs", "src/*/*.rs"} {
			names, _ := filepath.Glob(filepath.Join(dir, pat))
			for _, n := range names {
				if fi, err := os.Stat(n); err == nil && fi.ModTime().UnixNano() > mtime {
					t.Logf("%s is newer than %s: rebuilding", n, builtWasm)
					newer = true
				}
			}
		}
	}
	return newer
}

func TestRustPersonsImportsOnlyCogs(t *testing.T) {
	wasm := rustWasm(t)
	rt := wazero.NewRuntime(t.Context())
	defer rt.Close(t.Context())
	m, err := rt.CompileModule(t.Context(), wasm)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range m.ImportedFunctions() {
		if mod, name, _ := f.Import(); mod != abi.ImportModule {
			t.Errorf("imports %s.%s; a Rust recipe should import only module %q", mod, name, abi.ImportModule)
		}
	}
	if len(m.ImportedFunctions()) == 0 {
		t.Error("imports no host function")
	}
	if _, ok := m.ExportedFunctions()[abi.VersionExportPrefix+"1_0"]; !ok {
		t.Errorf("no export %s1_0", abi.VersionExportPrefix)
	}
}

func TestRustPersonsMatchesGo(t *testing.T) {
	rustRecipe := enginetest.New(t, "rust-persons", rustWasm(t), nil, engine.Config{})
	goRecipe := enginetest.New(t, "persons", enginetest.Build(t, "../persons"), nil, engine.Config{})

	goMeta, rustMeta := goRecipe.Recipe(), rustRecipe.Recipe()
	if g, r := abi.RecipeText(&goMeta), abi.RecipeText(&rustMeta); g != r {
		t.Fatalf("declarations differ:\n  go %s\nrust %s", g, r)
	}

	compare := func(name string, changes []abi.Change, batch func() int) map[string]int {
		t.Helper()
		outcomes := map[string]int{}
		for start := 0; start < len(changes); {
			end := min(len(changes), start+batch())
			g, err := goRecipe.Map(changes[start:end])
			if err != nil {
				t.Fatalf("%s: go map: %v", name, err)
			}
			r, err := rustRecipe.Map(changes[start:end])
			if err != nil {
				t.Fatalf("%s: rust map: %v", name, err)
			}
			for i := range g {
				gt, rt := abi.ResultText(&g[i]), abi.ResultText(&r[i])
				if gt != rt {
					t.Errorf("%s: %s\n  go %s\nrust %s", name, abi.ChangeText(&changes[start+i]), gt, rt)
				}
				kind := g[i].Outcome.String()
				if g[i].Outcome == abi.OutcomeRows && len(g[i].Rows) > 0 {
					kind += ":" + g[i].Rows[0].Op.String()
				}
				outcomes[kind]++
			}
			start = end
		}
		return outcomes
	}

	t.Run("changes.jsonl", func(t *testing.T) {
		changes := readChanges(t, root+"/examples/persons/testdata/changes.jsonl")
		got := compare("changes.jsonl", changes, func() int { return len(changes) })
		want := map[string]int{"rows:upsert": 2, "reject": 1, "rows:delete": 1}
		if !mapsEqual(got, want) {
			t.Errorf("outcomes %v, want %v", got, want)
		}
		compare("changes.jsonl one by one", changes, func() int { return 1 })
	})

	t.Run("generated", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		changes := generate(rng, 5000)
		got := compare("generated", changes, func() int { return 1 + rng.IntN(300) })
		// Every path of the mapping is taken, often.
		for _, k := range []string{"rows:upsert", "rows:delete", "reject"} {
			if got[k] < 200 {
				t.Errorf("only %d results %s in %v", got[k], k, got)
			}
		}
		t.Logf("outcomes: %v", got)
	})

	t.Run("large", func(t *testing.T) {
		// A change larger than both SDKs' first change buffer, and a
		// batch whose results are pushed in several result_push calls.
		big := strings.Repeat("ä", 50_000)
		changes := []abi.Change{hashChange("person:big", "first_name", big, "age", "1")}
		for i := range 2000 {
			changes = append(changes, hashChange("person:"+strconv.Itoa(i)+strings.Repeat("k", 100),
				"first_name", strings.Repeat("f", 100), "last_name", strings.Repeat("l", 100), "age", strconv.Itoa(i)))
		}
		got := compare("large", changes, func() int { return len(changes) })
		if got["rows:upsert"] != len(changes) {
			t.Errorf("outcomes %v", got)
		}
	})
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func hashChange(key string, fields ...string) abi.Change {
	c := abi.Change{Op: abi.ChangeSet, Data: abi.DataHash, Key: key}
	for i := 0; i+1 < len(fields); i += 2 {
		c.Fields = append(c.Fields, abi.Field{Name: fields[i], Value: fields[i+1]})
	}
	return c
}

// readChanges reads the JSON lines of `cogs recipe test --changes`.
func readChanges(t *testing.T, path string) []abi.Change {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var changes []abi.Change
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		var cl struct {
			ID     string            `json:"id"`
			Key    string            `json:"key"`
			Op     string            `json:"op"`
			Fields map[string]string `json:"fields"`
		}
		if err := json.Unmarshal(line, &cl); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		c := abi.Change{Op: abi.ChangeSet, Data: abi.DataHash, Key: cl.Key}
		switch cl.Op {
		case "delete":
			c.Op = abi.ChangeDelete
		case "expired":
			c.Op = abi.ChangeExpired
		}
		c.ID, _ = abi.ParseStreamID(cl.ID)
		names := make([]string, 0, len(cl.Fields))
		for n := range cl.Fields {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			c.Fields = append(c.Fields, abi.Field{Name: n, Value: cl.Fields[n]})
		}
		changes = append(changes, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(changes) == 0 {
		t.Fatalf("%s: no changes", path)
	}
	return changes
}

// Ages that parse, that do not, and that are at the edges of the integer
// syntax and range (and of the Go SDK's 16-byte fast path).
var ages = []string{
	"0", "42", "-1", "+7", "-0", "+0", "007", "9223372036854775807", "-9223372036854775808",
	"9223372036854775808", "-9223372036854775809", "99999999999999999999", "1234567890123456",
	"12345678901234567", "-123456789012345", "+123456789012345", "-1234567890123456",
	"", "-", "+", "--1", "+-1", " 1", "1 ", "1_000", "0x10", "1e3", "1.5", "forty", "４２",
	"12345678a", "a2345678", "1234567:", "/1234567", "\x00", "\xff", "9\x00", "0000000000000000",
	"00000000000000000000000000042",
}

var suffixes = []string{"1", "42", "é", "Zoë", "日本", "\xff\xfe", "", "a b", `"q"`, `\`, "x:y", strings.Repeat("n", 300)}

var names = []string{"first_name", "last_name", "age", "email", "ag", "age2", "AGE", "first", ""}

// generate returns n random changes of person: keys.
func generate(rng *rand.Rand, n int) []abi.Change {
	changes := make([]abi.Change, n)
	for i := range changes {
		c := abi.Change{Op: abi.ChangeSet, Data: abi.DataHash, ID: abi.StreamID{Ms: 1700000000000 + uint64(i), Seq: uint64(rng.IntN(3))}}
		suffix := suffixes[rng.IntN(len(suffixes))]
		if rng.IntN(3) == 0 {
			suffix = strconv.Itoa(rng.IntN(1_000_000))
		}
		c.Key = "person:" + suffix
		switch p := rng.IntN(100); {
		case p < 12:
			c.Op = abi.ChangeDelete
		case p < 15:
			c.Op = abi.ChangeExpired
		default:
			for range rng.IntN(6) {
				name := names[rng.IntN(len(names))]
				var value string
				switch {
				case name == "age" && rng.IntN(2) == 0:
					value = strconv.FormatInt(rng.Int64()>>rng.IntN(64)*int64(1-2*rng.IntN(2)), 10)
				case name == "age":
					value = ages[rng.IntN(len(ages))]
				default:
					value = suffixes[rng.IntN(len(suffixes))]
				}
				c.Fields = append(c.Fields, abi.Field{Name: name, Value: value})
			}
		}
		changes[i] = c
	}
	return changes
}

// BenchmarkMap maps batches of 500 generated changes with each recipe
// (ns/op is per batch).
func BenchmarkMap(b *testing.B) {
	changes := generate(rand.New(rand.NewPCG(3, 4)), 500)
	for _, r := range []struct {
		name string
		wasm func(testing.TB) []byte
	}{
		{"go", func(t testing.TB) []byte { return enginetest.Build(t, "../persons") }},
		{"rust", rustWasm},
	} {
		b.Run(r.name, func(b *testing.B) {
			rec := enginetest.New(b, r.name, r.wasm(b), nil, engine.Config{PoolSize: 1})
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := rec.Map(changes); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(changes)), "ns/change")
		})
	}
}
