package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/engine"
	"github.com/cogs-dev/cogs/host/enginetest"
)

func newEngine(t *testing.T, cfg engine.Config) *engine.Engine {
	t.Helper()
	ctx := context.Background()
	if cfg.CacheDir == "" {
		cfg.CacheDir = enginetest.CacheDir()
	}
	e, err := engine.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(ctx) })
	return e
}

func load(t *testing.T, e *engine.Engine, name string) *engine.Recipe {
	t.Helper()
	r, err := e.Load(context.Background(), name, enginetest.Build(t, "testdata/"+name), nil)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return r
}

func person(id, first, last, age string) abi.Change {
	return abi.Change{Op: abi.ChangeSet, Data: abi.DataHash, Key: "person:" + id, ID: abi.StreamID{Ms: 1, Seq: 1},
		Fields: []abi.Field{{Name: "first_name", Value: first}, {Name: "last_name", Value: last}, {Name: "age", Value: age}}}
}

// checkPersons asserts that the engine still serves the correct recipe.
func checkPersons(t *testing.T, e *engine.Engine) {
	t.Helper()
	r := load(t, e, "persons")
	res, err := r.Map(context.Background(), []abi.Change{person("1", "Ann", "Lee", "42")})
	if err != nil {
		t.Fatalf("persons after failure: %v", err)
	}
	want := `result change=0 outcome=rows rows=[upsert table="persons" keys=["person_id"=str:"1"] cols=["first"=str:"Ann" "last"=str:"Lee" "age"=int:42]]`
	if got := abi.ResultText(&res[0]); got != want {
		t.Fatalf("persons after failure:\n got %s\nwant %s", got, want)
	}
}

func TestFailureModes(t *testing.T) {
	for _, tc := range []struct {
		recipe  string
		loadErr bool
		change  abi.Change
		kind    error
		timeout time.Duration
		want    string
	}{
		{recipe: "initpanic", loadErr: true, kind: engine.ErrTrap,
			want: `recipe "initpanic": init: trapped: panic: init exploded (wasm error: unreachable)`},
		{recipe: "initloop", loadErr: true, kind: engine.ErrTimeout,
			want: `recipe "initloop": init: deadline exceeded: the call ran longer than 3s`},
		{recipe: "wrongabi", loadErr: true, kind: engine.ErrABIVersion,
			want: `recipe "wrongabi": load: unsupported ABI version: recipe "wrongabi" was built for ABI 2.0; this host speaks 1.x`},
		{recipe: "maptrap", change: abi.Change{Op: abi.ChangeSet, Data: abi.DataHash, Key: "t:boom"}, kind: engine.ErrTrap,
			want: `recipe "maptrap" v1.0.0: map: trapped: panic: map exploded on t:boom (wasm error: unreachable)`},
		{recipe: "runaway", change: abi.Change{Op: abi.ChangeSet, Data: abi.DataHash, Key: "loop:1"}, kind: engine.ErrTimeout,
			want: `recipe "runaway" v1.0.0: map: deadline exceeded: the call ran longer than 300ms`},
		{recipe: "membomb", change: abi.Change{Op: abi.ChangeSet, Data: abi.DataHash, Key: "bomb:1"}, kind: engine.ErrMemoryLimit, timeout: time.Minute,
			want: `recipe "membomb" v1.0.0: map: memory limit exceeded: limit 32 MiB: fatal error: out of memory`},
		{recipe: "badptr", change: abi.Change{Op: abi.ChangeSet, Data: abi.DataHash, Key: "b:1"}, kind: engine.ErrProtocol,
			want: `recipe "badptr" v1.0.0: map: ABI violation: change_get: BAD_POINTER (ptr=4294967040 len=25); recipe says: change_get returned BAD_POINTER`},
	} {
		t.Run(tc.recipe, func(t *testing.T) {
			timeout := 300 * time.Millisecond
			if tc.timeout != 0 {
				timeout = tc.timeout
			}
			e := newEngine(t, engine.Config{MapTimeout: timeout, InitTimeout: 3 * time.Second, MemoryLimit: 32 << 20, PoolSize: 1})
			var err error
			if tc.loadErr {
				_, err = e.Load(context.Background(), tc.recipe, enginetest.Build(t, "testdata/"+tc.recipe), nil)
			} else {
				r := load(t, e, tc.recipe)
				_, err = r.Map(context.Background(), []abi.Change{tc.change})
				if err != nil {
					// The failed instance was discarded; the recipe gets a fresh one.
					_, err2 := r.Map(context.Background(), []abi.Change{tc.change})
					if err2 == nil || err2.Error() != err.Error() {
						t.Errorf("second call: got %v, want the same error again", err2)
					}
				}
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("error %v is not %v", err, tc.kind)
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n got %s\nwant %s", err, tc.want)
			}
			checkPersons(t, e)
		})
	}
}

func TestReject(t *testing.T) {
	e := newEngine(t, engine.Config{})
	r := load(t, e, "reject")
	res, err := r.Map(context.Background(), []abi.Change{
		{Op: abi.ChangeSet, Data: abi.DataHash, Key: "r:1", Fields: []abi.Field{{Name: "v", Value: "ok"}}},
		{Op: abi.ChangeSet, Data: abi.DataHash, Key: "r:2", Fields: []abi.Field{{Name: "v", Value: "bad"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := abi.ResultText(&res[0]) + "\n" + abi.ResultText(&res[1])
	want := `result change=0 outcome=rows rows=[upsert table="r" keys=["id"=str:"1"] cols=["v"=str:"ok"]]` + "\n" +
		`result change=1 outcome=reject reason="v must be \x22ok\x22, not \x22bad\x22"`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	checkPersons(t, e)
}

func TestInvalidModule(t *testing.T) {
	e := newEngine(t, engine.Config{})
	_, err := e.Load(context.Background(), "junk", []byte("not wasm at all"), nil)
	if !errors.Is(err, engine.ErrInvalidModule) || !strings.HasPrefix(err.Error(), `recipe "junk": load: invalid module: not a valid WebAssembly module: `) {
		t.Fatalf("got %v", err)
	}
}
