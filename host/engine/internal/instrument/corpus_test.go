package instrument

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
)

// wazeroDir returns the source directory of the wazero module in use, whose
// testdata holds thousands of modules (the spec tests among them), or ""
// if it cannot be found.
var wazeroDir = sync.OnceValue(func() string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/tetratelabs/wazero").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
})

// wazeroModules returns the paths of the .wasm files under wazero's source
// directory.
func wazeroModules(tb testing.TB) []string {
	tb.Helper()
	dir := wazeroDir()
	if dir == "" {
		tb.Skip("wazero's source directory not found")
	}
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".wasm") {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return paths
}

// TestWazeroCorpus instruments every module in wazero's testdata: the
// spec tests of WebAssembly 1.0 and 2.0 and of the proposals wazero
// implements, its fuzz regressions, and modules built by TinyGo, Rust, Zig
// and Emscripten. Whenever wazero accepts a module, Instrument must either
// refuse it with ErrUnsupported or produce a module wazero accepts too.
func TestWazeroCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles thousands of modules")
	}
	ctx := context.Background()
	paths := wazeroModules(t)
	r := newRuntime(t, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(allFeatures|
		experimental.CoreFeaturesThreads|experimental.CoreFeaturesExtendedConst|experimental.CoreFeaturesTypedFunctionReferences))
	var accepted, instrumented int
	unsupported := map[string]int{}
	for _, p := range paths {
		in, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := filepath.Rel(wazeroDir(), p)
		out, err := Instrument(in, flagName)
		c, inErr := r.CompileModule(ctx, in)
		if inErr != nil {
			continue
		}
		c.Close(ctx)
		accepted++
		switch {
		case errors.Is(err, ErrUnsupported):
			unsupported[reason(err)]++
			continue
		case err != nil:
			t.Errorf("%s: wazero accepts the module, Instrument says %v", name, err)
			continue
		}
		instrumented++
		c, err = r.CompileModule(ctx, out)
		if err != nil {
			t.Errorf("%s: wazero rejects the output: %v", name, err)
			continue
		}
		c.Close(ctx)
	}
	t.Logf("%d modules, %d accepted by wazero, %d of them instrumented", len(paths), accepted, instrumented)
	reasons := make([]string, 0, len(unsupported))
	for r := range unsupported {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		t.Logf("refused %d: %s", unsupported[r], r)
	}
}

// reason is the part of an ErrUnsupported message after "unsupported: ".
func reason(err error) string {
	s := err.Error()
	if i := strings.Index(s, ErrUnsupported.Error()+": "); i >= 0 {
		s = s[i+len(ErrUnsupported.Error())+2:]
	}
	return s
}
