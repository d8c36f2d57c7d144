// Command badptr declares itself properly, then passes a buffer pointer
// outside its memory to change_get. It does not use the SDK (which never
// does that).
package main

import "github.com/cogs-dev/cogs/abi"

//go:wasmimport cogs declare
func declare(ptr *byte, n uint32) uint32

//go:wasmimport cogs change_get
func changeGet(index uint32, buf uint32, cap uint32, lenPtr *uint32) uint32

//go:wasmimport cogs fail
func fail(ptr *byte, n uint32) uint32

//go:wasmexport cogs_abi_version_1_0
func abiVersion() {}

//go:wasmexport cogs_init
func cogsInit() uint32 {
	meta := abi.AppendRecipe(nil, &abi.Recipe{Name: "badptr", Version: "1.0.0",
		Triggers: []abi.Trigger{{Prefix: "b:", Mode: abi.ModeWriteBehind, Data: abi.DataHash, Connection: "db"}}})
	return declare(&meta[0], uint32(len(meta)))
}

//go:wasmexport cogs_map
func cogsMap(count uint32) uint32 {
	var n uint32
	st := changeGet(0, 0xFFFFFF00, 1<<16, &n)
	msg := []byte("change_get returned " + abi.Status(st).String())
	fail(&msg[0], uint32(len(msg)))
	return uint32(abi.StatusRecipeError)
}

func main() {}
