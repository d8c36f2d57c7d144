// Package instrument rewrites a WebAssembly module so that the host can
// stop a call at its deadline cheaply.
//
// wazero's WithCloseOnContextDone checks for cancellation by leaving the
// compiled code for Go at every loop header. Standard Go (GOOS=wasip1)
// wraps every function in a loop for its resume-point dispatch, so that
// check makes Go-built recipes several times slower. Instead, Instrument
// adds to the module two mutable i32 globals, $flag (exported under a name
// the host chooses) and $budget, and one function, $yield, and inserts at
// the start of every loop body, and of every function body that calls a
// function, a countdown:
//
//	global.get $budget  i32.const 1  i32.sub  global.set $budget
//	global.get $budget  i32.eqz
//	if  call $yield  end
//
// Every yieldInterval checks, $yield resets the budget, leaves the compiled
// code for Go and back (memory.grow 0), and traps with unreachable if $flag
// is non-zero:
//
//	(func $yield
//	  i32.const yieldInterval  global.set $budget
//	  i32.const 0  memory.grow  drop
//	  global.get $flag  if  unreachable  end)
//
// The host keeps $flag at 0 and sets it to 1 (api.MutableGlobal.Set) from
// another goroutine when the call's deadline passes; the guest then traps
// within yieldInterval loop iterations or calls, and the host reports a
// timeout (telling it from a genuine unreachable by the flag's value).
// wazero compiles a global.get at a loop header or function entry to a load
// from the instance, so the guest sees the budget it stored on the last
// iteration and the flag the host stored.
//
// Leaving the compiled code is what makes the scheme work at all. Go cannot
// preempt a goroutine while it runs wazero's compiled code, so a guest that
// never leaves it holds up every stop-the-world of the garbage collector,
// which stops every other goroutine meanwhile, the one that would set the
// flag included: without the exits, a runaway guest hangs the process.
//
// The check at function entry closes the gap a loop-only check (wazero's
// too) leaves: recursion that branches (a call tree) runs for an
// exponential time without any loop. Functions that call none, such as
// small helpers, need no entry check, and they are the ones called most
// often (see needsEntryCheck).
//
// The check leaves the operand stack as it found it and closes its own
// block, so branch depths and block parameters stay valid, and everything
// added is appended to its index space (types, functions, globals; a
// memory only if the module has none), so no existing index changes.
//
// Instrument parses every instruction it passes, and refuses (with
// ErrUnsupported) any instruction, encoding or section layout it does not
// know exactly, since skipping an immediate wrongly could hide a loop from
// it. Refusing is always safe: on any error the caller runs the module as
// it is, under wazero's own mechanism.
//
// Supported: WebAssembly 2.0 (MVP, sign extension, non-trapping float to
// int, multi-value, bulk memory, reference types, fixed-width SIMD), tail
// calls, and exception handling with try_table. Not supported: threads
// (0xFE), GC (0xFB), typed function references, legacy exception handling
// (try, catch, rethrow, delegate), relaxed SIMD, multi-memory, memory64.
//
// Code offsets move, so DWARF custom sections, which are copied unchanged,
// no longer match the code; wazero uses them only for source positions in
// stack traces. Standard Go emits none.
package instrument

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"
)

var (
	// ErrUnsupported: the module uses an instruction, an encoding or a
	// section layout that the instrumenter does not parse, or already
	// exports the name asked for. The module may well be valid; the caller
	// should run it uninstrumented under wazero's own cancellation.
	ErrUnsupported = errors.New("unsupported")
	// ErrMalformed: the bytes are not a well-formed WebAssembly binary
	// (truncated, sizes that disagree with the contents, sections out of
	// order, an overlong LEB128 number, ...). wazero rejects such a module
	// too, save for a few encodings it is lenient about; compiling the
	// module uninstrumented gives wazero's own diagnosis.
	ErrMalformed = errors.New("malformed")
)

// yieldInterval is the number of checks between two calls of $yield: the
// most loop iterations (or calls) between the host setting the flag and
// the guest trapping, and between two chances for the Go runtime to stop
// the guest's goroutine. A yield costs about as much as a hundred checks.
const yieldInterval = 1 << 14

// Section ids of the binary format.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// sectionOrder is each known non-custom section's position in the order the
// spec requires; 0 marks an unknown id.
var sectionOrder = [...]int{
	secType:      1,
	secImport:    2,
	secFunction:  3,
	secTable:     4,
	secMemory:    5,
	secTag:       6,
	secGlobal:    7,
	secExport:    8,
	secStart:     9,
	secElement:   10,
	secDataCount: 11,
	secCode:      12,
	secData:      13,
}

var sectionNames = [...]string{
	secCustom:    "custom",
	secType:      "type",
	secImport:    "import",
	secFunction:  "function",
	secTable:     "table",
	secMemory:    "memory",
	secGlobal:    "global",
	secExport:    "export",
	secStart:     "start",
	secElement:   "element",
	secCode:      "code",
	secData:      "data",
	secDataCount: "data count",
	secTag:       "tag",
}

var header = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// Entries the rewrite appends.
var (
	yieldType    = []byte{0x60, 0x00, 0x00}             // func () -> ()
	flagGlobal   = []byte{0x7f, 0x01, 0x41, 0x00, 0x0b} // (mut i32) (i32.const 0)
	budgetGlobal = slices.Concat(                       // (mut i32) (i32.const yieldInterval)
		[]byte{0x7f, 0x01, 0x41}, appendS32(nil, yieldInterval), []byte{0x0b})
	addedMemory = []byte{0x00, 0x00} // no maximum, 0 pages
)

// Instrument returns a copy of the WebAssembly binary module wasm with an
// added mutable i32 global, initialised to 0 and exported as exportName,
// and checks that make the code trap (unreachable) soon after the global
// becomes non-zero: within yieldInterval loop iterations or calls. The
// checks also let the Go runtime stop the goroutine running the code at
// the same interval.
//
// The error wraps ErrUnsupported when the module cannot be instrumented
// safely (an unknown instruction or encoding, or exportName already
// exported), and ErrMalformed when wasm is not a well-formed binary; in
// both cases the message names the section, function and opcode.
func Instrument(wasm []byte, exportName string) ([]byte, error) {
	return instrument(wasm, exportName, true)
}

// instrument is Instrument; entryChecks false leaves function entries
// unchecked (loops only), for measuring what the entry check costs.
func instrument(wasm []byte, exportName string, entryChecks bool) ([]byte, error) {
	if !utf8.ValidString(exportName) {
		return nil, fmt.Errorf("instrument: export name %q is not valid UTF-8", exportName)
	}
	if len(wasm) < len(header) || !bytes.Equal(wasm[:len(header)], header) {
		return nil, fmt.Errorf("instrument: %w: not a WebAssembly 1.0 binary (bad magic or version)", ErrMalformed)
	}
	m := module{
		exportName:  exportName,
		entryChecks: entryChecks,
		out:         make([]byte, 0, len(wasm)+len(wasm)/8+128),
	}
	m.out = append(m.out, header...)
	if err := m.sections(wasm); err != nil {
		return nil, fmt.Errorf("instrument: %w", err)
	}
	return m.out, nil
}

// module is the state of one rewrite.
type module struct {
	exportName  string
	entryChecks bool
	out         []byte

	importedFuncs   uint32
	importedGlobals uint32
	hasTypes        bool   // the type section has been read
	yieldType       uint32 // index of the added type
	yield           uint32 // index of the added function $yield
	hasYield        bool   // the module defines functions, and $yield
	hasMemory       bool   // the module has a memory, or one was added
	flag, budget    uint32 // indices of the added globals
	globalDone      bool   // the added globals have been written
	exportDone      bool   // the flag's export has been written
}

// sections copies wasm's sections after the header to m.out, rewriting
// those that get entries (type, function, memory, global, export, code)
// and adding those missing (memory, global, export).
//
// Custom sections keep their place among the others, and an added section
// goes before the custom sections that precede the next section (or the
// end), so that every custom section is followed by the same section as in
// the input. This matters: wazero's reader of the "name" section may read
// past its end, and accepts a malformed one that runs into the end of the
// module.
func (m *module) sections(wasm []byte) error {
	r := reader{b: wasm, off: len(header)}
	lastOrder := 0
	customs := -1 // offset of the custom sections not yet copied, all adjacent
	for !r.done() {
		start := r.off
		id, err := r.byte()
		if err != nil {
			return err
		}
		name := "unknown"
		if int(id) < len(sectionNames) {
			name = sectionNames[id]
		}
		size, err := r.u32()
		if err != nil {
			return fmt.Errorf("%s section: size: %w", name, err)
		}
		body, err := r.bytes(size)
		if err != nil {
			return fmt.Errorf("%s section: %w", name, err)
		}
		if id == secCustom {
			if customs < 0 {
				customs = start
			}
			continue
		}
		if int(id) >= len(sectionOrder) || sectionOrder[id] == 0 {
			return fmt.Errorf("%w: unknown section id %d", ErrMalformed, id)
		}
		order := sectionOrder[id]
		if order <= lastOrder {
			return fmt.Errorf("%s section: %w: duplicate or out of order", name, ErrMalformed)
		}
		lastOrder = order
		if err := m.addMissing(order); err != nil {
			return err
		}
		if customs >= 0 {
			m.out = append(m.out, wasm[customs:start]...)
			customs = -1
		}

		switch id {
		case secType:
			err = m.types(body)
		case secImport:
			if err = m.imports(body); err == nil {
				m.out = append(m.out, wasm[start:r.off]...)
			}
		case secFunction:
			err = m.functions(body)
		case secMemory:
			err = m.memories(body)
		case secGlobal:
			err = m.globals(body)
		case secExport:
			err = m.exports(body)
		case secCode:
			err = m.code(body, r.off-len(body))
		case secStart:
			// A start function runs inside instantiation, before the host
			// can reach the interrupt flag: only wazero's own context
			// checks can stop it.
			err = fmt.Errorf("%w: a start function cannot be interrupted through the flag", ErrUnsupported)
		default:
			m.out = append(m.out, wasm[start:r.off]...)
		}
		if err != nil {
			return fmt.Errorf("%s section: %w", name, err)
		}
	}
	if err := m.addMissing(math.MaxInt); err != nil {
		return err
	}
	if customs >= 0 {
		m.out = append(m.out, wasm[customs:]...)
	}
	return nil
}

// addMissing writes the sections that the module lacks and that must come
// before the next section, of position order: a memory section if the
// module has functions and no memory, and the global and export sections.
func (m *module) addMissing(order int) error {
	if m.hasYield && !m.hasMemory && order > sectionOrder[secMemory] {
		if err := m.memories([]byte{0}); err != nil {
			return fmt.Errorf("added memory section: %w", err)
		}
	}
	if !m.globalDone && order > sectionOrder[secGlobal] {
		if err := m.globals([]byte{0}); err != nil {
			return fmt.Errorf("added global section: %w", err)
		}
	}
	if !m.exportDone && order > sectionOrder[secExport] {
		if err := m.exports([]byte{0}); err != nil {
			return fmt.Errorf("added export section: %w", err)
		}
	}
	return nil
}

// extend writes section id, whose contents are body, a vector, with items
// appended to the vector, and returns the vector's original length. The
// existing items are copied unparsed: a count that disagrees with them
// fails validation of the output as it does of the input.
func (m *module) extend(id byte, body []byte, items ...[]byte) (uint32, error) {
	r := reader{b: body}
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	if uint64(n)+uint64(len(items)) > math.MaxUint32 {
		return 0, fmt.Errorf("%w: too many entries", ErrUnsupported)
	}
	return n, m.appendSection(id, appendU32(nil, n+uint32(len(items))), body[r.off:], bytes.Join(items, nil))
}

// appendSection appends a section with the given id and contents.
func (m *module) appendSection(id byte, contents ...[]byte) error {
	n := 0
	for _, c := range contents {
		n += len(c)
	}
	if n > math.MaxUint32 {
		return fmt.Errorf("%w: section grows past 4 GiB", ErrUnsupported)
	}
	m.out = append(m.out, id)
	m.out = appendU32(m.out, uint32(n))
	for _, c := range contents {
		m.out = append(m.out, c...)
	}
	return nil
}

// types writes the type section with $yield's type appended.
func (m *module) types(body []byte) error {
	n, err := m.extend(secType, body, yieldType)
	m.yieldType, m.hasTypes = n, true
	return err
}

// functions writes the function section with $yield appended, if the
// module defines functions (if not, there is no code to check).
func (m *module) functions(body []byte) error {
	r := reader{b: body}
	n, err := r.u32()
	if err != nil {
		return err
	}
	if n == 0 {
		return m.appendSection(secFunction, body)
	}
	if !m.hasTypes {
		return fmt.Errorf("%w: functions without a type section", ErrMalformed)
	}
	if uint64(m.importedFuncs)+uint64(n) >= math.MaxUint32 {
		return fmt.Errorf("%w: too many functions", ErrUnsupported)
	}
	m.yield, m.hasYield = m.importedFuncs+n, true
	_, err = m.extend(secFunction, body, appendU32(nil, m.yieldType))
	return err
}

// memories writes the memory section, adding a memory if there is none
// (imported or defined) and the module has functions: $yield needs one.
func (m *module) memories(body []byte) error {
	r := reader{b: body}
	n, err := r.u32()
	if err != nil {
		return err
	}
	if n > 0 || m.hasMemory || !m.hasYield {
		m.hasMemory = m.hasMemory || n > 0
		return m.appendSection(secMemory, body)
	}
	m.hasMemory = true
	_, err = m.extend(secMemory, body, addedMemory)
	return err
}

// imports reads the import section, which it must parse in full: the
// indices of the added function and globals depend on the counts.
//
//	import     ::= module:name name:name desc
//	desc       ::= 0x00 typeidx | 0x01 tabletype | 0x02 memtype
//	             | 0x03 globaltype | 0x04 0x00 typeidx (tag)
func (m *module) imports(body []byte) error {
	r := reader{b: body}
	n, err := r.u32()
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		if _, err := r.name(); err != nil {
			return fmt.Errorf("import %d: %w", i, err)
		}
		if _, err := r.name(); err != nil {
			return fmt.Errorf("import %d: %w", i, err)
		}
		kind, err := r.byte()
		if err != nil {
			return fmt.Errorf("import %d: %w", i, err)
		}
		switch kind {
		case 0x00: // function
			if _, err = r.u32(); err == nil {
				m.importedFuncs++
			}
		case 0x01: // table
			err = r.tableType()
		case 0x02: // memory
			if err = r.limits(); err == nil {
				m.hasMemory = true
			}
		case 0x03: // global
			if err = r.globalType(); err == nil {
				m.importedGlobals++
			}
		case 0x04: // tag
			var attr byte
			if attr, err = r.byte(); err == nil {
				if attr != 0 {
					err = fmt.Errorf("%w: tag attribute %#x", ErrUnsupported, attr)
				} else {
					_, err = r.u32()
				}
			}
		default:
			err = fmt.Errorf("%w: import kind %#x", ErrUnsupported, kind)
		}
		if err != nil {
			return fmt.Errorf("import %d: %w", i, err)
		}
	}
	if !r.done() {
		return fmt.Errorf("%w: %d bytes after the last import", ErrMalformed, r.remaining())
	}
	return nil
}

// tableType reads reftype limits. Typed references (0x63, 0x64) are not
// supported.
func (r *reader) tableType() error {
	t, err := r.byte()
	if err != nil {
		return err
	}
	if t != 0x70 && t != 0x6f {
		return fmt.Errorf("%w: table element type %#x", ErrUnsupported, t)
	}
	return r.limits()
}

// limits reads a limits flag byte and the minimum and maximum it announces.
// Only 32-bit limits (flags 0 to 3, bit 1 meaning shared) are supported.
func (r *reader) limits() error {
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if flags > 0x03 {
		return fmt.Errorf("%w: limits flags %#x", ErrUnsupported, flags)
	}
	if _, err := r.u32(); err != nil {
		return err
	}
	if flags&0x01 != 0 {
		_, err = r.u32()
	}
	return err
}

// globalType reads valtype mut.
func (r *reader) globalType() error {
	t, err := r.byte()
	if err != nil {
		return err
	}
	if !isValType(t) {
		return fmt.Errorf("%w: global type %#x", ErrUnsupported, t)
	}
	mut, err := r.byte()
	if err != nil {
		return err
	}
	if mut > 1 {
		return fmt.Errorf("%w: global mutability %#x", ErrMalformed, mut)
	}
	return nil
}

// isValType reports whether t is a value type encoded in one byte that the
// instrumenter knows: i32, i64, f32, f64, v128, funcref, externref, exnref.
func isValType(t byte) bool {
	switch t {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f, 0x69:
		return true
	}
	return false
}

// globals writes the global section with $flag and $budget appended, after
// the imported and defined globals.
func (m *module) globals(body []byte) error {
	n, err := m.extend(secGlobal, body, flagGlobal, budgetGlobal)
	if err != nil {
		return err
	}
	if uint64(m.importedGlobals)+uint64(n)+1 >= math.MaxUint32 {
		return fmt.Errorf("%w: too many globals", ErrUnsupported)
	}
	m.flag = m.importedGlobals + n
	m.budget = m.flag + 1
	m.globalDone = true
	return nil
}

// exports writes the export section with the export of $flag appended. It
// parses the entries to refuse a name that is already exported.
//
//	export ::= name:name kind:byte index:u32
func (m *module) exports(body []byte) error {
	r := reader{b: body}
	n, err := r.u32()
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		name, err := r.name()
		if err != nil {
			return fmt.Errorf("export %d: %w", i, err)
		}
		if string(name) == m.exportName {
			return fmt.Errorf("%w: the module already exports %q", ErrUnsupported, m.exportName)
		}
		if _, err := r.byte(); err != nil {
			return fmt.Errorf("export %d: %w", i, err)
		}
		if _, err := r.u32(); err != nil {
			return fmt.Errorf("export %d: %w", i, err)
		}
	}
	if !r.done() {
		return fmt.Errorf("%w: %d bytes after the last export", ErrMalformed, r.remaining())
	}
	if !m.globalDone {
		// Not reached: addMissing writes the global section first.
		return fmt.Errorf("%w: export section before the global section", ErrMalformed)
	}
	entry := appendU32(nil, uint32(len(m.exportName)))
	entry = append(entry, m.exportName...)
	entry = append(entry, 0x03) // global
	entry = appendU32(entry, m.flag)
	m.exportDone = true
	_, err = m.extend(secExport, body, entry)
	return err
}
