package instrument

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
)

// FuzzInstrument checks that Instrument never panics, that every error it
// returns is ErrUnsupported or ErrMalformed, and that whenever wazero
// accepts the input, it accepts the output.
//
// The seeds are the Go-built test guest, modules built by other toolchains
// (TinyGo, Rust, Zig, Emscripten, C++ with exceptions) and wazero's fuzz
// regressions from wazero's testdata when it is found, and the hand-written
// modules of the other tests.
func FuzzInstrument(f *testing.F) {
	f.Add(buildGuest(f, "loops"))
	if dir := wazeroDir(); dir != "" {
		for _, pattern := range []string{
			"examples/*/testdata/*.wasm",
			"examples/*/*/testdata/*.wasm",
			"imports/*/testdata/*.wasm",
			"imports/*/testdata/*/*.wasm",
			"experimental/testdata/*.wasm",
			"internal/integration_test/fuzzcases/testdata/*.wasm",
		} {
			paths, _ := filepath.Glob(filepath.Join(dir, pattern))
			for _, p := range paths {
				if wasm, err := os.ReadFile(p); err == nil {
					f.Add(wasm)
				}
			}
		}
	}
	for _, tc := range byteCases {
		f.Add(tc.in)
	}
	for _, tc := range instructionCases {
		f.Add(richModule(locals4, tc.code))
	}

	// Compiling a large module takes seconds. While fuzzing, check the
	// property only for modules small enough to keep the fuzzer going. The
	// seed corpus, run by plain go test, is checked in full, with the
	// compilation cache the other tests use (wazero decodes and validates
	// a module before it looks in the cache).
	fuzzing := flag.Lookup("test.fuzz") != nil && flag.Lookup("test.fuzz").Value.String() != ""
	config := wazero.NewRuntimeConfig()
	if !fuzzing {
		config = config.WithCompilationCache(testCache(f))
	}
	r := newRuntime(f, config)

	f.Fuzz(func(t *testing.T, wasm []byte) {
		out, err := Instrument(wasm, flagName)
		if err != nil {
			if !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error is neither ErrUnsupported nor ErrMalformed: %v", err)
			}
			return
		}
		if fuzzing && len(wasm) > 64<<10 || hugeForWazero(wasm) {
			return
		}
		if err := compile(r, wasm); err != nil {
			return
		}
		if err := compile(r, out); err != nil {
			t.Fatalf("wazero accepts the input but rejects the output: %v", err)
		}
	})
}

// compile compiles wasm with r, turning a panic of wazero's into an error:
// wazero v1.12.0 panics on some invalid modules (see TestWazeroBugs).
func compile(r wazero.Runtime, wasm []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("wazero panicked: %v", p)
		}
	}()
	ctx := context.Background()
	c, err := r.CompileModule(ctx, wasm)
	if err != nil {
		return err
	}
	return c.Close(ctx)
}

// hugeForWazero reports whether wazero v1.12.0 might allocate gigabytes
// decoding wasm, which kills the Go runtime: its decoder allocates vectors,
// strings and locals by the counts it reads, before reading the items. It
// is true if wasm may hold a LEB128 number of 2^16 or more (two bytes with
// the continuation bit, then one of 4 or more), or a function whose locals
// add up to more than 2^16.
func hugeForWazero(wasm []byte) bool {
	for i := 0; i+2 < len(wasm); i++ {
		if wasm[i] >= 0x80 && wasm[i+1] >= 0x80 && wasm[i+2] >= 0x04 {
			return true
		}
	}
	r := reader{b: wasm, off: len(header)}
	for !r.done() {
		id, err := r.byte()
		if err != nil {
			return false
		}
		size, err := r.u32()
		if err != nil {
			return false
		}
		body, err := r.bytes(size)
		if err != nil {
			return false
		}
		if id != secCode {
			continue
		}
		c := reader{b: body}
		n, err := c.u32()
		if err != nil {
			return false
		}
		for range n {
			size, err := c.u32()
			if err != nil {
				return false
			}
			fn, err := c.bytes(size)
			if err != nil {
				return false
			}
			f := reader{b: fn}
			decls, err := f.u32()
			if err != nil {
				return false
			}
			var sum uint64
			for range decls {
				count, err := f.u32()
				if err != nil {
					break
				}
				if sum += uint64(count); sum > 1<<16 {
					return true
				}
				if _, err := f.byte(); err != nil {
					break
				}
			}
		}
	}
	return false
}

// TestWazeroBugs records modules on which wazero v1.12.0's CompileModule
// panics or runs out of memory (a fatal error) rather than returning an
// error, found by FuzzInstrument. Instrument must handle them; the fuzz
// test recovers from the panics and keeps the others away from wazero. The
// engine must guard against both before compiling a module.
func TestWazeroBugs(t *testing.T) {
	r := newRuntime(t, wazero.NewRuntimeConfig())
	for _, tc := range []struct {
		name  string
		wasm  []byte
		fatal bool // out of memory: not run through wazero here
	}{
		{
			// Function 0 calls function 1, whose type index (48) is out of
			// range: validating the call indexes the type section with it
			// before the function section is checked.
			name: "panic: call to a function of an undefined type",
			wasm: []byte("\x00asm\x01\x00\x00\x00\x01\x17\x02`\x00\x00`\x00\x10~~~~~~~~~~~~~~~~\x03\x03\x02\x000\n.\x02\t\x00A0\x10\x01A0X\v\"\x00A0000A0A0A0A0A0A0000000A0A0A0A0X\v"),
		},
		{
			// An element section of 4 bytes announces 0x80ffffff segments;
			// wazero allocates them all before reading the first.
			name:  "out of memory: element segment count",
			wasm:  []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01`\x00\x00\x03\x03\x02\x00\x00\b\x01\x00\t\x04\xff\xff\xff\x80\f\x01\x01\n\x0f\x02\x04\x00\x10\x01\v\b\x00\xfc\r\x00\xfc\t\x00\v\v\x04\x01\x01\x01x"),
			fatal: true,
		},
		{
			// One local declaration of 2^32-1 i32 locals: wazero accepts the
			// count and allocates a type for each local.
			name:  "out of memory: locals",
			wasm:  mod(sec(1, vec(typeVoid)), sec(3, vec(b(0))), sec(10, vec(fn(vec(cat(u32(1<<32-1), b(0x7f))), b(0x0b))))),
			fatal: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Instrument(tc.wasm, flagName); err != nil {
				t.Logf("Instrument: %v", err)
			}
			if tc.fatal {
				if !hugeForWazero(tc.wasm) {
					t.Fatal("hugeForWazero misses it")
				}
				return
			}
			t.Logf("wazero: %v", compile(r, tc.wasm))
		})
	}
}

// FuzzScreen: Screen never panics or over-reads.
func FuzzScreen(f *testing.F) {
	f.Add(mod(sec(1, vec(typeVoid)), sec(3, vec(b(0))), sec(10, vec(fn(vec(), b(0x0b))))))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\t\x04\xff\xff\xff\x80"))
	f.Fuzz(func(t *testing.T, wasm []byte) {
		_ = Screen(wasm)
	})
}
