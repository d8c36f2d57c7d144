package instrument

import (
	"bytes"
	"fmt"
)

// MaxLocals is the most locals one function may declare (parameters not
// counted); wasmtime and V8 use the same limit.
const MaxLocals = 50000

// Screen checks, before a module reaches wazero's decoder, the counts that
// make wazero v1.12 allocate without bound or crash on a tiny module: every
// vector section's element count must fit in the section's bytes (each
// element takes at least one), and a function may declare at most
// MaxLocals locals. It returns an ErrMalformed error naming the section, or
// nil; it does not validate the module otherwise.
func Screen(wasm []byte) error {
	if len(wasm) < len(header) || !bytes.Equal(wasm[:len(header)], header) {
		return fmt.Errorf("%w: not a WebAssembly 1.0 binary module", ErrMalformed)
	}
	r := reader{b: wasm, off: len(header)}
	for !r.done() {
		id, err := r.byte()
		if err != nil {
			return err
		}
		size, err := r.u32()
		if err != nil {
			return fmt.Errorf("section %d: size: %w", id, err)
		}
		body, err := r.bytes(size)
		if err != nil {
			return fmt.Errorf("section %d: %w", id, err)
		}
		switch id {
		case 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 13: // type ... data, tag: vec(...)
			br := reader{b: body}
			n, err := br.u32()
			if err != nil {
				return fmt.Errorf("section %d: count: %w", id, err)
			}
			if int64(n) > int64(br.remaining()) {
				return fmt.Errorf("%w: section %d announces %d entries in %d bytes", ErrMalformed, id, n, br.remaining())
			}
			if id == 10 {
				if err := screenCode(&br, n); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func screenCode(r *reader, n uint32) error {
	for i := uint32(0); i < n; i++ {
		size, err := r.u32()
		if err != nil {
			return fmt.Errorf("code section: function %d: %w", i, err)
		}
		body, err := r.bytes(size)
		if err != nil {
			return fmt.Errorf("code section: function %d: %w", i, err)
		}
		br := reader{b: body}
		decls, err := br.u32()
		if err != nil {
			return fmt.Errorf("code section: function %d: locals: %w", i, err)
		}
		if int64(decls) > int64(br.remaining()) {
			return fmt.Errorf("%w: code section: function %d announces %d local declarations in %d bytes", ErrMalformed, i, decls, br.remaining())
		}
		total := uint64(0)
		for d := uint32(0); d < decls; d++ {
			c, err := br.u32()
			if err != nil {
				return fmt.Errorf("code section: function %d: locals: %w", i, err)
			}
			if _, err := br.byte(); err != nil {
				return fmt.Errorf("code section: function %d: locals: %w", i, err)
			}
			total += uint64(c)
			if total > MaxLocals {
				return fmt.Errorf("%w: code section: function %d declares more than %d locals", ErrMalformed, i, MaxLocals)
			}
		}
	}
	return nil
}
