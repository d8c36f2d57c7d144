package instrument

import "fmt"

// reader reads the WebAssembly binary format from a byte slice. Every read
// is bounded by the bytes left; running out is an ErrMalformed error, never
// a panic.
type reader struct {
	b   []byte
	off int
}

var errTruncated = fmt.Errorf("%w: unexpected end", ErrMalformed)

func (r *reader) done() bool { return r.off >= len(r.b) }

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, errTruncated
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

// bytes returns the next n bytes (a sub-slice, not a copy).
func (r *reader) bytes(n uint32) ([]byte, error) {
	if uint64(n) > uint64(r.remaining()) {
		return nil, errTruncated
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return s, nil
}

// skip advances over n bytes.
func (r *reader) skip(n int) error {
	if n > r.remaining() {
		return errTruncated
	}
	r.off += n
	return nil
}

// name reads a vec(byte) such as an import or export name.
func (r *reader) name() ([]byte, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	return r.bytes(n)
}

// u32 reads an unsigned LEB128 integer of at most 32 bits, as the spec
// requires: at most 5 bytes, and the unused high bits of the fifth byte
// zero.
func (r *reader) u32() (uint32, error) {
	var v uint32
	for i := 0; i < 5; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == 4 && c&0xf0 != 0 {
			return 0, fmt.Errorf("%w: u32 LEB128 overflows", ErrMalformed)
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: u32 LEB128 overflows", ErrMalformed) // not reached: the fifth byte ends it
}

// sleb reads a signed LEB128 integer of at most bits bits (32, 33 or 64),
// as the spec requires: at most ceil(bits/7) bytes, and the unused high
// bits of the last possible byte a sign extension. It returns the value
// for bits <= 63 (the s33 of a block type); for 64 only the length matters.
func (r *reader) sleb(bits int) (int64, error) {
	maxBytes := (bits + 6) / 7
	var v int64
	for i := 0; i < maxBytes; i++ {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if i == maxBytes-1 {
			// Value bits held by this byte; the rest of its 7 bits must
			// equal the sign bit (the highest value bit).
			k := bits - 7*(maxBytes-1)
			mask := byte(0x7f) &^ (1<<(k-1) - 1)
			if c&0x80 != 0 || (c&mask != 0 && c&mask != mask) {
				return 0, fmt.Errorf("%w: s%d LEB128 overflows", ErrMalformed, bits)
			}
		}
		v |= int64(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			if shift := 7 * (i + 1); shift < 64 && c&0x40 != 0 {
				v |= -1 << shift
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: s%d LEB128 overflows", ErrMalformed, bits) // not reached: the last byte ends it
}

// appendU32 appends v as an unsigned LEB128 integer in its shortest form.
func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendS32 appends v as a signed LEB128 integer in its shortest form.
func appendS32(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
