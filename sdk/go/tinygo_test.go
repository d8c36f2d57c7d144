package cogs_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// tinygoDirs are the packages that are compiled into recipes: the SDK and
// every Go recipe of the repository. TinyGo must be able to build them with
// -scheduler=none (make recipes-tinygo; TinyGo itself is not installed on
// the dev machine, so this test checks what would break it).
var tinygoDirs = []string{
	".", "cogsjson",
	"../../abi",
	"../../recipes/rowmap", "../../recipes/jsondoc", "../../recipes/internal/mapkit",
	"../../examples/persons", "../../examples/cars",
}

// notForRecipes are imports a recipe must not pull in: reflection (slow or
// unsupported under TinyGo) and what rests on it, and what a sandboxed
// recipe has no use for.
var notForRecipes = map[string]string{
	"reflect":       "reflection",
	"fmt":           "reflection, and size",
	"encoding/json": "reflection (use sdk/go/cogsjson)",
	"encoding/gob":  "reflection",
	"text/template": "reflection",
	"sync":          "goroutines (-scheduler=none)",
	"time":          "no clock in the sandbox",
	"os":            "no filesystem in the sandbox",
	"net":           "no network in the sandbox",
}

// TestTinyGoSafe checks the non-test sources of the recipe packages: no
// import from notForRecipes, no goroutine, no channel, and no export named
// like a C allocator (malloc, free, calloc, realloc), which TinyGo's runtime
// defines itself.
func TestTinyGoSafe(t *testing.T) {
	fset := token.NewFileSet()
	for _, dir := range tinygoDirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v)", dir, err)
		}
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parser.ParseFile(fset, file, src, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if isNativeOnly(f) {
				continue
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				if why, bad := notForRecipes[path]; bad {
					t.Errorf("%s imports %q: %s", fset.Position(imp.Pos()), path, why)
				}
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.GoStmt:
					t.Errorf("%s: a goroutine (-scheduler=none)", fset.Position(n.Pos()))
				case *ast.ChanType:
					t.Errorf("%s: a channel (-scheduler=none)", fset.Position(n.Pos()))
				}
				return true
			})
			for _, cg := range f.Comments {
				for _, c := range cg.List {
					for _, dir := range []string{"//go:wasmexport ", "//export "} {
						if name, ok := strings.CutPrefix(c.Text, dir); ok {
							switch strings.TrimSpace(name) {
							case "malloc", "free", "calloc", "realloc":
								t.Errorf("%s: exports %s, which TinyGo's runtime defines", fset.Position(c.Pos()), name)
							}
						}
					}
				}
			}
		}
	}
}

// isNativeOnly reports whether a file is built only outside Wasm (a
// "//go:build !wasm" constraint): those never reach TinyGo.
func isNativeOnly(f *ast.File) bool {
	for _, cg := range f.Comments {
		if cg.Pos() > f.Package {
			break
		}
		for _, c := range cg.List {
			if expr, ok := strings.CutPrefix(c.Text, "//go:build "); ok && strings.Contains(expr, "!wasm") {
				return true
			}
		}
	}
	return false
}
