package instrument

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
)

// TestIndependentDecoder checks instrumented modules with a decoder that
// shares no code with this package or wazero: wasm2wat, of the WebAssembly
// Binary Toolkit. In its text, every loop must be followed by the check of
// the flag, no loop may appear or vanish, and a function must start with
// the check exactly when it calls a function (or throws). The modules are the Go-built
// test guest and those of wazero's testdata that wazero accepts.
func TestIndependentDecoder(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("runs wasm2wat thousands of times (slowly under the race detector, for no gain)")
	}
	if _, err := exec.LookPath("wasm2wat"); err != nil {
		t.Skip("wasm2wat (wabt) not installed")
	}
	ctx := context.Background()
	r := newRuntime(t, wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(allFeatures))
	modules := map[string][]byte{"testdata/loops": buildGuest(t, "loops")}
	if dir := wazeroDir(); dir != "" {
		for _, p := range wazeroModules(t) {
			wasm, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if c, err := r.CompileModule(ctx, wasm); err == nil {
				c.Close(ctx)
				name, _ := filepath.Rel(dir, p)
				modules[name] = wasm
			}
		}
	}
	dir := t.TempDir()
	checked := 0
	for name, in := range modules {
		out, err := Instrument(in, flagName)
		if errors.Is(err, ErrUnsupported) {
			continue
		} else if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		inText, err := wat(dir, in)
		if err != nil {
			continue // a feature wabt 1.0.32 lacks, such as try_table
		}
		outText, err := wat(dir, out)
		if err != nil {
			t.Errorf("%s: wasm2wat rejects the output but not the input: %v", name, err)
			continue
		}
		if err := checkText(inText, outText); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		checked++
	}
	t.Logf("checked %d modules", checked)
}

// wat returns the text format of wasm as wasm2wat writes it.
func wat(dir string, wasm []byte) ([]string, error) {
	f, err := os.CreateTemp(dir, "*.wasm")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(wasm); err != nil {
		return nil, err
	}
	f.Close()
	out, err := exec.Command("wasm2wat", "--enable-all", "--no-check", f.Name()).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	return strings.Split(string(out), "\n"), nil
}

// checkText compares wasm2wat's text of a module and of its instrumented
// version.
func checkText(in, out []string) error {
	flag := -1 // the flag's global index, from its export
	for _, l := range out {
		if _, err := fmt.Sscanf(strings.TrimSpace(l), `(export "`+flagName+`" (global %d))`, &flag); err == nil {
			break
		}
	}
	if flag < 0 {
		return errors.New("no export of the flag")
	}
	budget := flag + 1
	yield := 0 // $yield comes after the functions of the input
	for _, l := range in {
		if strings.HasPrefix(l, "  (func ") || strings.HasPrefix(l, "  (import ") && strings.Contains(l, "(func") {
			yield++
		}
	}
	check := []string{
		fmt.Sprintf("global.get %d", budget), "i32.const 1", "i32.sub", fmt.Sprintf("global.set %d", budget),
		fmt.Sprintf("global.get %d", budget), "i32.eqz", "if", fmt.Sprintf("call %d", yield), "end",
	}
	isCheck := func(lines []string) bool {
		if len(lines) < len(check) {
			return false
		}
		for i, want := range check {
			got := strings.Fields(lines[i])
			if i := slices.Index(got, ";;"); i >= 0 {
				got = got[:i] // wasm2wat labels blocks in comments
			}
			if strings.Join(got, " ") != want {
				return false
			}
		}
		return true
	}

	loopsIn := countLoops(in)
	loopsOut := 0
	var fn []string // instructions of the current function
	endFunc := func() error {
		defer func() { fn = nil }()
		if fn == nil {
			return nil
		}
		calls := false
		for _, l := range fn {
			f := strings.Fields(l)
			if len(f) == 0 {
				continue
			}
			if f[0] == "call" && strings.TrimSuffix(f[1], ")") == strconv.Itoa(yield) {
				continue // the checks' own
			}
			switch strings.TrimSuffix(f[0], ")") {
			case "call", "call_indirect", "return_call", "return_call_indirect", "throw", "throw_ref", "try_table":
				calls = true
			}
		}
		if entry := isCheck(fn); entry != calls {
			return fmt.Errorf("function with calls %v has entry check %v: %q", calls, entry, fn[:min(len(fn), 6)])
		}
		return nil
	}
	for i, l := range out {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "  (func "):
			if err := endFunc(); err != nil {
				return err
			}
			fn = []string{}
			continue
		case strings.HasPrefix(l, "  (") || l == ")":
			if err := endFunc(); err != nil {
				return err
			}
			continue
		case fn == nil || strings.HasPrefix(t, "(local "):
			continue
		}
		fn = append(fn, t)
		if t == "loop" || strings.HasPrefix(t, "loop ") {
			loopsOut++
			if !isCheck(out[i+1:]) {
				return fmt.Errorf("line %d: loop without the check: %q", i+1, out[i:min(len(out), i+5)])
			}
		}
	}
	if err := endFunc(); err != nil {
		return err
	}
	if loopsIn != loopsOut {
		return fmt.Errorf("%d loops became %d", loopsIn, loopsOut)
	}
	return nil
}

func countLoops(text []string) int {
	n := 0
	for _, l := range text {
		if t := strings.TrimSpace(l); t == "loop" || strings.HasPrefix(t, "loop ") {
			n++
		}
	}
	return n
}
