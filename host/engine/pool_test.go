package engine_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/engine"
)

// TestConcurrentMaps runs many batches at once through a pool smaller than
// the number of callers: every caller gets its own results.
func TestConcurrentMaps(t *testing.T) {
	e := newEngine(t, engine.Config{PoolSize: 2})
	r := load(t, e, "persons")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				id := strconv.Itoa(g*1000 + i)
				res, err := r.Map(context.Background(), []abi.Change{person(id, "F"+id, "L"+id, id)})
				if err != nil {
					errs <- err
					return
				}
				want := `result change=0 outcome=rows rows=[upsert table="persons" keys=["person_id"=str:"` + id +
					`"] cols=["first"=str:"F` + id + `" "last"=str:"L` + id + `" "age"=int:` + id + `]]`
				if got := abi.ResultText(&res[0]); got != want {
					errs <- errors.New("got " + got + ", want " + want)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestBatchOrderAndSize(t *testing.T) {
	e := newEngine(t, engine.Config{})
	r := load(t, e, "persons")
	changes := personsBatch(5000)
	changes[4321].Fields[2].Value = "not a number"
	res, err := r.Map(context.Background(), changes)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(changes) {
		t.Fatalf("%d results for %d changes", len(res), len(changes))
	}
	for i := range res {
		if res[i].Change != uint32(i) {
			t.Fatalf("result %d is for change %d", i, res[i].Change)
		}
		if i == 4321 {
			if res[i].Outcome != abi.OutcomeReject {
				t.Fatalf("change 4321: %s", abi.ResultText(&res[i]))
			}
			continue
		}
		if got := res[i].Rows[0].Keys[0].Value.Str(); got != strconv.Itoa(i) {
			t.Fatalf("result %d has key %q", i, got)
		}
	}
}

func TestClosedRecipe(t *testing.T) {
	e := newEngine(t, engine.Config{})
	r := load(t, e, "persons")
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := r.Map(context.Background(), []abi.Change{person("1", "a", "b", "1")})
	if !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", err)
	}
}

func TestCanceledContext(t *testing.T) {
	e := newEngine(t, engine.Config{MapTimeout: time.Minute, PoolSize: 1})
	r := load(t, e, "runaway")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := r.Map(ctx, []abi.Change{{Op: abi.ChangeSet, Data: abi.DataHash, Key: "loop:1"}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  engine.Config
		want string
	}{
		{engine.Config{MemoryLimit: 1000}, "engine.memory_limit: must be at least 128 KiB"},
		{engine.Config{MapTimeout: -1}, "engine.map_timeout: must not be negative"},
		{engine.Config{PoolSize: -1}, "engine.pool_size: must not be negative"},
		{engine.Config{PoolSize: 5000}, "engine.pool_size: must be at most 4096"},
	} {
		if err := tc.cfg.Validate(); err == nil || err.Error() != tc.want {
			t.Errorf("%+v: got %v, want %s", tc.cfg, err, tc.want)
		}
		if _, err := engine.New(context.Background(), tc.cfg); err == nil || err.Error() != tc.want {
			t.Errorf("New(%+v): got %v, want %s", tc.cfg, err, tc.want)
		}
	}
}

// module returns a minimal Wasm module exporting one function () -> ()
// under each name.
func module(exports ...string) []byte {
	b := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	b = append(b, 1, 4, 1, 0x60, 0, 0) // type section: one func type () -> ()
	funcs := []byte{byte(len(exports))}
	code := []byte{byte(len(exports))}
	var exp []byte
	exp = append(exp, byte(len(exports)))
	for i, name := range exports {
		funcs = append(funcs, 0)
		code = append(code, 2, 0, 0x0b)
		exp = append(exp, byte(len(name)))
		exp = append(exp, name...)
		exp = append(exp, 0, byte(i))
	}
	b = append(b, 3, byte(len(funcs)))
	b = append(b, funcs...)
	b = append(b, 7, byte(len(exp)))
	b = append(b, exp...)
	b = append(b, 10, byte(len(code)))
	return append(b, code...)
}

func TestABIVersionChecks(t *testing.T) {
	e := newEngine(t, engine.Config{})
	for _, tc := range []struct {
		name    string
		exports []string
		kind    error
		want    string
	}{
		{"nomarker", []string{"cogs_init"}, engine.ErrABIVersion,
			`recipe "nomarker": load: unsupported ABI version: no ABI version marker (an export named cogs_abi_version_<major>_<minor>); was it built with a cogs SDK?`},
		{"newer", []string{"cogs_abi_version_1_9"}, engine.ErrABIVersion,
			`recipe "newer": load: unsupported ABI version: recipe "newer" was built for ABI 1.9; this host speaks 1.0 (it needs a host speaking 1.9 or later)`},
		{"older", []string{"cogs_abi_version_0_3"}, engine.ErrABIVersion,
			`recipe "older": load: unsupported ABI version: recipe "older" was built for ABI 0.3; this host speaks 1.x`},
		{"garbled", []string{"cogs_abi_version_one"}, engine.ErrABIVersion,
			`recipe "garbled": load: unsupported ABI version: malformed ABI version marker "cogs_abi_version_one"`},
		{"signed", []string{"cogs_abi_version_+1_0"}, engine.ErrABIVersion,
			`recipe "signed": load: unsupported ABI version: malformed ABI version marker "cogs_abi_version_+1_0"`},
		{"noinit", []string{"cogs_abi_version_1_0"}, engine.ErrInvalidModule,
			`recipe "noinit": load: invalid module: missing export "cogs_init"`},
		{"badsig", []string{"cogs_abi_version_1_0", "cogs_init"}, engine.ErrInvalidModule,
			`recipe "badsig": load: invalid module: export "cogs_init" has the wrong signature`},
	} {
		_, err := e.Load(context.Background(), tc.name, module(tc.exports...), nil)
		if !errors.Is(err, tc.kind) || err.Error() != tc.want {
			t.Errorf("%s:\n got %v\nwant %s", tc.name, err, tc.want)
		}
	}
	_, err := e.Load(context.Background(), "empty", nil, nil)
	if !errors.Is(err, engine.ErrInvalidModule) || !strings.Contains(err.Error(), "not a valid WebAssembly module") {
		t.Errorf("empty: %v", err)
	}
}

// TestOutputLimit: a recipe stopped by the host's output limit fails the
// call as a recipe failure naming the limit, not as an ABI violation.
func TestOutputLimit(t *testing.T) {
	e := newEngine(t, engine.Config{MaxOutput: 100, PoolSize: 1})
	r := load(t, e, "persons")
	_, err := r.Map(context.Background(), personsBatch(50))
	want := `recipe "persons" v1.0.0: map: recipe failed: result_push: LIMIT_EXCEEDED (output of this call over 100 bytes); recipe says: result_push: LIMIT_EXCEEDED`
	if !errors.Is(err, engine.ErrRecipeFailed) || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	// The instance is still good.
	if _, err := r.Map(context.Background(), personsBatch(1)); err != nil {
		t.Fatal(err)
	}
}
