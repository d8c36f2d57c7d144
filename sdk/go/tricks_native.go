//go:build !wasm

package cogs

// wordTricks is false in native builds: see tricks_wasm.go.
const wordTricks = false
