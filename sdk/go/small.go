package cogs

import "unsafe"

// Copying and comparing short strings without calls. Under standard Go's
// Wasm port a call to runtime.memmove or runtime.memequal costs more than
// a dozen loads and stores, and the strings of a change (field names and
// values, key prefixes, column names) are mostly short. A string of up to
// 16 bytes is read as two 8-byte words (Wasm allows unaligned access; see
// halves), which are then compared, or stored with two 8-byte stores.
// The loads never read past the end of the string: a string of 8 bytes or
// less is read by a load that ends at its end, so up to 7 bytes before
// its start are read and discarded. Those bytes are in linear memory (no
// Go object starts in its first 8 bytes), and the pointer formed to read
// them lives only in the expression that loads (no call, so no GC, can
// see it). The hot paths (Change.lookup, keyHasPrefix, Output.addColumn,
// Change.IntOK) repeat halves by hand where the compiler does not inline
// it.

// smallMax is the longest string the helpers handle.
const smallMax = 16

// pad gives empty strings, whose data pointer may be nil, an address to
// read from: &pad[8], whose 8 bytes before are zero.
var pad [16]byte

// load8 returns the 8 bytes at p+off, as a little-endian uint64.
func load8(p unsafe.Pointer, off int) uint64 {
	return *(*uint64)(unsafe.Add(p, off))
}

// store8 writes u at p+off, little-endian.
func store8(p unsafe.Pointer, off int, u uint64) {
	*(*uint64)(unsafe.Add(p, off)) = u
}

// clamp0 returns max(x, 0), by arithmetic: the compiler turns a branch
// into a conditional move only for values that no load address depends
// on.
func clamp0(x int) int { return x &^ (x >> 63) }

// halves returns the bytes of s (len(s) <= 16) as two words: lo holds the
// first min(8, len(s)) bytes, zero-padded; hi holds the last 8 bytes when
// len(s) > 8 and is 0 otherwise.
func halves(s string) (lo, hi uint64) {
	n := len(s)
	p := unsafe.Pointer(unsafe.StringData(s))
	// The empty string reads pad instead.
	p = unsafe.Add(p, (uintptr(unsafe.Pointer(&pad[8]))-uintptr(p))&uintptr((n-1)>>63))
	// A string shorter than 8 bytes is read by the load that ends at its
	// end, and shifted down. (For the empty string the shift is 64, taken
	// as 0 by the mask, and the bytes read are pad's zeros.)
	short := clamp0(8 - n)
	lo = load8(p, -short) >> (8 * uint(short) & 63)
	hi = load8(p, n-8) & uint64((8-n)>>63) // 0 unless n > 8
	return lo, hi
}
