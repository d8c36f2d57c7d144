// Command wrongabi claims ABI 2.0, which this host does not speak. It does
// not use the SDK (which always claims the ABI it implements).
package main

//go:wasmexport cogs_abi_version_2_0
func abiVersion() {}

//go:wasmexport cogs_init
func cogsInit() uint32 { return 0 }

//go:wasmexport cogs_map
func cogsMap(count uint32) uint32 { return 0 }

func main() {}
