package abi

import (
	"errors"
	"math"
	"unsafe"
)

// Decoding errors. Every error a decoder returns is a *DecodeError that
// matches one of these with errors.Is.
var (
	ErrTruncated = errors.New("truncated")      // the record ends before a field does
	ErrVarint    = errors.New("bad varint")     // a varint is longer than 10 bytes or overflows
	ErrEnum      = errors.New("unknown enum")   // a tag, op, kind, mode or flag is not defined
	ErrTooLong   = errors.New("too long")       // a length is over its limit
	ErrTrailing  = errors.New("trailing bytes") // bytes remain after the record
	ErrInvalid   = errors.New("invalid")        // well-formed but breaks a rule (e.g. delete with columns)
)

// DecodeError says which record and field failed, and where.
type DecodeError struct {
	Record string // "change", "result", "row", "recipe", "trigger", "value"
	Field  string
	Offset int
	Err    error // one of the Err* sentinels
}

func (e *DecodeError) Error() string {
	return "abi: decode " + e.Record + "." + e.Field + " at offset " + utoa(uint64(e.Offset)) + ": " + e.Err.Error()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Code returns the short name used in the conformance vectors.
func (e *DecodeError) Code() string {
	switch e.Err {
	case ErrTruncated:
		return "truncated"
	case ErrVarint:
		return "varint"
	case ErrEnum:
		return "enum"
	case ErrTooLong:
		return "too-long"
	case ErrTrailing:
		return "trailing"
	}
	return "invalid"
}

// ---- encoding ----

// AppendUvarint appends v in unsigned LEB128.
func AppendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// AppendU64 appends v as 8 bytes little-endian.
func AppendU64(b []byte, v uint64) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
}

// AppendStr appends a length-prefixed string.
func AppendStr(b []byte, s string) []byte {
	b = AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendBytesStr appends a length-prefixed byte string.
func AppendBytesStr(b []byte, s []byte) []byte {
	b = AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendValue appends a typed value.
func AppendValue(b []byte, v Value) []byte {
	b = append(b, byte(v.kind))
	switch v.kind {
	case KindString, KindBytes:
		b = AppendStr(b, v.s)
	case KindInt, KindFloat:
		b = AppendU64(b, v.n)
	case KindBool:
		b = append(b, byte(v.n))
	}
	return b
}

// AppendChange appends the change record.
func AppendChange(b []byte, c *Change) []byte {
	b = append(b, byte(c.Op), byte(c.Data))
	b = AppendUvarint(b, uint64(c.Trigger))
	b = AppendU64(b, c.ID.Ms)
	b = AppendU64(b, c.ID.Seq)
	b = AppendStr(b, c.Key)
	b = AppendUvarint(b, uint64(len(c.Fields)))
	for i := range c.Fields {
		b = AppendStr(b, c.Fields[i].Name)
		b = AppendStr(b, c.Fields[i].Value)
	}
	return AppendStr(b, c.Doc)
}

func appendColumns(b []byte, cols []Column) []byte {
	b = AppendUvarint(b, uint64(len(cols)))
	for i := range cols {
		b = AppendStr(b, cols[i].Name)
		b = AppendValue(b, cols[i].Value)
	}
	return b
}

// AppendRowOp appends a row operation record.
func AppendRowOp(b []byte, r *RowOp) []byte {
	b = append(b, byte(r.Op))
	b = AppendStr(b, r.Table)
	b = appendColumns(b, r.Keys)
	return appendColumns(b, r.Cols)
}

// AppendResult appends a result record.
func AppendResult(b []byte, r *Result) []byte {
	b = append(b, byte(r.Outcome))
	b = AppendUvarint(b, uint64(r.Change))
	switch r.Outcome {
	case OutcomeRows:
		b = AppendUvarint(b, uint64(len(r.Rows)))
		for i := range r.Rows {
			b = AppendRowOp(b, &r.Rows[i])
		}
	case OutcomeReject:
		b = AppendStr(b, r.Reason)
	}
	return b
}

// AppendTrigger appends a trigger declaration.
func AppendTrigger(b []byte, t *Trigger) []byte {
	b = AppendStr(b, t.Prefix)
	b = append(b, byte(t.Mode), byte(t.Data))
	b = AppendStr(b, t.Connection)
	return append(b, byte(t.Flags))
}

// AppendRecipe appends the recipe metadata record.
func AppendRecipe(b []byte, r *Recipe) []byte {
	b = AppendStr(b, r.Name)
	b = AppendStr(b, r.Version)
	b = AppendUvarint(b, uint64(len(r.Triggers)))
	for i := range r.Triggers {
		b = AppendTrigger(b, &r.Triggers[i])
	}
	b = AppendUvarint(b, uint64(len(r.Params)))
	for i := range r.Params {
		b = AppendStr(b, r.Params[i].Name)
		b = AppendValue(b, r.Params[i].Value)
	}
	return b
}

// ---- decoding ----

// Reader decodes records from a byte slice. Strings it returns alias the
// slice: they stay valid only as long as the slice is not modified. The
// zero Reader is not usable; use NewReader.
type Reader struct {
	b      []byte
	off    int
	record string
	err    *DecodeError
}

// NewReader returns a Reader over b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Reset points r at b, clearing any error.
func (r *Reader) Reset(b []byte) { *r = Reader{b: b} }

// Len returns the number of unread bytes.
func (r *Reader) Len() int { return len(r.b) - r.off }

// Offset returns the number of bytes consumed.
func (r *Reader) Offset() int { return r.off }

// Err returns the first decoding error, or nil.
func (r *Reader) Err() error {
	if r.err == nil {
		return nil
	}
	return r.err
}

func (r *Reader) fail(field string, err error) {
	if r.err == nil {
		r.err = &DecodeError{Record: r.record, Field: field, Offset: r.off, Err: err}
	}
}

func (r *Reader) u8(field string) byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail(field, ErrTruncated)
		return 0
	}
	v := r.b[r.off]
	r.off++
	return v
}

func (r *Reader) u64(field string) uint64 {
	if r.err != nil {
		return 0
	}
	if len(r.b)-r.off < 8 {
		r.fail(field, ErrTruncated)
		return 0
	}
	p := r.b[r.off : r.off+8]
	r.off += 8
	return uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16 | uint64(p[3])<<24 |
		uint64(p[4])<<32 | uint64(p[5])<<40 | uint64(p[6])<<48 | uint64(p[7])<<56
}

func (r *Reader) uvarint(field string) uint64 {
	if r.err != nil {
		return 0
	}
	var v uint64
	for i := 0; i < 10; i++ {
		if r.off >= len(r.b) {
			r.fail(field, ErrTruncated)
			return 0
		}
		c := r.b[r.off]
		r.off++
		if i == 9 && c > 1 {
			r.fail(field, ErrVarint)
			return 0
		}
		v |= uint64(c&0x7f) << (7 * uint(i))
		if c < 0x80 {
			return v
		}
	}
	r.fail(field, ErrVarint)
	return 0
}

// count reads an element count; every element takes at least one byte, so
// a count over the remaining length is truncation (and never allocates).
func (r *Reader) count(field string) int {
	n := r.uvarint(field)
	if r.err != nil {
		return 0
	}
	if n > uint64(len(r.b)-r.off) {
		r.fail(field, ErrTruncated)
		return 0
	}
	return int(n)
}

func (r *Reader) str(field string, max int) string {
	n := r.uvarint(field)
	if r.err != nil {
		return ""
	}
	if n > uint64(max) {
		r.fail(field, ErrTooLong)
		return ""
	}
	if n > uint64(len(r.b)-r.off) {
		r.fail(field, ErrTruncated)
		return ""
	}
	if n == 0 {
		return ""
	}
	s := unsafe.String(&r.b[r.off], int(n))
	r.off += int(n)
	return s
}

func (r *Reader) value(field string) Value {
	tag := Kind(r.u8(field))
	if r.err != nil {
		return Value{}
	}
	switch tag {
	case KindNull:
		return Value{}
	case KindString, KindBytes:
		return Value{kind: tag, s: r.str(field, MaxRecordLen)}
	case KindInt, KindFloat:
		return Value{kind: tag, n: r.u64(field)}
	case KindBool:
		b := r.u8(field)
		if b > 1 {
			r.off--
			r.fail(field, ErrInvalid)
		}
		return Value{kind: KindBool, n: uint64(b)}
	}
	r.off--
	r.fail(field, ErrEnum)
	return Value{}
}

func (r *Reader) enum(field string, max byte) byte {
	v := r.u8(field)
	if r.err == nil && (v == 0 || v > max) {
		r.off--
		r.fail(field, ErrEnum)
	}
	return v
}

// Change decodes one change record into c, reusing c.Fields.
func (r *Reader) Change(c *Change) error {
	r.record = "change"
	c.Op = ChangeOp(r.enum("op", byte(ChangeExpired)))
	c.Data = DataKind(r.enum("data", byte(DataString)))
	t := r.uvarint("trigger")
	if r.err == nil && t > math.MaxUint32 {
		r.fail("trigger", ErrTooLong)
	}
	c.Trigger = uint32(t)
	c.ID.Ms = r.u64("id_ms")
	c.ID.Seq = r.u64("id_seq")
	c.Key = r.str("key", MaxRecordLen)
	n := r.count("nfields")
	c.Fields = c.Fields[:0]
	for i := 0; i < n && r.err == nil; i++ {
		name := r.str("field_name", MaxRecordLen)
		value := r.str("field_value", MaxRecordLen)
		c.Fields = append(c.Fields, Field{Name: name, Value: value})
	}
	c.Doc = r.str("doc", MaxRecordLen)
	return r.Err()
}

// RowOp decodes one row operation record into op. Keys and Cols are new
// slices (see Slab); op's old ones are not reused.
func (r *Reader) RowOp(op *RowOp) error {
	var s Slab
	return r.rowOpSlab(op, &s)
}

// Result decodes one result record into res. Its rows are new slices (see
// Slab); to decode many results with few allocations use ResultSlab.
func (r *Reader) Result(res *Result) error {
	var s Slab
	return r.ResultSlab(res, &s)
}

// Trigger decodes one trigger declaration into t.
func (r *Reader) Trigger(t *Trigger) error {
	r.record = "trigger"
	t.Prefix = r.str("prefix", MaxRecordLen)
	if r.err == nil && t.Prefix == "" {
		r.fail("prefix", ErrInvalid)
	}
	t.Mode = Mode(r.enum("mode", byte(ModeWriteThrough)))
	t.Data = DataKind(r.enum("data", byte(DataString)))
	t.Connection = r.str("connection", MaxRecordLen)
	f := r.u8("flags")
	if r.err == nil && TriggerFlags(f)&^triggerFlagsKnown != 0 {
		r.off--
		r.fail("flags", ErrEnum)
	}
	t.Flags = TriggerFlags(f)
	return r.Err()
}

// Recipe decodes the recipe metadata record into m.
func (r *Reader) Recipe(m *Recipe) error {
	r.record = "recipe"
	m.Name = r.str("name", MaxNameLen)
	m.Version = r.str("version", MaxNameLen)
	n := r.count("ntriggers")
	m.Triggers = m.Triggers[:0]
	for i := 0; i < n && r.err == nil; i++ {
		m.Triggers = append(m.Triggers, Trigger{})
		if r.Trigger(&m.Triggers[len(m.Triggers)-1]) != nil {
			break
		}
		r.record = "recipe"
	}
	n = r.count("nparams")
	m.Params = m.Params[:0]
	for i := 0; i < n && r.err == nil; i++ {
		name := r.str("param_name", MaxNameLen)
		v := r.value("param_value")
		m.Params = append(m.Params, Param{Name: name, Value: v})
	}
	return r.Err()
}

// End fails with ErrTrailing unless every byte was consumed.
func (r *Reader) End() error {
	if r.err == nil && r.off != len(r.b) {
		r.fail("end", ErrTrailing)
	}
	return r.Err()
}

// DecodeChange decodes b, which must hold exactly one change record.
func DecodeChange(b []byte, c *Change) error {
	r := Reader{b: b}
	r.Change(c)
	return r.End()
}

// DecodeRecipe decodes b, which must hold exactly one recipe record.
func DecodeRecipe(b []byte, m *Recipe) error {
	r := Reader{b: b}
	r.Recipe(m)
	return r.End()
}

// DecodeResults decodes b, a sequence of result records, appending to dst.
func DecodeResults(b []byte, dst []Result) ([]Result, error) {
	r := Reader{b: b}
	for r.Len() > 0 {
		dst = append(dst, Result{})
		if err := r.Result(&dst[len(dst)-1]); err != nil {
			return dst[:len(dst)-1], err
		}
	}
	return dst, nil
}
