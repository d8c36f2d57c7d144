package instrument

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// flagName is the export name the tests give the added global.
const flagName = "cogs_deadline"

// allFeatures are the features the hand-written modules may use.
const allFeatures = api.CoreFeaturesV2 | experimental.CoreFeaturesTailCall | experimental.CoreFeaturesExceptionHandling

// Helpers that assemble the binary format by hand.

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func u32(v uint32) []byte { return appendU32(nil, v) }

// sec is a section: id, size, contents.
func sec(id byte, contents ...[]byte) []byte {
	c := cat(contents...)
	return cat([]byte{id}, u32(uint32(len(c))), c)
}

// vec is a vector: count, then the items.
func vec(items ...[]byte) []byte { return cat(u32(uint32(len(items))), cat(items...)) }

func str(s string) []byte { return cat(u32(uint32(len(s))), []byte(s)) }

func mod(sections ...[]byte) []byte { return cat(header, cat(sections...)) }

// fn is a code entry: size, then locals and code.
func fn(locals []byte, code ...[]byte) []byte {
	b := cat(locals, cat(code...))
	return cat(u32(uint32(len(b))), b)
}

func b(bs ...byte) []byte { return bs }

// What Instrument adds, written out byte by byte.

// chk is the check inserted at a loop or function entry, for the indices
// of $budget and $yield.
func chk(budget, yield uint32) []byte {
	return cat(
		b(0x23), u32(budget), b(0x41, 0x01, 0x6b, 0x24), u32(budget), // global.get, i32.const 1, i32.sub, global.set
		b(0x23), u32(budget), b(0x45, 0x04, 0x40, 0x10), u32(yield), b(0x0b)) // global.get, i32.eqz, if, call, end
}

// yieldFn is the code entry of $yield, for the indices of $flag and
// $budget.
func yieldFn(flag, budget uint32) []byte {
	return fn(noLocals,
		b(0x41, 0x80, 0x80, 0x01, 0x24), u32(budget), // i32.const 16384, global.set $budget
		b(0x41, 0x00, 0x40, 0x00, 0x1a),                     // i32.const 0, memory.grow 0, drop
		b(0x23), u32(flag), b(0x04, 0x40, 0x00, 0x0b, 0x0b)) // global.get $flag, if, unreachable, end, end
}

var (
	noLocals     = vec()
	typeVoid     = b(0x60, 0x00, 0x00)                         // () -> ()
	typeI32I32   = b(0x60, 0x01, 0x7f, 0x01, 0x7f)             // (i32) -> (i32)
	typeVoidI32  = b(0x60, 0x00, 0x01, 0x7f)                   // () -> (i32)
	flagEntry    = b(0x7f, 0x01, 0x41, 0x00, 0x0b)             // $flag: (mut i32) (i32.const 0)
	budgetEntry  = b(0x7f, 0x01, 0x41, 0x80, 0x80, 0x01, 0x0b) // $budget: (mut i32) (i32.const 16384)
	memoryAdded  = sec(5, vec(b(0x00, 0x00)))                  // a memory of 0 pages, no maximum
	globalsAdded = sec(6, vec(flagEntry, budgetEntry))
)

func flagExport(i uint32) []byte { return cat(str(flagName), b(0x03), u32(i)) }

func newRuntime(tb testing.TB, config wazero.RuntimeConfig) wazero.Runtime {
	tb.Helper()
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, config)
	tb.Cleanup(func() { r.Close(ctx) })
	return r
}

func compilerRuntime(tb testing.TB) wazero.Runtime {
	return newRuntime(tb, wazero.NewRuntimeConfigCompiler().WithCoreFeatures(allFeatures))
}

// instantiate compiles and instantiates wasm under name, failing the test
// on error.
func instantiate(tb testing.TB, r wazero.Runtime, wasm []byte, name string) api.Module {
	tb.Helper()
	m, err := r.InstantiateWithConfig(context.Background(), wasm, wazero.NewModuleConfig().WithName(name))
	if err != nil {
		tb.Fatalf("instantiate %s: %v", name, err)
	}
	return m
}

func mustInstrument(tb testing.TB, wasm []byte) []byte {
	tb.Helper()
	out, err := Instrument(wasm, flagName)
	if err != nil {
		tb.Fatalf("Instrument: %v", err)
	}
	return out
}

// setFlag sets the exported flag of m.
func setFlag(tb testing.TB, m api.Module, v uint64) {
	tb.Helper()
	g, ok := m.ExportedGlobal(flagName).(api.MutableGlobal)
	if !ok {
		tb.Fatalf("%s is not an exported mutable global", flagName)
	}
	if g.Type() != api.ValueTypeI32 {
		tb.Fatalf("%s has type %s, want i32", flagName, api.ValueTypeName(g.Type()))
	}
	g.Set(v)
}

var loopBody = b(0x03, 0x40, 0x0b, 0x0b) // loop end end

// byteCases are small modules and the exact output Instrument should
// produce.
var byteCases = []struct {
	name    string
	in, out []byte
}{
	{
		// $yield gets type 1 and function index 1, $flag and $budget global
		// indices 0 and 1.
		name: "no memory, global or export section",
		in:   mod(sec(1, vec(typeVoid)), sec(3, vec(b(0))), sec(10, vec(fn(noLocals, loopBody)))),
		out: mod(sec(1, vec(typeVoid, typeVoid)), sec(3, vec(b(0), b(1))),
			memoryAdded, globalsAdded, sec(7, vec(flagExport(0))),
			sec(10, vec(fn(noLocals, b(0x03, 0x40), chk(1, 1), b(0x0b, 0x0b)), yieldFn(0, 1)))),
	},
	{
		name: "a function that calls gets an entry check",
		// Function 0 calls function 1, which calls nothing.
		in: mod(sec(1, vec(typeVoid)), sec(3, vec(b(0), b(0))),
			sec(10, vec(fn(noLocals, b(0x10, 0x01, 0x0b)), fn(noLocals, b(0x0b))))),
		out: mod(sec(1, vec(typeVoid, typeVoid)), sec(3, vec(b(0), b(0), b(1))),
			memoryAdded, globalsAdded, sec(7, vec(flagExport(0))),
			sec(10, vec(fn(noLocals, chk(1, 2), b(0x10, 0x01, 0x0b)), fn(noLocals, b(0x0b)), yieldFn(0, 1)))),
	},
	{
		name: "every kind of call needs an entry check",
		// call_indirect, return_call, return_call_indirect, each in a
		// function with locals.
		in: mod(sec(1, vec(typeVoid)), sec(3, vec(b(0), b(0), b(0))), sec(4, vec(b(0x70, 0x00, 0x01))),
			sec(10, vec(
				fn(vec(b(0x01, 0x7f)), b(0x41, 0x00, 0x11, 0x00, 0x00, 0x0b)),
				fn(vec(b(0x01, 0x7f)), b(0x12, 0x00, 0x0b)),
				fn(vec(b(0x01, 0x7f)), b(0x41, 0x00, 0x13, 0x00, 0x00, 0x0b))))),
		out: mod(sec(1, vec(typeVoid, typeVoid)), sec(3, vec(b(0), b(0), b(0), b(1))), sec(4, vec(b(0x70, 0x00, 0x01))),
			memoryAdded, globalsAdded, sec(7, vec(flagExport(0))),
			sec(10, vec(
				fn(vec(b(0x01, 0x7f)), chk(1, 3), b(0x41, 0x00, 0x11, 0x00, 0x00, 0x0b)),
				fn(vec(b(0x01, 0x7f)), chk(1, 3), b(0x12, 0x00, 0x0b)),
				fn(vec(b(0x01, 0x7f)), chk(1, 3), b(0x41, 0x00, 0x13, 0x00, 0x00, 0x0b)),
				yieldFn(0, 1)))),
	},
	{
		// Without functions there is nothing to check and no $yield.
		name: "no sections at all",
		in:   mod(),
		out:  mod(globalsAdded, sec(7, vec(flagExport(0)))),
	},
	{
		name: "existing memory, global and export sections",
		in: mod(sec(1, vec(typeVoid)), sec(3, vec(b(0))), sec(5, vec(b(0x01, 0x01, 0x02))),
			sec(6, vec(b(0x7f, 0x00, 0x41, 0x05, 0x0b), b(0x7e, 0x01, 0x42, 0x03, 0x0b))),
			sec(7, vec(cat(str("f"), b(0x00, 0x00)))),
			sec(10, vec(fn(noLocals, loopBody)))),
		out: mod(sec(1, vec(typeVoid, typeVoid)), sec(3, vec(b(0), b(1))), sec(5, vec(b(0x01, 0x01, 0x02))),
			sec(6, vec(b(0x7f, 0x00, 0x41, 0x05, 0x0b), b(0x7e, 0x01, 0x42, 0x03, 0x0b), flagEntry, budgetEntry)),
			sec(7, vec(cat(str("f"), b(0x00, 0x00)), flagExport(2))),
			sec(10, vec(fn(noLocals, b(0x03, 0x40), chk(3, 1), b(0x0b, 0x0b)), yieldFn(2, 3)))),
	},
	{
		name: "an empty memory section gets the memory",
		in:   mod(sec(1, vec(typeVoid)), sec(3, vec(b(0))), sec(5, vec()), sec(10, vec(fn(noLocals, loopBody)))),
		out: mod(sec(1, vec(typeVoid, typeVoid)), sec(3, vec(b(0), b(1))),
			memoryAdded, globalsAdded, sec(7, vec(flagExport(0))),
			sec(10, vec(fn(noLocals, b(0x03, 0x40), chk(1, 1), b(0x0b, 0x0b)), yieldFn(0, 1)))),
	},
	{
		// One imported function and two imported globals come first in
		// their index spaces; the imported memory serves $yield.
		name: "imports come first in the index spaces",
		in: mod(sec(1, vec(typeVoid)),
			sec(2, vec(
				cat(str("env"), str("f"), b(0x00, 0x00)),
				cat(str("env"), str("g1"), b(0x03, 0x7f, 0x00)),
				cat(str("env"), str("mem"), b(0x02, 0x01, 0x01, 0x02)),
				cat(str("env"), str("tab"), b(0x01, 0x70, 0x00, 0x01)),
				cat(str("env"), str("g2"), b(0x03, 0x7e, 0x01)),
			)),
			sec(3, vec(b(0))),
			sec(6, vec(b(0x7f, 0x00, 0x23, 0x00, 0x0b))),
			sec(10, vec(fn(noLocals, loopBody)))),
		out: mod(sec(1, vec(typeVoid, typeVoid)),
			sec(2, vec(
				cat(str("env"), str("f"), b(0x00, 0x00)),
				cat(str("env"), str("g1"), b(0x03, 0x7f, 0x00)),
				cat(str("env"), str("mem"), b(0x02, 0x01, 0x01, 0x02)),
				cat(str("env"), str("tab"), b(0x01, 0x70, 0x00, 0x01)),
				cat(str("env"), str("g2"), b(0x03, 0x7e, 0x01)),
			)),
			sec(3, vec(b(0), b(1))),
			sec(6, vec(b(0x7f, 0x00, 0x23, 0x00, 0x0b), flagEntry, budgetEntry)),
			sec(7, vec(flagExport(3))),
			sec(10, vec(fn(noLocals, b(0x03, 0x40), chk(4, 2), b(0x0b, 0x0b)), yieldFn(3, 4)))),
	},
	{
		name: "custom sections stay before the section they preceded",
		in: mod(sec(0, str("first"), b(1, 2, 3)), sec(1, vec(typeVoid)), sec(3, vec(b(0))),
			sec(0, str("middle")), sec(10, vec(fn(noLocals, loopBody))), sec(0, str("last"), b(0x03, 0x40))),
		out: mod(sec(0, str("first"), b(1, 2, 3)), sec(1, vec(typeVoid, typeVoid)), sec(3, vec(b(0), b(1))),
			memoryAdded, globalsAdded, sec(7, vec(flagExport(0))), sec(0, str("middle")),
			sec(10, vec(fn(noLocals, b(0x03, 0x40), chk(1, 1), b(0x0b, 0x0b)), yieldFn(0, 1))),
			sec(0, str("last"), b(0x03, 0x40))),
	},
	{
		name: "custom sections stay last",
		in:   mod(sec(1, vec(typeVoid)), sec(0, str("a")), sec(0, str("b"), b(0x01))),
		out:  mod(sec(1, vec(typeVoid, typeVoid)), globalsAdded, sec(7, vec(flagExport(0))), sec(0, str("a")), sec(0, str("b"), b(0x01))),
	},
	{
		name: "custom sections only",
		in:   mod(sec(0, str("a")), sec(0, str("b"), b(0x01))),
		out:  mod(globalsAdded, sec(7, vec(flagExport(0))), sec(0, str("a")), sec(0, str("b"), b(0x01))),
	},
	{
		// wazero reads a malformed "name" section into the end of the
		// module and accepts it; the added sections must not follow it.
		// Found by FuzzInstrument.
		name: "malformed name section at the end",
		in:   mod(sec(1, vec(typeVoid)), sec(0, str("name"), b(0x00, 0x30, 0x08), []byte("01234567"))),
		out: mod(sec(1, vec(typeVoid, typeVoid)), globalsAdded, sec(7, vec(flagExport(0))),
			sec(0, str("name"), b(0x00, 0x30, 0x08), []byte("01234567"))),
	},
	{
		name: "added sections go before element, data count, code and data",
		in: mod(sec(1, vec(typeVoid)), sec(3, vec(b(0))), sec(4, vec(b(0x70, 0x00, 0x01))),
			sec(9, vec(cat(b(0x00, 0x41, 0x00, 0x0b), vec(b(0x00))))),
			sec(12, u32(1)),
			sec(10, vec(fn(noLocals, loopBody))),
			sec(11, vec(cat(b(0x01), str("data"))))),
		out: mod(sec(1, vec(typeVoid, typeVoid)), sec(3, vec(b(0), b(1))), sec(4, vec(b(0x70, 0x00, 0x01))),
			memoryAdded, globalsAdded, sec(7, vec(flagExport(0))),
			sec(9, vec(cat(b(0x00, 0x41, 0x00, 0x0b), vec(b(0x00))))),
			sec(12, u32(1)),
			sec(10, vec(fn(noLocals, b(0x03, 0x40), chk(1, 1), b(0x0b, 0x0b)), yieldFn(0, 1))),
			sec(11, vec(cat(b(0x01), str("data"))))),
	},
	{
		name: "tag section stays before the added sections",
		in:   mod(sec(1, vec(typeVoid)), sec(3, vec(b(0))), sec(13, vec(b(0x00, 0x00))), sec(10, vec(fn(noLocals, b(0x0b))))),
		out: mod(sec(1, vec(typeVoid, typeVoid)), sec(3, vec(b(0), b(1))), memoryAdded, sec(13, vec(b(0x00, 0x00))),
			globalsAdded, sec(7, vec(flagExport(0))), sec(10, vec(fn(noLocals, b(0x0b)), yieldFn(0, 1)))),
	},
	{
		name: "loop with an i32 result",
		in: mod(sec(1, vec(typeVoidI32)), sec(3, vec(b(0))),
			sec(10, vec(fn(noLocals, b(0x03, 0x7f, 0x41, 0x07, 0x0b, 0x0b))))),
		out: mod(sec(1, vec(typeVoidI32, typeVoid)), sec(3, vec(b(0), b(1))),
			memoryAdded, globalsAdded, sec(7, vec(flagExport(0))),
			sec(10, vec(fn(noLocals, b(0x03, 0x7f), chk(1, 1), b(0x41, 0x07, 0x0b, 0x0b)), yieldFn(0, 1)))),
	},
	{
		name: "loop with a type index block type takes a parameter",
		// (func (param i32) (result i32) local.get 0 loop (type 0) i32.const 1 i32.add end)
		in: mod(sec(1, vec(typeI32I32)), sec(3, vec(b(0))),
			sec(10, vec(fn(noLocals, b(0x20, 0x00, 0x03, 0x00, 0x41, 0x01, 0x6a, 0x0b, 0x0b))))),
		out: mod(sec(1, vec(typeI32I32, typeVoid)), sec(3, vec(b(0), b(1))),
			memoryAdded, globalsAdded, sec(7, vec(flagExport(0))),
			sec(10, vec(fn(noLocals, b(0x20, 0x00, 0x03, 0x00), chk(1, 1), b(0x41, 0x01, 0x6a, 0x0b, 0x0b)), yieldFn(0, 1)))),
	},
	{
		name: "locals and indices of two bytes",
		in: mod(sec(1, vec(typeVoid)), sec(3, vec(b(0))),
			sec(6, cat(u32(200), bytes.Repeat(b(0x7f, 0x00, 0x41, 0x00, 0x0b), 200))),
			sec(10, vec(fn(vec(b(0x02, 0x7f), b(0x01, 0x7e)), loopBody)))),
		out: mod(sec(1, vec(typeVoid, typeVoid)), sec(3, vec(b(0), b(1))), memoryAdded,
			sec(6, cat(u32(202), bytes.Repeat(b(0x7f, 0x00, 0x41, 0x00, 0x0b), 200), flagEntry, budgetEntry)),
			sec(7, vec(flagExport(200))),
			sec(10, vec(fn(vec(b(0x02, 0x7f), b(0x01, 0x7e)), b(0x03, 0x40), chk(201, 1), b(0x0b, 0x0b)), yieldFn(200, 201)))),
	},
}

// TestInstrumentBytes compares the exact output for small modules, and
// checks that wazero accepts input and output.
func TestInstrumentBytes(t *testing.T) {
	for _, tc := range byteCases {
		t.Run(tc.name, func(t *testing.T) {
			r := compilerRuntime(t)
			ctx := context.Background()
			if _, err := r.CompileModule(ctx, tc.in); err != nil {
				t.Fatalf("wazero rejects the input: %v", err)
			}
			got := mustInstrument(t, tc.in)
			if !bytes.Equal(got, tc.out) {
				t.Fatalf("output\n got % x\nwant % x", got, tc.out)
			}
			if _, err := r.CompileModule(ctx, got); err != nil {
				t.Fatalf("wazero rejects the output: %v", err)
			}
		})
	}
}

// TestInstrumentRuns runs small instrumented modules: with the flag at 0
// they compute what the original computes; with the flag at 1, given
// arguments that make them run more than yieldInterval iterations, they
// trap.
func TestInstrumentRuns(t *testing.T) {
	// env exports the globals the "imported globals" module imports.
	env := mod(sec(6, vec(b(0x7f, 0x00, 0x41, 0x2a, 0x0b), b(0x7e, 0x01, 0x42, 0x07, 0x0b))),
		sec(7, vec(cat(str("g1"), b(0x03, 0x00)), cat(str("g2"), b(0x03, 0x01)))))
	for _, tc := range []struct {
		name string
		wasm []byte
		args []uint64
		want uint64
		long []uint64 // arguments for a long run, if any
	}{
		{
			name: "nested loops",
			// (func (param $n i32) (result i32) (local $i i32) (local $j i32) (local $c i32)
			//   loop $outer
			//     i32.const 0  local.set $j
			//     loop $inner
			//       local.get $c  i32.const 1  i32.add  local.set $c
			//       local.get $j  i32.const 1  i32.add  local.tee $j
			//       local.get $n  i32.lt_u  br_if $inner
			//     end
			//     local.get $i  i32.const 1  i32.add  local.tee $i
			//     local.get $n  i32.lt_u  br_if $outer
			//   end
			//   local.get $c)
			wasm: mod(sec(1, vec(typeI32I32)), sec(3, vec(b(0))), sec(7, vec(cat(str("f"), b(0x00, 0x00)))),
				sec(10, vec(fn(vec(b(0x03, 0x7f)),
					b(0x03, 0x40, 0x41, 0x00, 0x21, 0x02,
						0x03, 0x40,
						0x20, 0x03, 0x41, 0x01, 0x6a, 0x21, 0x03,
						0x20, 0x02, 0x41, 0x01, 0x6a, 0x22, 0x02,
						0x20, 0x00, 0x49, 0x0d, 0x00,
						0x0b,
						0x20, 0x01, 0x41, 0x01, 0x6a, 0x22, 0x01,
						0x20, 0x00, 0x49, 0x0d, 0x00,
						0x0b,
						0x20, 0x03, 0x0b))))),
			args: []uint64{7},
			want: 49,
			long: []uint64{1000},
		},
		{
			name: "br_table in a loop",
			// (func (param $n i32) (result i32) (local $s i32)
			//   loop $l
			//     block $b2 block $b1 block $b0
			//       local.get $n  i32.const 3  i32.rem_u
			//       br_table $b0 $b1 $b2
			//     end  local.get $s i32.const 1 i32.add local.set $s  br $b2   ;; n%3 == 0: +1
			//     end  local.get $s i32.const 10 i32.add local.set $s         ;; n%3 == 1: +10
			//     end                                                     ;; n%3 == 2: +0
			//     local.get $n  i32.const 1  i32.sub  local.tee $n
			//     br_if $l
			//   end
			//   local.get $s)
			wasm: mod(sec(1, vec(typeI32I32)), sec(3, vec(b(0))), sec(7, vec(cat(str("f"), b(0x00, 0x00)))),
				sec(10, vec(fn(vec(b(0x01, 0x7f)),
					b(0x03, 0x40,
						0x02, 0x40, 0x02, 0x40, 0x02, 0x40,
						0x20, 0x00, 0x41, 0x03, 0x70,
						0x0e, 0x02, 0x00, 0x01, 0x02,
						0x0b, 0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01, 0x0c, 0x01,
						0x0b, 0x20, 0x01, 0x41, 0x0a, 0x6a, 0x21, 0x01,
						0x0b,
						0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00,
						0x0d, 0x00,
						0x0b,
						0x20, 0x01, 0x0b))))),
			args: []uint64{9}, // 9..1: three of each residue
			want: 33,
			long: []uint64{100_000},
		},
		{
			name: "loop with a type index block type",
			wasm: mod(sec(1, vec(typeI32I32)), sec(3, vec(b(0))), sec(7, vec(cat(str("f"), b(0x00, 0x00)))),
				sec(10, vec(fn(noLocals, b(0x20, 0x00, 0x03, 0x00, 0x41, 0x01, 0x6a, 0x0b, 0x0b))))),
			args: []uint64{41},
			want: 42,
		},
		{
			name: "imported globals",
			// (func (result i64) loop (result i64) global.get $g2 end)
			wasm: mod(sec(1, vec(b(0x60, 0x00, 0x01, 0x7e))),
				sec(2, vec(
					cat(str("env"), str("g1"), b(0x03, 0x7f, 0x00)),
					cat(str("env"), str("g2"), b(0x03, 0x7e, 0x01)),
				)),
				sec(3, vec(b(0))),
				sec(6, vec(b(0x7f, 0x00, 0x23, 0x00, 0x0b))),
				sec(7, vec(cat(str("f"), b(0x00, 0x00)))),
				sec(10, vec(fn(noLocals, b(0x03, 0x7e, 0x23, 0x01, 0x0b, 0x0b))))),
			want: 7,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			r := compilerRuntime(t)
			instantiate(t, r, env, "env")
			orig := instantiate(t, r, tc.wasm, "original")
			inst := instantiate(t, r, mustInstrument(t, tc.wasm), "instrumented")
			for _, m := range []api.Module{orig, inst} {
				res, err := m.ExportedFunction("f").Call(ctx, tc.args...)
				if err != nil {
					t.Fatalf("%s: %v", m.Name(), err)
				}
				if res[0] != tc.want {
					t.Fatalf("%s: got %d, want %d", m.Name(), res[0], tc.want)
				}
			}
			if tc.long == nil {
				return
			}
			setFlag(t, inst, 1)
			if _, err := inst.ExportedFunction("f").Call(ctx, tc.long...); err == nil || !strings.Contains(err.Error(), "unreachable") {
				t.Fatalf("with the flag set: got %v, want an unreachable trap", err)
			}
		})
	}
}

// TestCallTreeStops checks that recursion without loops stops when the
// flag is set: a function calling itself twice, to a depth of 30, makes 2^31
// calls and never reaches a loop.
func TestCallTreeStops(t *testing.T) {
	// (func (export "tree") (param $n i32)
	//   local.get $n
	//   if
	//     local.get $n  i32.const 1  i32.sub  call 0
	//     local.get $n  i32.const 1  i32.sub  call 0
	//   end)
	wasm := mod(sec(1, vec(b(0x60, 0x01, 0x7f, 0x00))), sec(3, vec(b(0))), sec(7, vec(cat(str("tree"), b(0x00, 0x00)))),
		sec(10, vec(fn(noLocals, b(0x20, 0x00, 0x04, 0x40,
			0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x00,
			0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x00,
			0x0b, 0x0b)))))
	m := instantiate(t, compilerRuntime(t), mustInstrument(t, wasm), "tree")
	flag, ok := m.ExportedGlobal(flagName).(api.MutableGlobal)
	if !ok {
		t.Fatalf("%s is not an exported mutable global", flagName)
	}
	setAt := make(chan time.Time, 1)
	timer := time.AfterFunc(100*time.Millisecond, func() {
		now := time.Now()
		flag.Set(1)
		setAt <- now
	})
	defer timer.Stop()
	_, err := m.ExportedFunction("tree").Call(context.Background(), 30)
	returned := time.Now()
	if err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("tree: got %v, want an unreachable trap", err)
	}
	select {
	case set := <-setAt:
		if returned.Before(set) {
			t.Fatal("tree returned before the flag was set")
		}
		if d := returned.Sub(set); d > time.Second {
			t.Fatalf("tree returned %v after the flag was set", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the flag was never set")
	}
}

// richModule is a module in which every kind of index can be 3, the loop
// opcode, so that code can give every index immediate that value: a
// misparse that takes an immediate for an opcode then shows as an extra
// check in the output. It has four types (3 is () -> () like 0), four
// functions (0 runs code then a loop and is exported as "f"; 1 to 3 do
// nothing), four tables, a memory, four tags, four mutable i32 globals,
// five element segments (3 passive, holding function 3; 4 active, putting
// function 3 at index 3 of table 3) and four passive data segments.
func richModule(locals, code []byte) []byte { return rich(locals, code, false, false) }

// richModuleInstrumented is richModule as Instrument should return it;
// entry tells whether function 0 gets an entry check.
func richModuleInstrumented(locals, code []byte, entry bool) []byte {
	return rich(locals, code, true, entry)
}

func rich(locals, code []byte, instrumented, entry bool) []byte {
	global := b(0x7f, 0x01, 0x41, 0x00, 0x0b)
	types := [][]byte{typeVoid, typeI32I32, typeVoidI32, typeVoid}
	funcs := [][]byte{b(0), b(0), b(0), b(3)}
	globals := [][]byte{global, global, global, global}
	exports := [][]byte{cat(str("f"), b(0x00, 0x00))}
	nop := fn(noLocals, b(0x0b))
	bodies := [][]byte{fn(locals, code, b(0x03, 0x40, 0x0b, 0x0b)), nop, nop, nop}
	if instrumented {
		// $yield: type 4, function 4; $flag, $budget: globals 4, 5.
		types = append(types, typeVoid)
		funcs = append(funcs, b(4))
		globals = append(globals, flagEntry, budgetEntry)
		exports = append(exports, flagExport(4))
		var entryCheck []byte
		if entry {
			entryCheck = chk(5, 4)
		}
		bodies[0] = fn(locals, entryCheck, code, b(0x03, 0x40), chk(5, 4), b(0x0b, 0x0b))
		bodies = append(bodies, yieldFn(4, 5))
	}
	table := b(0x70, 0x00, 0x04)
	tag := b(0x00, 0x00)
	data := cat(b(0x01), str("abc"))
	return mod(
		sec(1, vec(types...)),
		sec(3, vec(funcs...)),
		sec(4, vec(table, table, table, table)),
		sec(5, vec(b(0x00, 0x01))),
		sec(13, vec(tag, tag, tag, tag)),
		sec(6, vec(globals...)),
		sec(7, vec(exports...)),
		sec(9, vec(
			cat(b(0x00, 0x41, 0x00, 0x0b), vec(b(0x01))),             // active: table 0[0] = function 1
			cat(b(0x01, 0x00), vec(b(0x01))),                         // passive
			cat(b(0x03, 0x00), vec(b(0x03))),                         // declarative, for ref.func
			cat(b(0x01, 0x00), vec(b(0x03))),                         // passive
			cat(b(0x02, 0x03, 0x41, 0x03, 0x0b, 0x00), vec(b(0x03))), // active: table 3[3] = function 3
		)),
		sec(12, u32(4)),
		sec(10, vec(bodies...)),
		sec(11, vec(data, data, data, data)),
	)
}

// v128 is a v128.const whose bytes hold loop opcodes and block types, so a
// misparse would show as extra checks.
var v128 = cat(b(0xfd, 0x0c), bytes.Repeat(b(0x03, 0x40), 8))

// locals4 declares four i32 locals.
var locals4 = vec(b(0x04, 0x7f))

// instructionCases is code for richModule with locals4 that leaves the
// stack as it found it, covering every kind of immediate. The immediates
// are 3 (the loop opcode) wherever they may be, and others hold 0x03 0x40
// (loop, empty block type), so that a misparse shows in the output.
var instructionCases = []struct {
	name string
	code []byte
}{
	{"nop", b(0x01)},
	{"block", b(0x02, 0x40, 0x0b)},
	{"block i32", b(0x02, 0x7f, 0x41, 0x03, 0x0b, 0x1a)},
	{"block type index", b(0x02, 0x02, 0x41, 0x03, 0x0b, 0x1a)},
	{"block type index 3", b(0x02, 0x03, 0x0b)},
	{"if else", b(0x41, 0x01, 0x04, 0x40, 0x01, 0x05, 0x01, 0x0b)},
	{"if i32", b(0x41, 0x00, 0x04, 0x7f, 0x41, 0x03, 0x05, 0x41, 0x40, 0x0b, 0x1a)},
	{"br", b(0x02, 0x40, 0x02, 0x40, 0x02, 0x40, 0x02, 0x40, 0x0c, 0x03, 0x0b, 0x0b, 0x0b, 0x0b)},
	{"br_if", b(0x02, 0x40, 0x02, 0x40, 0x02, 0x40, 0x02, 0x40, 0x41, 0x03, 0x0d, 0x03, 0x0b, 0x0b, 0x0b, 0x0b)},
	{"br_table", b(0x02, 0x40, 0x02, 0x40, 0x02, 0x40, 0x02, 0x40, 0x41, 0x03, 0x0e, 0x03, 0x03, 0x01, 0x03, 0x03, 0x0b, 0x0b, 0x0b, 0x0b)},
	{"br_table overlong labels", b(0x02, 0x40, 0x41, 0x03, 0x0e, 0x01, 0x80, 0x00, 0x80, 0x80, 0x00, 0x0b)},
	{"return", b(0x0f)},
	{"call", b(0x10, 0x03)},
	{"call_indirect", b(0x41, 0x03, 0x11, 0x03, 0x03)},
	{"return_call", b(0x12, 0x03)},
	{"return_call_indirect", b(0x41, 0x03, 0x13, 0x03, 0x03)},
	{"drop select", b(0x41, 0x03, 0x41, 0x40, 0x41, 0x00, 0x1b, 0x1a)},
	{"typed select", b(0x41, 0x03, 0x41, 0x40, 0x41, 0x00, 0x1c, 0x01, 0x7f, 0x1a)},
	{"local.get set tee", b(0x20, 0x03, 0x21, 0x03, 0x20, 0x03, 0x22, 0x03, 0x1a)},
	{"global.get set", b(0x23, 0x03, 0x24, 0x03)},
	{"table.get set", b(0x41, 0x01, 0x41, 0x03, 0x25, 0x03, 0x26, 0x03)},
	{"i32.load", b(0x41, 0x00, 0x28, 0x02, 0x03, 0x1a)},
	{"i64.load offset 0x4003", b(0x41, 0x00, 0x29, 0x03, 0x83, 0x80, 0x01, 0x1a)},
	{"f32.load", b(0x41, 0x00, 0x2a, 0x02, 0x03, 0x1a)},
	{"f64.load", b(0x41, 0x00, 0x2b, 0x03, 0x03, 0x1a)},
	{"i32.load8_s", b(0x41, 0x00, 0x2c, 0x00, 0x03, 0x1a)},
	{"i32.load8_u", b(0x41, 0x00, 0x2d, 0x00, 0x03, 0x1a)},
	{"i32.load16_s", b(0x41, 0x00, 0x2e, 0x01, 0x03, 0x1a)},
	{"i32.load16_u", b(0x41, 0x00, 0x2f, 0x01, 0x03, 0x1a)},
	{"i64.load8_s", b(0x41, 0x00, 0x30, 0x00, 0x03, 0x1a)},
	{"i64.load8_u", b(0x41, 0x00, 0x31, 0x00, 0x03, 0x1a)},
	{"i64.load16_s", b(0x41, 0x00, 0x32, 0x01, 0x03, 0x1a)},
	{"i64.load16_u", b(0x41, 0x00, 0x33, 0x01, 0x03, 0x1a)},
	{"i64.load32_s", b(0x41, 0x00, 0x34, 0x02, 0x03, 0x1a)},
	{"i64.load32_u", b(0x41, 0x00, 0x35, 0x02, 0x03, 0x1a)},
	{"i32.store", b(0x41, 0x00, 0x41, 0x03, 0x36, 0x02, 0x03)},
	{"i64.store", b(0x41, 0x00, 0x42, 0x03, 0x37, 0x03, 0x03)},
	{"f32.store", b(0x41, 0x00, 0x43, 0x03, 0x40, 0x03, 0x40, 0x38, 0x02, 0x03)},
	{"f64.store", b(0x41, 0x00, 0x44, 0x03, 0x40, 0x03, 0x40, 0x03, 0x40, 0x03, 0x40, 0x39, 0x03, 0x03)},
	{"i32.store8", b(0x41, 0x00, 0x41, 0x03, 0x3a, 0x00, 0x03)},
	{"i32.store16", b(0x41, 0x00, 0x41, 0x03, 0x3b, 0x01, 0x03)},
	{"i64.store8", b(0x41, 0x00, 0x42, 0x03, 0x3c, 0x00, 0x03)},
	{"i64.store16", b(0x41, 0x00, 0x42, 0x03, 0x3d, 0x01, 0x03)},
	{"i64.store32", b(0x41, 0x00, 0x42, 0x03, 0x3e, 0x02, 0x03)},
	{"memory.size grow", b(0x3f, 0x00, 0x40, 0x00, 0x1a)},
	{"i32.const min", b(0x41, 0x80, 0x80, 0x80, 0x80, 0x78, 0x1a)},
	{"i32.const -1 overlong", b(0x41, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x1a)},
	{"i64.const min", b(0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f, 0x1a)},
	{"i64.const 0x40", b(0x42, 0xc0, 0x00, 0x1a)},
	{"numeric", b(0x41, 0x03, 0x41, 0x40, 0x6a, 0x45, 0x67, 0xad, 0xb4, 0xbb, 0xbd, 0xa7, 0x1a)},
	{"sign extension", b(0x41, 0x03, 0xc0, 0xc1, 0x1a, 0x42, 0x03, 0xc2, 0xc3, 0xc4, 0x1a)},
	{"ref.null is_null", b(0xd0, 0x70, 0xd1, 0x1a, 0xd0, 0x6f, 0x1a)},
	{"ref.func", b(0xd2, 0x03, 0x1a)},
	{"trunc_sat", b(
		0x43, 0, 0, 0, 0, 0xfc, 0x00, 0x1a, 0x43, 0, 0, 0, 0, 0xfc, 0x01, 0x1a,
		0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0xfc, 0x02, 0x1a, 0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0xfc, 0x03, 0x1a,
		0x43, 0, 0, 0, 0, 0xfc, 0x04, 0x1a, 0x43, 0, 0, 0, 0, 0xfc, 0x05, 0x1a,
		0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0xfc, 0x06, 0x1a, 0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0xfc, 0x07, 0x1a)},
	{"memory.init data.drop", b(0x41, 0x00, 0x41, 0x00, 0x41, 0x03, 0xfc, 0x08, 0x03, 0x00, 0xfc, 0x09, 0x03)},
	{"memory.copy fill", b(0x41, 0x03, 0x41, 0x00, 0x41, 0x03, 0xfc, 0x0a, 0x00, 0x00, 0x41, 0x00, 0x41, 0x03, 0x41, 0x03, 0xfc, 0x0b, 0x00)},
	{"table.init elem.drop", b(0x41, 0x00, 0x41, 0x00, 0x41, 0x01, 0xfc, 0x0c, 0x03, 0x03, 0xfc, 0x0d, 0x03)},
	{"table.copy", b(0x41, 0x01, 0x41, 0x03, 0x41, 0x01, 0xfc, 0x0e, 0x03, 0x03)},
	{"table.grow size fill", b(0xd0, 0x70, 0x41, 0x03, 0xfc, 0x0f, 0x03, 0x1a, 0xfc, 0x10, 0x03, 0x1a, 0x41, 0x00, 0xd0, 0x70, 0x41, 0x01, 0xfc, 0x11, 0x03)},
	{"misc sub-opcode overlong", b(0xfc, 0x89, 0x00, 0x03)}, // data.drop 3
	{"v128.const", cat(v128, b(0x1a))},
	{"i8x16.shuffle", cat(v128, v128, b(0xfd, 0x0d), bytes.Repeat(b(0x03, 0x1f), 8), b(0x1a))},
	{"v128.load", b(0x41, 0x00, 0xfd, 0x00, 0x03, 0x03, 0x1a)},
	{"v128.load8x8_s to load64_splat", cat(
		b(0x41, 0x00, 0xfd, 0x01, 0x03, 0x03, 0x1a), b(0x41, 0x00, 0xfd, 0x02, 0x03, 0x03, 0x1a),
		b(0x41, 0x00, 0xfd, 0x03, 0x03, 0x03, 0x1a), b(0x41, 0x00, 0xfd, 0x04, 0x03, 0x03, 0x1a),
		b(0x41, 0x00, 0xfd, 0x05, 0x03, 0x03, 0x1a), b(0x41, 0x00, 0xfd, 0x06, 0x03, 0x03, 0x1a),
		b(0x41, 0x00, 0xfd, 0x07, 0x00, 0x03, 0x1a), b(0x41, 0x00, 0xfd, 0x08, 0x01, 0x03, 0x1a),
		b(0x41, 0x00, 0xfd, 0x09, 0x02, 0x03, 0x1a), b(0x41, 0x00, 0xfd, 0x0a, 0x03, 0x03, 0x1a))},
	{"v128.store", cat(b(0x41, 0x00), v128, b(0xfd, 0x0b, 0x03, 0x03))},
	{"swizzle splat", cat(v128, v128, b(0xfd, 0x0e, 0x1a, 0x41, 0x03, 0xfd, 0x0f, 0x1a, 0x42, 0x03, 0xfd, 0x12, 0x1a))},
	{"extract and replace lane", cat(
		v128, b(0xfd, 0x15, 0x03, 0x1a), v128, b(0xfd, 0x16, 0x0f, 0x1a),
		v128, b(0x41, 0x03, 0xfd, 0x17, 0x03, 0x1a), v128, b(0xfd, 0x18, 0x03, 0x1a),
		v128, b(0xfd, 0x1b, 0x03, 0x1a), v128, b(0x42, 0x03, 0xfd, 0x1e, 0x01, 0x1a),
		v128, b(0xfd, 0x21, 0x01, 0x1a), v128, b(0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0xfd, 0x22, 0x01, 0x1a))},
	{"load and store lane", cat(
		b(0x41, 0x00), v128, b(0xfd, 0x54, 0x00, 0x03, 0x03, 0x1a),
		b(0x41, 0x00), v128, b(0xfd, 0x57, 0x03, 0x03, 0x01, 0x1a),
		b(0x41, 0x00), v128, b(0xfd, 0x58, 0x00, 0x03, 0x03),
		b(0x41, 0x00), v128, b(0xfd, 0x5b, 0x03, 0x03, 0x01))},
	{"load zero", b(0x41, 0x00, 0xfd, 0x5c, 0x02, 0x03, 0x1a, 0x41, 0x00, 0xfd, 0x5d, 0x03, 0x03, 0x1a)},
	{"vector ops without immediates", cat(
		v128, b(0xfd, 0x53, 0x1a), // v128.any_true
		v128, b(0xfd, 0x5f, 0x1a), // f64x2.promote_low_f32x4
		v128, b(0xfd, 0x63, 0x1a), // i8x16.all_true
		v128, b(0xfd, 0x7f, 0x1a), // i32x4.extadd_pairwise_i16x8_u
		v128, b(0xfd, 0x80, 0x01, 0x1a), // i16x8.abs
		v128, v128, b(0xfd, 0xb5, 0x01, 0x1a), // i32x4.mul
		v128, b(0xfd, 0xff, 0x01, 0x1a), // f64x2.convert_low_i32x4_u
	)},
	{"try_table catch_all", b(0x02, 0x40, 0x1f, 0x40, 0x01, 0x02, 0x00, 0x08, 0x03, 0x0b, 0x0b)},
	{"try_table catch", b(0x02, 0x40, 0x1f, 0x40, 0x01, 0x00, 0x03, 0x00, 0x08, 0x03, 0x0b, 0x0b)},
	{"try_table catch label 3", b(
		0x02, 0x40, 0x02, 0x40, 0x02, 0x40, 0x02, 0x40,
		0x1f, 0x40, 0x02, 0x00, 0x03, 0x03, 0x02, 0x03, 0x08, 0x03, 0x0b,
		0x0b, 0x0b, 0x0b, 0x0b)},
	{"try_table catch_ref throw_ref", b(
		0x02, 0x40, 0x1f, 0x40, 0x01, 0x02, 0x00, // block, try_table (catch_all 0)
		0x02, 0x69, 0x1f, 0x40, 0x02, 0x01, 0x03, 0x00, 0x03, 0x00, // block (result exnref), try_table (catch_ref 3 0) (catch_all_ref 0)
		0x08, 0x03, 0x0b, 0x00, 0x0b, // throw 3, end, unreachable, end
		0x0a, 0x0b, 0x0b)}, // throw_ref, end, end
}

// TestInstructions checks, for code covering every kind of immediate, the
// exact output, that wazero accepts it, and that it runs.
func TestInstructions(t *testing.T) {
	ctx := context.Background()
	r := compilerRuntime(t)
	for _, tc := range instructionCases {
		t.Run(tc.name, func(t *testing.T) {
			// The cases with calls, and the exception handling ones (which
			// throw), need an entry check.
			entry := strings.Contains(tc.name, "call") || strings.HasPrefix(tc.name, "try_table")
			in := richModule(locals4, tc.code)
			want := richModuleInstrumented(locals4, tc.code, entry)
			orig := instantiate(t, r, in, "")
			got := mustInstrument(t, in)
			if !bytes.Equal(got, want) {
				t.Fatalf("output\n got % x\nwant % x", got, want)
			}
			inst := instantiate(t, r, got, "")
			for _, m := range []api.Module{orig, inst} {
				if _, err := m.ExportedFunction("f").Call(ctx); err != nil {
					t.Fatalf("call: %v", err)
				}
			}
		})
	}
}

// TestUnsupported checks that code the instrumenter does not parse is
// refused with ErrUnsupported naming it.
func TestUnsupported(t *testing.T) {
	for _, tc := range []struct {
		name   string
		locals []byte
		code   []byte
		msg    string
	}{
		{"threads prefix", nil, b(0x41, 0x00, 0xfe, 0x10, 0x02, 0x00, 0x1a), "opcode 0xfe (threads prefix)"},
		{"GC prefix", nil, b(0xfb, 0x00, 0x00), "opcode 0xfb (GC prefix)"},
		{"legacy try", nil, b(0x06, 0x40, 0x0b), "opcode 0x06 (legacy exception handling try)"},
		{"call_ref", nil, b(0x14, 0x00), "opcode 0x14 (call_ref)"},
		{"unknown opcode", nil, b(0x27), "unknown opcode 0x27"},
		{"unassigned vector opcode", nil, b(0xfd, 0x9a, 0x01), "opcode 0xfd 154"},
		{"relaxed SIMD", nil, b(0xfd, 0x80, 0x02), "opcode 0xfd 256"},
		{"overlong vector opcode", nil, b(0xfd, 0x80, 0x00, 0x00, 0x00), "opcode 0xfd 0 encoded as 0x8000"},
		{"overlong vector opcode 0x80", nil, b(0xfd, 0x80, 0x81, 0x00), "opcode 0xfd 128 encoded as 0x808100"},
		{"unknown misc opcode", nil, b(0xfc, 0x12, 0x00), "opcode 0xfc 18"},
		{"multi-memory memarg", nil, b(0x41, 0x00, 0x28, 0x42, 0x01, 0x00, 0x1a), "multi-memory"},
		{"multi-memory memory.size", nil, b(0x3f, 0x01, 0x1a), "multi-memory"},
		{"multi-memory memory.fill", nil, b(0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x0b, 0x01), "multi-memory"},
		{"typed select with two types", nil, b(0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0x1c, 0x02, 0x7f, 0x7f, 0x1a), "typed select"},
		{"typed reference local", vec(b(0x01, 0x63, 0x70)), nil, "value type 0x63"},
		{"typed reference block type", nil, b(0x02, 0x63, 0x70, 0xd0, 0x70, 0x0b, 0x1a), "block type 0x63"},
		{"overlong empty block type", nil, b(0x02, 0xc0, 0x7f, 0x0b), "block type 0xc07f"},
		{"ref.null of a type index", nil, b(0xd0, 0x00, 0x1a), "ref.null"},
		{"unknown catch kind", nil, b(0x1f, 0x40, 0x01, 0x04, 0x00, 0x0b), "catch kind 0x4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			locals := tc.locals
			if locals == nil {
				locals = noLocals
			}
			_, err := Instrument(richModule(locals, tc.code), flagName)
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("got %v, want ErrUnsupported", err)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "code section: function 0") {
				t.Fatalf("error %q does not name %q and the function", err, tc.msg)
			}
		})
	}
}

func TestUnsupportedModule(t *testing.T) {
	for _, tc := range []struct {
		name string
		wasm []byte
		msg  string
	}{
		{
			name: "name already exported",
			wasm: mod(sec(1, vec(typeVoid)), sec(3, vec(b(0))), sec(7, vec(cat(str(flagName), b(0x00, 0x00)))),
				sec(10, vec(fn(noLocals, b(0x0b))))),
			msg: `already exports "cogs_deadline"`,
		},
		{
			name: "memory64 import",
			wasm: mod(sec(2, vec(cat(str("env"), str("m"), b(0x02, 0x04, 0x01))))),
			msg:  "limits flags 0x4",
		},
		{
			name: "typed reference global import",
			wasm: mod(sec(2, vec(cat(str("env"), str("g"), b(0x03, 0x63, 0x70, 0x00))))),
			msg:  "global type 0x63",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Instrument(tc.wasm, flagName)
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want ErrUnsupported naming %q", err, tc.msg)
			}
		})
	}
}

// TestMalformed checks that broken binaries return ErrMalformed.
func TestMalformed(t *testing.T) {
	valid := mod(sec(1, vec(typeVoid)), sec(3, vec(b(0))), sec(10, vec(fn(noLocals, b(0x03, 0x40, 0x0b, 0x0b)))))
	code := func(body ...byte) []byte {
		return mod(sec(1, vec(typeVoid)), sec(3, vec(b(0))), sec(10, vec(fn(noLocals, body))))
	}
	for _, tc := range []struct {
		name string
		wasm []byte
		msg  string
	}{
		{"empty", nil, "bad magic"},
		{"bad magic", cat(b(0x00, 'a', 's', 'n', 1, 0, 0, 0)), "bad magic"},
		{"version 2", cat(b(0x00, 'a', 's', 'm', 2, 0, 0, 0)), "bad magic or version"},
		{"component", cat(b(0x00, 'a', 's', 'm', 0x0d, 0x00, 0x01, 0x00)), "bad magic or version"},
		{"section size past the end", cat(header, b(0x01, 0x10, 0x00)), "type section: malformed: unexpected end"},
		{"section size overflows", cat(header, b(0x01, 0xff, 0xff, 0xff, 0xff, 0x7f)), "u32 LEB128 overflows"},
		{"section size too long", cat(header, b(0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00)), "u32 LEB128 overflows"},
		{"unknown section", cat(header, b(0x0e, 0x00)), "unknown section id 14"},
		{"duplicate section", mod(sec(1, vec()), sec(1, vec())), "duplicate or out of order"},
		{"out of order", mod(sec(3, vec()), sec(1, vec())), "duplicate or out of order"},
		{"data count after code", mod(sec(10, vec()), sec(12, u32(0))), "duplicate or out of order"},
		{"tag after global", mod(sec(6, vec()), sec(13, vec())), "duplicate or out of order"},
		{"import section trailing bytes", mod(sec(2, vec(), b(0x00))), "1 bytes after the last import"},
		{"import truncated", mod(sec(2, u32(1), str("env"))), "import 0: malformed: unexpected end"},
		{"export section trailing bytes", mod(sec(7, vec(), b(0x00))), "1 bytes after the last export"},
		{"code section trailing bytes", mod(sec(10, vec(), b(0x00))), "1 bytes after the last function body"},
		{"body size past the section", mod(sec(1, vec(typeVoid)), sec(3, vec(b(0))), sec(10, u32(1), u32(10), b(0x00, 0x0b))), "function 0: malformed: unexpected end"},
		{"code without functions", mod(sec(10, vec(fn(noLocals, b(0x0b))))), "code without a function section"},
		{"functions without types", mod(sec(3, vec(b(0)))), "functions without a type section"},
		{"no end", code(0x01), "malformed: unexpected end"},
		{"unclosed loop", code(0x03, 0x40, 0x0b), "malformed: unexpected end"},
		{"code after the end", code(0x0b, 0x01), "1 bytes after the function's end"},
		{"truncated i32.const", code(0x41, 0x80), "malformed: unexpected end"},
		{"i32.const overflows", code(0x41, 0x80, 0x80, 0x80, 0x80, 0x70, 0x1a, 0x0b), "s32 LEB128 overflows"},
		{"i32.const too long", code(0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x1a, 0x0b), "s32 LEB128 overflows"},
		{"i64.const overflows", code(0x42, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0x1a, 0x0b), "s64 LEB128 overflows"},
		{"block type overflows", code(0x02, 0x80, 0x80, 0x80, 0x80, 0x10, 0x0b, 0x0b), "s33 LEB128 overflows"},
		{"local index too long", code(0x20, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x1a, 0x0b), "u32 LEB128 overflows"},
		{"truncated f64.const", code(0x44, 0x00, 0x00, 0x0b), "malformed: unexpected end"},
		{"truncated v128.const", code(0xfd, 0x0c, 0x00, 0x0b), "malformed: unexpected end"},
		{"truncated br_table", code(0x0e, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x0b), "malformed: unexpected end"},
		{"truncated try_table", code(0x1f, 0x40, 0x05, 0x02, 0x00, 0x02, 0x00), "malformed: unexpected end"},
		{"global mutability", mod(sec(2, vec(cat(str("env"), str("g"), b(0x03, 0x7f, 0x02))))), "global mutability 0x2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Instrument(tc.wasm, flagName)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want ErrMalformed naming %q", err, tc.msg)
			}
		})
	}

	// Every truncation of a valid module either fails or, cut at a section
	// boundary, is itself a module that instruments.
	for _, wasm := range [][]byte{valid, richModule(noLocals, instructionCases[len(instructionCases)-1].code)} {
		for n := range wasm {
			if _, err := Instrument(wasm[:n], flagName); err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("truncated to %d bytes: got %v, want nil or ErrMalformed", n, err)
			}
		}
	}
}

func TestExportName(t *testing.T) {
	if _, err := Instrument(mod(), "\xff"); err == nil {
		t.Fatal("invalid UTF-8 export name accepted")
	}
}

// TestInstrumentDoesNotModifyInput guards against appending into the input.
func TestInstrumentDoesNotModifyInput(t *testing.T) {
	in := richModule(noLocals, instructionCases[0].code)
	keep := bytes.Clone(in)
	mustInstrument(t, in[:len(in):len(in)])
	mustInstrument(t, in)
	if !bytes.Equal(in, keep) {
		t.Fatal("input modified")
	}
}
