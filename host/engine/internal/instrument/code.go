package instrument

import (
	"fmt"
	"math"
	"slices"
)

// Opcodes the rewrite acts on or emits.
const (
	opUnreachable = 0x00
	opBlock       = 0x02
	opLoop        = 0x03
	opIf          = 0x04
	opEnd         = 0x0b
	opCall        = 0x10
	opDrop        = 0x1a
	opTryTable    = 0x1f
	opGlobalGet   = 0x23
	opGlobalSet   = 0x24
	opMemoryGrow  = 0x40
	opI32Const    = 0x41
	opI32Eqz      = 0x45
	opI32Sub      = 0x6b
	blockEmpty    = 0x40
)

// check returns the code inserted at function entry and after each loop
// header: count down $budget, and call $yield when it reaches 0.
func (m *module) check() []byte {
	c := []byte{opGlobalGet}
	c = appendU32(c, m.budget)
	c = append(c, opI32Const, 0x01, opI32Sub, opGlobalSet)
	c = appendU32(c, m.budget)
	c = append(c, opGlobalGet)
	c = appendU32(c, m.budget)
	c = append(c, opI32Eqz, opIf, blockEmpty, opCall)
	c = appendU32(c, m.yield)
	return append(c, opEnd)
}

// yieldBody returns the code entry (size and body) of $yield: reset
// $budget, leave the compiled code (memory.grow 0 is carried out in Go by
// wazero), and trap if $flag is set.
func (m *module) yieldBody() []byte {
	c := []byte{0x00} // no locals
	c = append(c, opI32Const)
	c = appendS32(c, yieldInterval)
	c = append(c, opGlobalSet)
	c = appendU32(c, m.budget)
	c = append(c, opI32Const, 0x00, opMemoryGrow, 0x00, opDrop)
	c = append(c, opGlobalGet)
	c = appendU32(c, m.flag)
	c = append(c, opIf, blockEmpty, opUnreachable, opEnd, opEnd)
	return append(appendU32(nil, uint32(len(c))), c...)
}

// code writes the code section, whose contents start at offset base of the
// module, with every function body rewritten and $yield's appended.
//
//	code ::= size:u32 func    func ::= vec(locals) expr
func (m *module) code(body []byte, base int) error {
	if !m.globalDone || m.hasYield && !m.hasMemory {
		// Not reached: addMissing writes the sections first.
		return fmt.Errorf("%w: code section before the global or memory section", ErrMalformed)
	}
	check := m.check()
	r := reader{b: body}
	n, err := r.u32()
	if err != nil {
		return err
	}
	if n > 0 && !m.hasYield {
		return fmt.Errorf("%w: code without a function section", ErrMalformed)
	}
	if n == math.MaxUint32 {
		return fmt.Errorf("%w: too many functions", ErrUnsupported)
	}
	sec := make([]byte, 0, len(body)+len(body)/8+32)
	if m.hasYield {
		sec = appendU32(sec, n+1)
	} else {
		sec = appendU32(sec, n)
	}
	var fn []byte
	for i := uint32(0); i < n; i++ {
		size, err := r.u32()
		if err != nil {
			return fmt.Errorf("function %d: size: %w", uint64(m.importedFuncs)+uint64(i), err)
		}
		start := r.off
		b, err := r.bytes(size)
		if err != nil {
			return fmt.Errorf("function %d: %w", uint64(m.importedFuncs)+uint64(i), err)
		}
		fn, err = rewriteBody(fn[:0], b, base+start, check, m.entryChecks)
		if err != nil {
			return fmt.Errorf("function %d: %w", uint64(m.importedFuncs)+uint64(i), err)
		}
		if len(fn) > math.MaxUint32 {
			return fmt.Errorf("function %d: %w: body grows past 4 GiB", uint64(m.importedFuncs)+uint64(i), ErrUnsupported)
		}
		sec = appendU32(sec, uint32(len(fn)))
		sec = append(sec, fn...)
	}
	if !r.done() {
		return fmt.Errorf("%w: %d bytes after the last function body", ErrMalformed, r.remaining())
	}
	if m.hasYield {
		sec = append(sec, m.yieldBody()...)
	}
	return m.appendSection(secCode, sec)
}

// rewriteBody appends to dst the function body with check inserted after
// the block type of every loop and, if entryCheck and the body calls a
// function (see needsEntryCheck), after its local declarations. base is the
// body's offset in the module, for error messages.
func rewriteBody(dst, body []byte, base int, check []byte, entryCheck bool) ([]byte, error) {
	r := reader{b: body}
	n, err := r.u32()
	if err != nil {
		return nil, fmt.Errorf("locals: %w", err)
	}
	for i := uint32(0); i < n; i++ {
		if _, err := r.u32(); err != nil {
			return nil, fmt.Errorf("locals: %w", err)
		}
		t, err := r.byte()
		if err != nil {
			return nil, fmt.Errorf("locals: %w", err)
		}
		if !isValType(t) {
			return nil, fmt.Errorf("locals: %w: value type %#x at offset %#x", ErrUnsupported, t, base+r.off-1)
		}
	}
	dst = append(dst, body[:r.off]...)
	entry := len(dst)
	copied := r.off
	calls := false
	depth := 0 // open blocks, not counting the function's own
	for {
		at := r.off
		op, err := r.instruction()
		if err != nil {
			return nil, fmt.Errorf("offset %#x: %w", base+at, err)
		}
		calls = calls || needsEntryCheck(op)
		switch op {
		case opBlock, opIf, opTryTable:
			depth++
		case opLoop:
			depth++
			dst = append(dst, body[copied:r.off]...)
			dst = append(dst, check...)
			copied = r.off
		case opEnd:
			if depth > 0 {
				depth--
				continue
			}
			if !r.done() {
				return nil, fmt.Errorf("offset %#x: %w: %d bytes after the function's end", base+r.off, ErrMalformed, r.remaining())
			}
			dst = append(dst, body[copied:]...)
			if entryCheck && calls {
				dst = slices.Insert(dst, entry, check...)
			}
			return dst, nil
		}
	}
}

// needsEntryCheck reports whether a function containing op needs the
// check at its entry: op calls a function (call, call_indirect,
// return_call, return_call_indirect) or raises or catches an exception
// (throw, throw_ref, try_table; more than needed, but rare).
//
// A function without them cannot start other activations, so it runs its
// code forward, checking at each loop, and returns: a bounded amount of
// work between checks. A function with them checks at every entry. So
// between two checks the guest runs at most one forward pass through the
// rest of the frames already on the stack, plus calls to functions without
// calls (a bounded number per pass): bounded, however the calls recurse.
// Without the entry check a call tree (f calling f twice, down to a depth
// of 60) runs for years without ever reaching a loop.
//
// The bound is the depth of the stack times the longest run of code
// without a loop or a call: a guest built to unwind a deep stack through
// long straight-line code could overrun its deadline by that much (as it
// could under wazero's own mechanism). A check after every call would
// close that too, at a cost on every call.
func needsEntryCheck(op byte) bool {
	switch op {
	case 0x10, 0x11, 0x12, 0x13, 0x08, 0x0a, opTryTable:
		return true
	}
	return false
}

// instruction reads one instruction, immediates included, and returns its
// opcode (the prefix byte for prefixed instructions).
//
// It must agree exactly with wazero on where each instruction ends: a
// disagreement could hide a loop from the rewrite. So it follows the spec
// strictly and refuses what it does not know.
func (r *reader) instruction() (byte, error) {
	op, err := r.byte()
	if err != nil {
		return 0, err
	}
	switch {
	case op == 0x00, op == 0x01, // unreachable, nop
		op == 0x05,             // else
		op == 0x0a,             // throw_ref
		op == 0x0b,             // end
		op == 0x0f,             // return
		op == 0x1a, op == 0x1b, // drop, select
		op >= 0x45 && op <= 0xc4, // numeric, sign extension
		op == 0xd1:               // ref.is_null
		return op, nil

	case op == 0x02, op == 0x03, op == 0x04: // block, loop, if
		return op, r.blockType()

	case op == 0x08, // throw tagidx
		op == 0x0c, op == 0x0d, // br, br_if labelidx
		op == 0x10, op == 0x12, // call, return_call funcidx
		op >= 0x20 && op <= 0x24, // local.get/set/tee, global.get/set
		op == 0x25, op == 0x26,   // table.get/set tableidx
		op == 0xd2: // ref.func funcidx
		_, err := r.u32()
		return op, err

	case op == 0x0e: // br_table vec(labelidx) labelidx
		n, err := r.u32()
		if err != nil {
			return op, err
		}
		// Each label takes at least one byte, so n+1 labels are bounded by
		// the input.
		for i := uint64(0); i <= uint64(n); i++ {
			if _, err := r.u32(); err != nil {
				return op, err
			}
		}
		return op, nil

	case op == 0x11, op == 0x13: // call_indirect, return_call_indirect typeidx tableidx
		if _, err := r.u32(); err != nil {
			return op, err
		}
		_, err := r.u32()
		return op, err

	case op == 0x1c: // select vec(valtype)
		// Valid only with one type; wazero reads the count as one byte.
		n, err := r.byte()
		if err != nil {
			return op, err
		}
		if n != 1 {
			return op, fmt.Errorf("%w: opcode 0x1c (typed select) with %#x types", ErrUnsupported, n)
		}
		t, err := r.byte()
		if err != nil {
			return op, err
		}
		if !isValType(t) {
			return op, fmt.Errorf("%w: opcode 0x1c (typed select) with type %#x", ErrUnsupported, t)
		}
		return op, nil

	case op == 0x1f: // try_table blocktype vec(catch)
		return op, r.tryTable()

	case op >= 0x28 && op <= 0x3e: // loads and stores
		return op, r.memarg(op)

	case op == 0x3f, op == 0x40: // memory.size, memory.grow
		return op, r.memoryZero(op)

	case op == 0x41: // i32.const
		_, err := r.sleb(32)
		return op, err
	case op == 0x42: // i64.const
		_, err := r.sleb(64)
		return op, err
	case op == 0x43: // f32.const
		return op, r.skip(4)
	case op == 0x44: // f64.const
		return op, r.skip(8)

	case op == 0xd0: // ref.null heaptype
		t, err := r.byte()
		if err != nil {
			return op, err
		}
		if t != 0x70 && t != 0x6f && t != 0x69 { // func, extern, exn
			return op, fmt.Errorf("%w: opcode 0xd0 (ref.null) with heap type %#x", ErrUnsupported, t)
		}
		return op, nil

	case op == 0xfc:
		return op, r.miscInstruction()
	case op == 0xfd:
		return op, r.vectorInstruction()
	}
	if name := unsupportedNames[op]; name != "" {
		return op, fmt.Errorf("%w: opcode %#02x (%s)", ErrUnsupported, op, name)
	}
	return op, fmt.Errorf("%w: unknown opcode %#02x", ErrUnsupported, op)
}

// unsupportedNames names the opcodes of proposals the instrumenter does not
// handle, for error messages.
var unsupportedNames = map[byte]string{
	0x06: "legacy exception handling try",
	0x07: "legacy exception handling catch",
	0x09: "legacy exception handling rethrow",
	0x14: "call_ref",
	0x15: "return_call_ref",
	0x18: "legacy exception handling delegate",
	0x19: "legacy exception handling catch_all",
	0xd3: "ref.eq",
	0xd4: "ref.as_non_null",
	0xd5: "br_on_null",
	0xd6: "br_on_non_null",
	0xfb: "GC prefix",
	0xfe: "threads prefix",
}

// blockType reads a block type: 0x40 (empty), a value type, or a
// non-negative s33 type index.
func (r *reader) blockType() error {
	if r.done() {
		return errTruncated
	}
	if t := r.b[r.off]; t == blockEmpty || isValType(t) {
		r.off++
		return nil
	}
	at := r.off
	idx, err := r.sleb(33)
	if err != nil {
		return err
	}
	if idx < 0 {
		// A one-byte type this package does not know (typed or GC
		// references), or an overlong encoding of a known one.
		return fmt.Errorf("%w: block type %#x", ErrUnsupported, r.b[at:r.off])
	}
	return nil
}

// tryTable reads the immediates of try_table:
//
//	blocktype vec(catch)
//	catch ::= 0x00 tagidx labelidx | 0x01 tagidx labelidx
//	        | 0x02 labelidx | 0x03 labelidx
func (r *reader) tryTable() error {
	if err := r.blockType(); err != nil {
		return err
	}
	n, err := r.u32()
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		kind, err := r.byte()
		if err != nil {
			return err
		}
		switch kind {
		case 0x00, 0x01: // catch, catch_ref
			if _, err := r.u32(); err != nil {
				return err
			}
			fallthrough
		case 0x02, 0x03: // catch_all, catch_all_ref
			if _, err := r.u32(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: opcode 0x1f (try_table) catch kind %#x", ErrUnsupported, kind)
		}
	}
	return nil
}

// memarg reads align:u32 offset:u32. Bit 6 of align announces a memory
// index (multi-memory), which is not supported.
func (r *reader) memarg(op byte) error {
	align, err := r.u32()
	if err != nil {
		return err
	}
	if align&0x40 != 0 {
		return fmt.Errorf("%w: opcode %#02x with a memory index (multi-memory)", ErrUnsupported, op)
	}
	_, err = r.u32()
	return err
}

// memoryZero reads the memory index byte of memory.size, memory.grow and
// the bulk memory instructions, which must be the single byte 0x00 without
// multi-memory (wazero requires exactly that).
func (r *reader) memoryZero(op byte) error {
	b, err := r.byte()
	if err != nil {
		return err
	}
	if b != 0 {
		return fmt.Errorf("%w: opcode %#02x with memory index byte %#02x (multi-memory)", ErrUnsupported, op, b)
	}
	return nil
}

// miscInstruction reads the rest of an instruction with the 0xFC prefix:
// a u32 sub-opcode and its immediates.
func (r *reader) miscInstruction() error {
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch sub {
	case 0, 1, 2, 3, 4, 5, 6, 7: // i32/i64.trunc_sat_f32/f64_s/u
		return nil
	case 8: // memory.init dataidx 0x00
		if _, err := r.u32(); err != nil {
			return err
		}
		return r.memoryZero(0xfc)
	case 9, 13: // data.drop dataidx, elem.drop elemidx
		_, err := r.u32()
		return err
	case 10: // memory.copy 0x00 0x00
		if err := r.memoryZero(0xfc); err != nil {
			return err
		}
		return r.memoryZero(0xfc)
	case 11: // memory.fill 0x00
		return r.memoryZero(0xfc)
	case 12, 14: // table.init elemidx tableidx, table.copy tableidx tableidx
		if _, err := r.u32(); err != nil {
			return err
		}
		_, err := r.u32()
		return err
	case 15, 16, 17: // table.grow, table.size, table.fill tableidx
		_, err := r.u32()
		return err
	}
	return fmt.Errorf("%w: opcode 0xfc %d", ErrUnsupported, sub)
}

// Immediates of the vector (0xFD) instructions.
const (
	vecInvalid    = iota // unassigned: refused
	vecNone              // no immediate
	vecMemarg            // memarg
	vecMemargLane        // memarg laneidx
	vecLane              // laneidx (one byte)
	vecBytes16           // 16 bytes: v128.const, i8x16.shuffle
)

// vecImmediates maps each vector sub-opcode of the final SIMD proposal
// (WebAssembly 2.0) to its immediates. The 20 unassigned codes in
// 0x00-0xFF stay vecInvalid.
var vecImmediates = func() (t [256]byte) {
	for i := range t {
		t[i] = vecNone
	}
	for i := 0x00; i <= 0x0b; i++ { // v128.load*, v128.store
		t[i] = vecMemarg
	}
	t[0x0c] = vecBytes16            // v128.const
	t[0x0d] = vecBytes16            // i8x16.shuffle
	for i := 0x15; i <= 0x22; i++ { // extract_lane, replace_lane
		t[i] = vecLane
	}
	for i := 0x54; i <= 0x5b; i++ { // v128.load*_lane, v128.store*_lane
		t[i] = vecMemargLane
	}
	t[0x5c] = vecMemarg // v128.load32_zero
	t[0x5d] = vecMemarg // v128.load64_zero
	for _, i := range []int{
		0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb,
		0xc2, 0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee,
	} {
		t[i] = vecInvalid
	}
	return t
}()

// vectorInstruction reads the rest of an instruction with the 0xFD prefix:
// a u32 sub-opcode and its immediates.
//
// wazero reads the sub-opcode as one byte, not as LEB128. For the shortest
// encoding the two agree: codes below 0x80 are one byte, and codes 0x80 to
// 0xFF are the byte itself followed by 0x01, which wazero decodes as a nop
// (none of those codes has immediates). Any other encoding is refused.
func (r *reader) vectorInstruction() error {
	at := r.off
	sub, err := r.u32()
	if err != nil {
		return err
	}
	shortest := 1
	if sub >= 0x80 {
		shortest = 2
	}
	if sub > 0xff || r.off-at != shortest {
		return fmt.Errorf("%w: opcode 0xfd %d encoded as %#x", ErrUnsupported, sub, r.b[at:r.off])
	}
	switch vecImmediates[sub] {
	case vecNone:
		return nil
	case vecMemarg:
		return r.memarg(0xfd)
	case vecMemargLane:
		if err := r.memarg(0xfd); err != nil {
			return err
		}
		return r.skip(1)
	case vecLane:
		return r.skip(1)
	case vecBytes16:
		return r.skip(16)
	}
	return fmt.Errorf("%w: opcode 0xfd %d", ErrUnsupported, sub)
}
