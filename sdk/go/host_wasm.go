//go:build wasm

package cogs

import (
	"unsafe"

	"github.com/cogs-dev/cogs/abi"
)

// Host functions, see abi/SPEC.md.

//go:wasmimport cogs config_get
func importConfigGet(buf *byte, cap uint32, lenPtr *uint32) uint32

//go:wasmimport cogs declare
func importDeclare(ptr *byte, n uint32) uint32

//go:wasmimport cogs change_get
func importChangeGet(index uint32, buf *byte, cap uint32, lenPtr *uint32) uint32

//go:wasmimport cogs result_push
func importResultPush(ptr *byte, n uint32) uint32

//go:wasmimport cogs log
func importLog(level uint32, ptr *byte, n uint32) uint32

//go:wasmimport cogs fail
func importFail(ptr *byte, n uint32) uint32

// Recipe exports.

//go:wasmexport cogs_abi_version_1_0
func abiVersion() {}

//go:wasmexport cogs_init
func exportInit() uint32 { return uint32(initRecipe()) }

//go:wasmexport cogs_map
func exportMap(count uint32) uint32 { return uint32(mapBatch(count)) }

func bufPtr(b []byte) *byte {
	if len(b) == 0 {
		return nil
	}
	return &b[0]
}

func strPtr(s string) *byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.StringData(s)
}

func hostConfig() ([]byte, abi.Status) {
	var n uint32
	st := abi.Status(importConfigGet(nil, 0, &n))
	if st == abi.StatusOK {
		return nil, st
	}
	if st != abi.StatusBufferTooSmall {
		return nil, st
	}
	b := make([]byte, n)
	st = abi.Status(importConfigGet(&b[0], n, &n))
	return b[:n], st
}

func hostDeclare(meta []byte) abi.Status {
	return abi.Status(importDeclare(bufPtr(meta), uint32(len(meta))))
}

// changeLen receives the length change_get writes; a package variable,
// because a local whose address goes to an import escapes to the heap.
var changeLen uint32

// hostChangeGet is called once per change: it passes the buffer's pointer
// as it is (nil for a nil buffer) rather than through bufPtr, whose branch
// would keep it from being inlined.
func hostChangeGet(i uint32, buf []byte) (uint32, abi.Status) {
	st := abi.Status(importChangeGet(i, unsafe.SliceData(buf), uint32(len(buf)), &changeLen))
	return changeLen, st
}

func hostResultPush(b []byte) abi.Status {
	return abi.Status(importResultPush(bufPtr(b), uint32(len(b))))
}

func hostLog(level abi.LogLevel, msg string) {
	importLog(uint32(level), strPtr(msg), uint32(len(msg)))
}

func hostFail(msg string) {
	importFail(strPtr(msg), uint32(len(msg)))
}
