// Package enginetest builds recipes to Wasm and runs them through the
// engine in tests, so a recipe's cogstest cases run against the compiled
// module as well as natively.
package enginetest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/engine"
)

var (
	mu    sync.Mutex
	built = map[string][]byte{}
)

// Build compiles the Go recipe in dir with standard Go
// (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared) and returns the module.
// Builds are cached for the life of the test binary.
func Build(t testing.TB, dir string) []byte {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if b, ok := built[abs]; ok {
		return b
	}
	out := filepath.Join(t.TempDir(), filepath.Base(abs)+".wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = abs
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", dir, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	built[abs] = b
	return b
}

// CacheDir returns a compilation cache directory shared by the tests of
// every package (under the system's temp directory), so a module is
// compiled once per machine rather than once per test. wazero keys its
// cache by module hash and wazero version, so sharing it is safe.
func CacheDir() string {
	return filepath.Join(os.TempDir(), "cogs-enginetest-wazero-cache")
}

// Runner runs a compiled recipe through a fresh engine; it implements
// cogstest.Runner.
type Runner struct {
	t      testing.TB
	recipe *engine.Recipe
}

// New loads wasm into a new engine with cfg (zero for defaults), fails
// the test if the load fails, and closes the engine when the test ends.
func New(t testing.TB, name string, wasm, config []byte, cfg engine.Config) *Runner {
	t.Helper()
	ctx := context.Background()
	if cfg.CacheDir == "" {
		cfg.CacheDir = CacheDir()
	}
	e, err := engine.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(ctx) })
	r, err := e.Load(ctx, name, wasm, config)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return &Runner{t: t, recipe: r}
}

// Recipe returns the recipe's declaration.
func (r *Runner) Recipe() abi.Recipe { return r.recipe.Meta() }

// Map runs one batch.
func (r *Runner) Map(changes []abi.Change) ([]abi.Result, error) {
	return r.recipe.Map(context.Background(), changes)
}
