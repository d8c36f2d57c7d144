package abi

import "math"

// Kind is the type tag of a Value on the wire.
type Kind uint8

const (
	KindNull   Kind = 0
	KindString Kind = 1 // UTF-8 text
	KindBytes  Kind = 2 // opaque bytes
	KindInt    Kind = 3 // int64, 8 bytes little-endian
	KindFloat  Kind = 4 // float64, IEEE 754 bits, 8 bytes little-endian
	KindBool   Kind = 5 // one byte, 0 or 1
)

func (k Kind) String() string {
	switch k {
	case KindNull:
		return "null"
	case KindString:
		return "string"
	case KindBytes:
		return "bytes"
	case KindInt:
		return "int"
	case KindFloat:
		return "float"
	case KindBool:
		return "bool"
	}
	return "kind(" + utoa(uint64(k)) + ")"
}

// Value is one typed column value. The zero Value is NULL.
//
// String and bytes payloads are held in s; a Value decoded from a buffer
// may alias that buffer (see the decoders), so copy it before keeping it
// beyond the life of the buffer.
type Value struct {
	kind Kind
	n    uint64 // int64 bits, float64 bits or bool
	s    string
}

// Null returns the NULL value.
func Null() Value { return Value{} }

// String returns a string value.
func String(s string) Value { return Value{kind: KindString, s: s} }

// Bytes returns a bytes value. The slice is copied.
func Bytes(b []byte) Value { return Value{kind: KindBytes, s: string(b)} }

// Int returns an int64 value.
func Int(i int64) Value { return Value{kind: KindInt, n: uint64(i)} }

// Float returns a float64 value.
func Float(f float64) Value { return Value{kind: KindFloat, n: math.Float64bits(f)} }

// Bool returns a bool value.
func Bool(b bool) Value {
	v := Value{kind: KindBool}
	if b {
		v.n = 1
	}
	return v
}

// Kind reports the value's type.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether v is NULL.
func (v Value) IsNull() bool { return v.kind == KindNull }

// Str returns the payload of a string or bytes value ("" otherwise).
func (v Value) Str() string { return v.s }

// Int returns the payload of an int value (0 otherwise).
func (v Value) Int() int64 {
	if v.kind != KindInt {
		return 0
	}
	return int64(v.n)
}

// Float returns the payload of a float value (0 otherwise).
func (v Value) Float() float64 {
	if v.kind != KindFloat {
		return 0
	}
	return math.Float64frombits(v.n)
}

// Bool returns the payload of a bool value (false otherwise).
func (v Value) Bool() bool { return v.kind == KindBool && v.n == 1 }

// Equal reports whether two values have the same kind and the same bits.
func (v Value) Equal(w Value) bool { return v.kind == w.kind && v.n == w.n && v.s == w.s }

// Clone returns v with its payload copied, detached from any buffer.
func (v Value) Clone() Value {
	if v.s != "" {
		v.s = string(append([]byte(nil), v.s...))
	}
	return v
}
