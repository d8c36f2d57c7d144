package instrument

import (
	"errors"
	"math"
	"testing"
)

func TestReaderU32(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want uint32
		err  error
	}{
		{b(0x00), 0, nil},
		{b(0x7f), 127, nil},
		{b(0x80, 0x01), 128, nil},
		{b(0x80, 0x00), 0, nil}, // not the shortest form, but allowed
		{b(0xff, 0xff, 0xff, 0xff, 0x0f), math.MaxUint32, nil},
		{b(0xff, 0xff, 0xff, 0xff, 0x1f), 0, ErrMalformed},       // bit 32
		{b(0x80, 0x80, 0x80, 0x80, 0x80, 0x00), 0, ErrMalformed}, // 6 bytes
		{b(0x80, 0x80), 0, ErrMalformed},                         // truncated
		{nil, 0, ErrMalformed},
	} {
		r := reader{b: tc.in}
		got, err := r.u32()
		if got != tc.want || !errors.Is(err, tc.err) || err != nil && tc.err == nil {
			t.Errorf("% x: got %d, %v; want %d, %v", tc.in, got, err, tc.want, tc.err)
		}
		if err == nil && !r.done() {
			t.Errorf("% x: %d bytes left", tc.in, r.remaining())
		}
	}
}

func TestReaderSLEB(t *testing.T) {
	for _, tc := range []struct {
		bits int
		in   []byte
		want int64
		err  error
	}{
		{32, b(0x00), 0, nil},
		{32, b(0x7f), -1, nil},
		{32, b(0x3f), 63, nil},
		{32, b(0x40), -64, nil},
		{32, b(0xc0, 0x00), 64, nil},
		{32, b(0x80, 0x80, 0x80, 0x80, 0x78), math.MinInt32, nil},
		{32, b(0xff, 0xff, 0xff, 0xff, 0x07), math.MaxInt32, nil},
		{32, b(0xff, 0xff, 0xff, 0xff, 0x7f), -1, nil},
		{32, b(0x80, 0x80, 0x80, 0x80, 0x38), 0, ErrMalformed}, // bits 32-34 differ from bit 31
		{32, b(0xff, 0xff, 0xff, 0xff, 0x0f), 0, ErrMalformed},
		{32, b(0x80, 0x80, 0x80, 0x80, 0x80, 0x00), 0, ErrMalformed},
		{33, b(0xff, 0xff, 0xff, 0xff, 0x0f), math.MaxUint32, nil}, // a type index
		{33, b(0x80, 0x80, 0x80, 0x80, 0x70), -1 << 32, nil},
		{33, b(0x80, 0x80, 0x80, 0x80, 0x10), 0, ErrMalformed},
		{33, b(0x40), -64, nil}, // the empty block type
		{64, b(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f), math.MinInt64, nil},
		{64, b(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00), math.MaxInt64, nil},
		{64, b(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01), 0, ErrMalformed},
		{64, b(0x80), 0, ErrMalformed},
	} {
		r := reader{b: tc.in}
		got, err := r.sleb(tc.bits)
		if got != tc.want || !errors.Is(err, tc.err) || err != nil && tc.err == nil {
			t.Errorf("s%d % x: got %d, %v; want %d, %v", tc.bits, tc.in, got, err, tc.want, tc.err)
		}
		if err == nil && !r.done() {
			t.Errorf("s%d % x: %d bytes left", tc.bits, tc.in, r.remaining())
		}
	}
}

func TestAppendLEB(t *testing.T) {
	for _, v := range []int64{0, 1, 63, 64, 127, 128, 16384, math.MaxInt32, -1, -64, -65, -8192, math.MinInt32} {
		r := reader{b: appendS32(nil, int32(v))}
		if got, err := r.sleb(32); got != v || err != nil || !r.done() {
			t.Errorf("appendS32(%d) = % x, reads back as %d, %v", v, r.b, got, err)
		}
		if v < 0 {
			continue
		}
		r = reader{b: appendU32(nil, uint32(v))}
		if got, err := r.u32(); int64(got) != v || err != nil || !r.done() {
			t.Errorf("appendU32(%d) = % x, reads back as %d, %v", v, r.b, got, err)
		}
	}
	if got := appendS32(nil, 16384); string(got) != "\x80\x80\x01" {
		t.Errorf("appendS32(16384) = % x", got)
	}
}
