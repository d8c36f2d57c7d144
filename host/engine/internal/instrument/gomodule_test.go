package instrument

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

var (
	guestsMu sync.Mutex
	guests   = map[string][]byte{}
)

// buildGuest compiles testdata/name with standard Go
// (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared) and returns the module.
// Builds are cached for the life of the test binary.
func buildGuest(tb testing.TB, name string) []byte {
	tb.Helper()
	guestsMu.Lock()
	defer guestsMu.Unlock()
	if wasm, ok := guests[name]; ok {
		return wasm
	}
	out := filepath.Join(tb.TempDir(), name+".wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = filepath.Join("testdata", name)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build %s: %v\n%s", name, err, msg)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	guests[name] = wasm
	return wasm
}

// goRuntime returns a compiler runtime with WASI and the test compilation
// cache.
func goRuntime(tb testing.TB, closeOnContextDone bool) wazero.Runtime {
	tb.Helper()
	r := newRuntime(tb, wazero.NewRuntimeConfigCompiler().
		WithCompilationCache(testCache(tb)).
		WithCloseOnContextDone(closeOnContextDone))
	wasi_snapshot_preview1.MustInstantiate(context.Background(), r)
	return r
}

// testCache returns a compilation cache on disk, shared between test runs:
// wazero keys it by module hash, configuration and wazero version.
func testCache(tb testing.TB) wazero.CompilationCache {
	tb.Helper()
	cache, err := wazero.NewCompilationCacheWithDir(filepath.Join(os.TempDir(), "cogs-instrument-wazero-cache"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cache.Close(context.Background()) })
	return cache
}

// instantiateGuest instantiates a Go-built module and runs its
// initialisation.
func instantiateGuest(tb testing.TB, r wazero.Runtime, wasm []byte, name string) api.Module {
	tb.Helper()
	m, err := r.InstantiateWithConfig(context.Background(), wasm,
		wazero.NewModuleConfig().WithName(name).WithStartFunctions("_initialize"))
	if err != nil {
		tb.Fatalf("instantiate %s: %v", name, err)
	}
	return m
}

// TestGoModuleResults checks that an instrumented Go-built module computes
// what the original computes.
func TestGoModuleResults(t *testing.T) {
	ctx := context.Background()
	in := buildGuest(t, "loops")
	out := mustInstrument(t, in)
	r := goRuntime(t, false)
	orig := instantiateGuest(t, r, in, "original")
	inst := instantiateGuest(t, r, out, "instrumented")
	for _, tc := range []struct {
		fn   string
		args []uint64
	}{
		{"sum", []uint64{1_000_000}},
		{"fib", []uint64{25}},
		{"classify", []uint64{100_000}},
		{"words", []uint64{3000}},
		{"bench", []uint64{100_000}},
	} {
		want, err := orig.ExportedFunction(tc.fn).Call(ctx, tc.args...)
		if err != nil {
			t.Fatalf("original %s: %v", tc.fn, err)
		}
		got, err := inst.ExportedFunction(tc.fn).Call(ctx, tc.args...)
		if err != nil {
			t.Fatalf("instrumented %s: %v", tc.fn, err)
		}
		if got[0] != want[0] {
			t.Errorf("%s%v: instrumented %d, original %d", tc.fn, tc.args, got[0], want[0])
		}
	}
}

// TestGoModuleSpinStops checks that a call that never returns traps soon
// after another goroutine sets the flag.
func TestGoModuleSpinStops(t *testing.T) {
	wasm := mustInstrument(t, buildGuest(t, "loops"))
	// Backstop: wazero's own cancellation at a deadline far past the
	// assertion, so that a broken instrumentation fails the test rather
	// than hanging it.
	r := goRuntime(t, true)
	m := instantiateGuest(t, r, wasm, "spin")
	flag, ok := m.ExportedGlobal(flagName).(api.MutableGlobal)
	if !ok {
		t.Fatalf("%s is not an exported mutable global", flagName)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	setAt := make(chan time.Time, 1)
	timer := time.AfterFunc(100*time.Millisecond, func() {
		now := time.Now()
		flag.Set(1)
		setAt <- now
	})
	defer timer.Stop()
	_, err := m.ExportedFunction("spin").Call(ctx)
	returned := time.Now()
	if err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("spin: got %v, want an unreachable trap", err)
	}
	select {
	case set := <-setAt:
		if returned.Before(set) {
			t.Fatal("spin returned before the flag was set")
		}
		if d := returned.Sub(set); d > time.Second {
			t.Fatalf("spin returned %v after the flag was set", d)
		}
		t.Logf("spin trapped %v after the flag was set", returned.Sub(set))
	case <-time.After(10 * time.Second):
		t.Fatal("the flag was never set")
	}
}

// TestGoModuleYieldsToGC checks that a long call lets the garbage
// collector stop the world: Go cannot preempt a goroutine running wazero's
// compiled code, so without the yields runtime.GC would wait for the call
// to end.
func TestGoModuleYieldsToGC(t *testing.T) {
	m := instantiateGuest(t, goRuntime(t, false), mustInstrument(t, buildGuest(t, "loops")), "gc")
	gcDone := make(chan time.Time, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		runtime.GC()
		gcDone <- time.Now()
	}()
	// About two seconds of work.
	if _, err := m.ExportedFunction("bench").Call(context.Background(), 200_000_000); err != nil {
		t.Fatal(err)
	}
	returned := time.Now()
	if gcAt := <-gcDone; !gcAt.Before(returned.Add(-100 * time.Millisecond)) {
		t.Fatalf("runtime.GC returned %v after the call, not before", gcAt.Sub(returned))
	}
}

// BenchmarkOverhead runs a Go-built CPU loop (10 million iterations calling
// a tiny function that is not inlined) in the original module, in the
// instrumented one (and one with loop checks only), and in the original
// under wazero's WithCloseOnContextDone.
func BenchmarkOverhead(b *testing.B) {
	ctx := context.Background()
	in := buildGuest(b, "loops")
	loopsOnly, err := instrument(in, flagName, false)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name               string
		wasm               []byte
		closeOnContextDone bool
	}{
		{"original", in, false},
		{"instrumented", mustInstrument(b, in), false},
		{"instrumented_loops_only", loopsOnly, false},
		{"close_on_context_done", in, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := instantiateGuest(b, goRuntime(b, bc.closeOnContextDone), bc.wasm, "")
			f := m.ExportedFunction("bench")
			const n = 10_000_000
			for b.Loop() {
				if _, err := f.Call(ctx, n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/iter")
		})
	}
}
