//go:build wasm

package cogs

// wordTricks enables the fast paths that read short strings as 8-byte
// words (see small.go). They may read up to 7 bytes before a string, which
// is always inside Wasm linear memory; a native build must not (it could
// touch an unmapped page, and -race's checkptr refuses it), so there they
// are compiled out and the plain paths run.
const wordTricks = true
