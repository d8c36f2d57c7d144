package instrument

import (
	"errors"
	"testing"
)

func TestScreen(t *testing.T) {
	wasm := buildGuest(t, "loops")
	if err := Screen(wasm); err != nil {
		t.Fatalf("a Go module: %v", err)
	}
	for _, tc := range []struct {
		name string
		wasm []byte
	}{
		{"element segment count", []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01`\x00\x00\x03\x03\x02\x00\x00\b\x01\x00\t\x04\xff\xff\xff\x80\f\x01\x01\n\x0f\x02\x04\x00\x10\x01\v\b\x00\xfc\r\x00\xfc\t\x00\v\v\x04\x01\x01\x01x")},
		{"locals", mod(sec(1, vec(typeVoid)), sec(3, vec(b(0))), sec(10, vec(fn(vec(cat(u32(1<<32-1), b(0x7f))), b(0x0b)))))},
		{"not wasm", []byte("hello")},
		{"truncated", []byte("\x00asm\x01\x00\x00\x00\x01\x09")},
	} {
		if err := Screen(tc.wasm); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", tc.name, err)
		}
	}
}

// TestStartSectionRefused: a start function runs inside instantiation,
// where the flag cannot reach it, so such a module is left to wazero's own
// checks.
func TestStartSectionRefused(t *testing.T) {
	in := mod(sec(1, vec(typeVoid)), sec(3, vec(b(0))), sec(8, u32(0)), sec(10, vec(fn(vec(), b(0x0b)))))
	if _, err := Instrument(in, "cogs_interrupt"); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("got %v, want ErrUnsupported", err)
	}
}
