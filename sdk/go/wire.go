package cogs

import (
	"unsafe"

	"github.com/cogs-dev/cogs/abi"
)

// The SDK's own codec for the two records on its hot path: the change it
// decodes and the result it encodes, once per change. Under standard Go's
// Wasm port every call that is not inlined is costly (each function is a
// resume-point dispatch loop and every call goes through the Go stack in
// linear memory), so these are flat functions with the varint and string
// reads written out, where abi's Reader spends a method call per field.
// They accept, reject and produce exactly what abi.DecodeChange and
// abi.AppendResult do; the fuzz and table tests of wire_test.go hold them
// to it. Anything unusual (an error to explain, a long varint) takes the
// slow path through package abi.

// decodeChange decodes b, which must hold exactly one change record, into
// c: into its scalars and into spans of b, which must be c.buf[:len(b)].
// It reports whether b decodes; when it does not, abi.DecodeChange says
// why. It stores no pointer (see Change) unless c.refs must grow.
//
// It handles the common record, whose varints are all one byte, in
// straight-line code where every unusual case leaves through a call (the
// compiler lays such exits out of line, so the common path jumps only at
// the end of each field), and hands everything else, errors included, to
// decodeChangeSlow.
func decodeChange(b []byte, c *Change) bool {
	n := len(b)
	// op, data, a one-byte trigger, ms, seq and the three lengths (key,
	// nfields, doc) of an empty record: 21 bytes.
	if n < 21 {
		return decodeChangeSlow(b, c)
	}
	op, data, t := b[0], b[1], b[2]
	if op-1 > byte(abi.ChangeExpired)-1 || data-1 > byte(abi.DataString)-1 || t >= 0x80 {
		return decodeChangeSlow(b, c)
	}
	c.op = abi.ChangeOp(op)
	c.data = abi.DataKind(data)
	c.trigger = uint32(t)
	c.fieldsOK = false
	p := b[3:19:19]
	c.id.Ms = uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16 | uint64(p[3])<<24 |
		uint64(p[4])<<32 | uint64(p[5])<<40 | uint64(p[6])<<48 | uint64(p[7])<<56
	c.id.Seq = uint64(p[8]) | uint64(p[9])<<8 | uint64(p[10])<<16 | uint64(p[11])<<24 |
		uint64(p[12])<<32 | uint64(p[13])<<40 | uint64(p[14])<<48 | uint64(p[15])<<56

	// key: a one-byte length, and a string that leaves room for the
	// nfields and doc lengths.
	l := int(b[19])
	off := 20
	if l >= 0x80 || l+2 > n-off {
		return decodeChangeSlow(b, c)
	}
	c.key = span{uint32(off), uint32(l)}
	off += l

	nf := int(b[off])
	off++
	// Every field takes at least two bytes, and the doc one more.
	if nf>>7|(n-off-2*nf-1)>>63|(len(c.refs)-nf)>>63 != 0 {
		return decodeChangeSlow(b, c) // or c.refs must grow
	}
	c.nfields = nf
	// The loops of the fast paths test at their end, and the common case
	// of every test is its then-branch: that way the compiler lays the
	// common path out without jumps (under standard Go's Wasm port, each
	// taken jump is an indirect branch through the function's dispatch
	// table).
	if nf != 0 {
		refs := c.refs[:nf]
		for i := 0; ; {
			// off+1 < n holds: see the room checks.
			l = int(b[off])
			off++
			if l>>7|(n-off-l-1)>>63 != 0 {
				return decodeChangeSlow(b, c)
			}
			refs[i].name = span{uint32(off), uint32(l)}
			off += l
			l = int(b[off])
			off++
			if l>>7|(n-off-l-1)>>63 != 0 {
				return decodeChangeSlow(b, c)
			}
			refs[i].value = span{uint32(off), uint32(l)}
			off += l
			if i++; i == nf {
				break
			}
		}
	}

	// doc
	l = int(b[off])
	off++
	if l>>7|(l^(n-off)) == 0 {
		c.doc = span{uint32(off), uint32(l)}
		return true
	}
	return decodeChangeSlow(b, c)
}

// decodeChangeSlow is decodeChange for any record: it decodes b with
// abi.DecodeChange and records where the strings are.
//
//go:noinline
func decodeChangeSlow(b []byte, c *Change) bool {
	var rec abi.Change
	if abi.DecodeChange(b, &rec) != nil {
		return false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	at := func(s string) span {
		if s == "" {
			return span{}
		}
		return span{uint32(uintptr(unsafe.Pointer(unsafe.StringData(s))) - base), uint32(len(s))}
	}
	c.op, c.data, c.trigger, c.id = rec.Op, rec.Data, rec.Trigger, rec.ID
	c.fieldsOK = false
	c.key = at(rec.Key)
	c.doc = at(rec.Doc)
	if len(c.refs) < len(rec.Fields) {
		c.refs = make([]fieldRef, len(rec.Fields)+len(rec.Fields)/2)
	}
	c.nfields = len(rec.Fields)
	for i, f := range rec.Fields {
		c.refs[i] = fieldRef{at(f.Name), at(f.Value)}
	}
	return true
}

// putUvarint writes v at buf[p:] in unsigned LEB128 and returns the offset
// after it. The caller has made room (at most 10 bytes).
func putUvarint(buf []byte, p int, v uint64) int {
	for v >= 0x80 {
		buf[p] = byte(v) | 0x80
		v >>= 7
		p++
	}
	buf[p] = byte(v)
	return p + 1
}

// appendShortResult appends a skip or reject result record for change i,
// as abi.AppendResult does.
func appendShortResult(b []byte, i uint32, outcome abi.Outcome, reason string) []byte {
	size := 1 + 5 + 10 + len(reason)
	if cap(b)-len(b) < size {
		b = growBytes(b[:cap(b)], len(b), size)[:len(b)]
	}
	p := len(b)
	buf := b[:p+size]
	buf[p] = byte(outcome)
	p = putUvarint(buf, p+1, uint64(i))
	if outcome == abi.OutcomeReject {
		p = putUvarint(buf, p, uint64(len(reason)))
		p += copy(buf[p:], reason)
	}
	return buf[:p]
}
