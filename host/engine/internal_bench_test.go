package engine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// buildPersons builds testdata/persons (enginetest.Build cannot be used
// here: it imports this package).
func buildPersons(b *testing.B) []byte {
	out := filepath.Join(b.TempDir(), "persons.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = "testdata/persons"
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, msg)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	return wasm
}

func cacheDir() string { return filepath.Join(os.TempDir(), "cogs-enginetest-wazero-cache") }

// BenchmarkInstanceStart reports the time to instantiate one more instance
// of a loaded recipe and initialise it (_initialize + cogs_init), which is
// what the pool pays when it grows or replaces a failed instance.
func BenchmarkInstanceStart(b *testing.B) {
	ctx := context.Background()
	e, err := New(ctx, Config{CacheDir: cacheDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(ctx)
	r, err := e.Load(ctx, "persons", buildPersons(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		inst, err := r.newInstance(ctx)
		if err != nil {
			b.Fatal(err)
		}
		inst.mod.Close(ctx)
	}
}

// BenchmarkLoad reports the time to load a recipe whose compiled code is
// in the cache: screening, instrumentation, the cache lookup and the first
// instance.
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	e, err := New(ctx, Config{CacheDir: cacheDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(ctx)
	wasm := buildPersons(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := e.Load(ctx, "persons", wasm, nil)
		if err != nil {
			b.Fatal(err)
		}
		r.Close(ctx)
	}
}
