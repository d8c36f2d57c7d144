package cogs

import (
	"unsafe"

	"github.com/cogs-dev/cogs/abi"
)

// Output collects what Map produced for one change: row operations, a
// skip, or a rejection.
//
// Columns are encoded as they are added, into two byte arenas, one for
// key columns and one for the others: an Output stores no string (a
// pointer store costs a write-barrier check, a costly jump under
// standard Go's Wasm port), and the result record is then put together
// from whole byte ranges. The columns of each row stay contiguous in
// their arena; a row whose range another row has grown past since is
// moved to the end of the arena first (only recipes that build two rows
// at once ever pay for that). The arenas, and what each row has in them,
// are indexed by colsArena and keysArena, so that one code path serves
// both without branching.
type Output struct {
	rows    []rowOp
	n       int       // rows in use; rows[n:] are kept for reuse
	arena   [2][]byte // encoded columns; arena[k][:used[k]] in use
	used    [2]int
	reject  bool
	reason  string
	skipped bool
}

const (
	colsArena = 0
	keysArena = 1
)

// rowOp is one row operation of an Output: its key columns are
// arena[keysArena][start[keysArena]:end[keysArena]], count[keysArena] of
// them, and likewise its other columns.
type rowOp struct {
	op         abi.RowOpKind
	table      string
	start, end [2]int
	count      [2]int
}

// Row is a row operation being built. Its methods return the Row so calls
// chain.
type Row struct {
	o *Output
	i int
}

func (o *Output) add(kind abi.RowOpKind, table string) Row {
	if o.n == len(o.rows) {
		o.rows = append(o.rows, rowOp{})
	}
	r := &o.rows[o.n]
	o.n++
	*r = rowOp{op: kind, table: table, start: o.used, end: o.used}
	return Row{o: o, i: o.n - 1}
}

// Upsert starts an insert-or-update of a row of table.
func (o *Output) Upsert(table string) Row { return o.add(abi.RowUpsert, table) }

// Insert starts an insert of a row of table; a duplicate key is rejected by
// the target.
func (o *Output) Insert(table string) Row { return o.add(abi.RowInsert, table) }

// Delete starts a delete of the row of table with the given key columns.
func (o *Output) Delete(table string) Row { return o.add(abi.RowDelete, table) }

// Skip acknowledges the change without writing anything. Row operations
// added before are dropped.
func (o *Output) Skip() { o.skipped = true }

// Reject refuses the change: it goes to the recipe's dead-letter stream
// with reason, and nothing is written for it.
func (o *Output) Reject(reason string) {
	o.reject = true
	o.reason = reason
}

// Key adds a key column (one that identifies the row).
func (r Row) Key(name string, v Value) Row {
	r.o.addColumn(r.i, keysArena, name, v)
	return r
}

// Col adds a column to write. Columns of a Delete are ignored.
func (r Row) Col(name string, v Value) Row {
	r.o.addColumn(r.i, colsArena, name, v)
	return r
}

// columnRoom is the room addColumn's fast path needs in an arena: a name
// length, 16 bytes written for the name, a kind, 8 bytes for a number or a
// length, and 16 bytes written for a string.
const columnRoom = 1 + smallMax + 1 + 8 + smallMax

// addColumn adds the column (name, v) to row i, in arena k. Names and
// strings of up to 16 bytes, when the arena has room and the row is the
// last one grown in it, take a path without jumps or calls; everything
// else is found by one test and goes to addColumnSlow.
func (o *Output) addColumn(i, k int, name string, v Value) {
	r := &o.rows[i]
	k &= 1
	b, n := o.arena[k], o.used[k]
	s := v.Str()
	slow := (len(name)|len(s))/(smallMax+1) | int(uint(len(b)-n-columnRoom)>>63) |
		b2i(r.end[k] != n) | b2i(r.op == abi.RowDelete)&(k^1) | b2i(!wordTricks)
	// The fast path is the then-branch: the compiler lays it out next,
	// without a jump (an early return to the slow path would be laid out
	// first).
	if slow == 0 {
		kind := v.Kind()
		// After the kind: 8 bytes for an int or a float, a byte for a bool,
		// or the length byte of a string and then its bytes.
		u := v.Bits()
		if kind-abi.KindString <= abi.KindBytes-abi.KindString {
			u = uint64(len(s))
		}
		// Written with unsafe stores, as putSmall does; halves is repeated
		// here by hand, as the compiler inlines neither.
		ln, ls := len(name), len(s)
		np := unsafe.Pointer(unsafe.StringData(name))
		np = unsafe.Add(np, (uintptr(unsafe.Pointer(&pad[8]))-uintptr(np))&uintptr((ln-1)>>63))
		sp := unsafe.Pointer(unsafe.StringData(s))
		sp = unsafe.Add(sp, (uintptr(unsafe.Pointer(&pad[8]))-uintptr(sp))&uintptr((ls-1)>>63))
		nshort, sshort := clamp0(8-ln), clamp0(8-ls)
		d := unsafe.Add(unsafe.Pointer(unsafe.SliceData(b)), n)
		*(*byte)(d) = byte(ln)
		store8(d, 1+clamp0(ln-8), load8(np, ln-8)&uint64((8-ln)>>63))
		store8(d, 1, load8(np, -nshort)>>(8*uint(nshort)&63))
		d = unsafe.Add(d, 1+ln)
		*(*byte)(d) = byte(kind)
		store8(d, 1, u)
		d = unsafe.Add(d, 1+int(payloadSize[kind&7]))
		store8(d, clamp0(ls-8), load8(sp, ls-8)&uint64((8-ls)>>63))
		store8(d, 0, load8(sp, -sshort)>>(8*uint(sshort)&63))
		p := n + 1 + len(name) + 1 + int(payloadSize[kind&7]) + len(s)
		o.used[k] = p
		r.end[k] = p
		r.count[k]++
		return
	}
	o.addColumnSlow(i, k, name, v)
}

// addColumnSlow is addColumn for any column.
//
//go:noinline
func (o *Output) addColumnSlow(i, k int, name string, v Value) {
	r := &o.rows[i]
	if r.op == abi.RowDelete && k == colsArena {
		return
	}
	b, n := o.arena[k], o.used[k]
	if r.end[k] != n {
		// Move the row's columns to the end of the arena.
		size := r.end[k] - r.start[k]
		if len(b)-n < size {
			b = growBytes(b, n, size)
		}
		copy(b[n:], b[r.start[k]:r.end[k]])
		r.start[k], r.end[k] = n, n+size
		n += size
	}
	o.arena[k], o.used[k] = putColumn(b, n, name, v)
	r.end[k] = o.used[k]
	r.count[k]++
}

// growBytes returns b with b[:n] kept and room for at least need more
// bytes after them.
//
//go:noinline
func growBytes(b []byte, n, need int) []byte {
	nb := make([]byte, 2*len(b)+need+64)
	copy(nb, b[:n])
	return nb
}

// payloadSize is, by kind, the bytes after the kind tag of a value, not
// counting a string's bytes.
var payloadSize = [8]uint8{abi.KindString: 1, abi.KindBytes: 1, abi.KindInt: 8, abi.KindFloat: 8, abi.KindBool: 1}

// putColumn writes the column (name, v) at b[n:] in the wire encoding of
// abi.AppendRowOp, growing b if needed (and leaving room for addColumn's
// fast path), and returns b and the new length in use.
func putColumn(b []byte, n int, name string, v Value) ([]byte, int) {
	if need := 21 + len(name) + len(v.Str()) + columnRoom; len(b)-n < need {
		b = growBytes(b, n, need)
	}
	p := putUvarint(b, n, uint64(len(name)))
	p += copy(b[p:], name)
	b[p] = byte(v.Kind())
	p++
	switch v.Kind() {
	case abi.KindString, abi.KindBytes:
		p = putUvarint(b, p, uint64(len(v.Str())))
		p += copy(b[p:], v.Str())
	case abi.KindInt, abi.KindFloat:
		u := v.Bits()
		for k := 0; k < 8; k++ {
			b[p+k] = byte(u >> (8 * k))
		}
		p += 8
	case abi.KindBool:
		b[p] = byte(v.Bits())
		p++
	}
	return b, p
}

func (o *Output) reset() {
	o.n = 0
	o.used = [2]int{}
	o.reject = false
	o.skipped = false
}

// appendResult encodes what was collected for change index i.
//
// The fast path is for rows whose counts and table name lengths are
// under 128 (one-byte varints), for change indexes under 16384, and for
// records that fit in b's capacity; everything else, skips and rejections
// included, goes to appendResultSlow.
func (o *Output) appendResult(b []byte, i uint32) []byte {
	// Each test's then-branch is the common case, and the loops test at
	// their end: that way one row costs no jump (see mapBatch).
	rows := o.rows[:o.n]
	if int(i)>>14|b2i(o.reject)|b2i(o.skipped)|b2i(len(rows) == 0)|len(rows)>>7 == 0 {
		size := len(b) + 4 // outcome, change (up to 2 bytes), nrows
		// big has a bit at or above 1<<7 if the fast path does not apply.
		big := 0
		for k := 0; ; {
			r := &rows[k]
			size += 4 + len(r.table) + r.end[keysArena] - r.start[keysArena] + r.end[colsArena] - r.start[colsArena]
			big |= len(r.table) | r.count[keysArena] | r.count[colsArena] | b2i(r.count[keysArena] == 0)<<7 | b2i(len(r.table) == 0)<<7
			if k++; k == len(rows) {
				break
			}
		}
		if big>>7|int(uint(cap(b)-size)>>63) == 0 {
			p := len(b)
			buf := b[:size]
			// The change index in one or two bytes: the second is
			// written always and kept only if the first has its
			// continuation bit.
			long := b2i(i >= 0x80)
			q := buf[p : p+4 : p+4]
			q[0] = byte(abi.OutcomeRows)
			q[1] = byte(i) | byte(long<<7)
			q[2] = byte(i >> 7)
			p += 2 + long
			buf[p] = byte(len(rows))
			p++
			for k := 0; ; {
				r := &rows[k]
				q = buf[p : p+2 : p+2]
				q[0] = byte(r.op)
				q[1] = byte(len(r.table))
				p += 2
				p += copy(buf[p:], r.table)
				buf[p] = byte(r.count[keysArena])
				p++
				p += copy(buf[p:], o.arena[keysArena][r.start[keysArena]:r.end[keysArena]])
				buf[p] = byte(r.count[colsArena])
				p++
				p += copy(buf[p:], o.arena[colsArena][r.start[colsArena]:r.end[colsArena]])
				if k++; k == len(rows) {
					break
				}
			}
			return buf[:p]
		}
	}
	return o.appendResultSlow(b, i)
}

// b2i returns 1 for true and 0 for false, without a branch.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// appendResultSlow is appendResult for any output.
//
//go:noinline
func (o *Output) appendResultSlow(b []byte, i uint32) []byte {
	if o.reject || o.skipped || o.n == 0 {
		return o.appendShort(b, i)
	}
	rows := o.rows[:o.n]
	size := 1 + 5 + 5
	for k := range rows {
		r := &rows[k]
		if r.count[keysArena] == 0 || r.table == "" {
			return o.appendShort(b, i)
		}
		size += 1 + 10 + len(r.table) + 10 + r.end[keysArena] - r.start[keysArena] + 10 + r.end[colsArena] - r.start[colsArena]
	}
	if cap(b)-len(b) < size {
		b = growBytes(b[:cap(b)], len(b), size)[:len(b)]
	}
	p := len(b)
	buf := b[:p+size]
	buf[p] = byte(abi.OutcomeRows)
	p = putUvarint(buf, p+1, uint64(i))
	p = putUvarint(buf, p, uint64(len(rows)))
	for k := range rows {
		r := &rows[k]
		buf[p] = byte(r.op)
		p = putUvarint(buf, p+1, uint64(len(r.table)))
		p += copy(buf[p:], r.table)
		p = putUvarint(buf, p, uint64(r.count[keysArena]))
		p += copy(buf[p:], o.arena[keysArena][r.start[keysArena]:r.end[keysArena]])
		p = putUvarint(buf, p, uint64(r.count[colsArena]))
		p += copy(buf[p:], o.arena[colsArena][r.start[colsArena]:r.end[colsArena]])
	}
	return buf[:p]
}

// appendShort encodes a rejection or a skip for change index i, or the
// rejection of rows that break a rule of the wire format.
func (o *Output) appendShort(b []byte, i uint32) []byte {
	switch {
	case o.reject:
		reason := o.reason
		if len(reason) > abi.MaxReasonLen {
			reason = reason[:abi.MaxReasonLen]
		}
		return appendShortResult(b, i, abi.OutcomeReject, reason)
	case o.skipped || o.n == 0:
		return appendShortResult(b, i, abi.OutcomeSkip, "")
	}
	for _, r := range o.rows[:o.n] {
		if r.count[keysArena] == 0 {
			return appendShortResult(b, i, abi.OutcomeReject,
				"recipe bug: row of table \""+r.table+"\" has no key column")
		}
		if r.table == "" {
			return appendShortResult(b, i, abi.OutcomeReject, "recipe bug: row with an empty table name")
		}
	}
	return b
}
