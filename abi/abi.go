// Package abi is the contract between the cogs host and a recipe: the
// version, the names of the host functions and recipe exports, the status
// codes, and the binary wire encoding of every record that crosses the
// boundary (see SPEC.md in this directory).
//
// The package has no dependencies and uses neither reflect nor fmt, so it
// compiles with TinyGo and with GOOS=wasip1 as well as natively.
package abi

// Version of the ABI implemented by this package. A host speaking 1.m runs
// recipes built for 1.n when n <= m; any other major is refused.
const (
	VersionMajor = 1
	VersionMinor = 0
)

// ImportModule is the Wasm import module name of every host function.
const ImportModule = "cogs"

// VersionExportPrefix starts the name of the exported marker function by
// which a recipe states the ABI it was built for:
// "cogs_abi_version_<major>_<minor>", e.g. "cogs_abi_version_1_0".
const VersionExportPrefix = "cogs_abi_version_"

// Recipe exports.
const (
	ExportInitialize = "_initialize" // WASI reactor start, optional
	ExportInit       = "cogs_init"   // () -> i32 status
	ExportMap        = "cogs_map"    // (count i32) -> i32 status
	ExportMemory     = "memory"
)

// Host functions, all in module ImportModule.
const (
	FuncConfigGet  = "config_get"  // (buf, cap, len_ptr i32) -> i32
	FuncDeclare    = "declare"     // (ptr, len i32) -> i32
	FuncChangeGet  = "change_get"  // (index, buf, cap, len_ptr i32) -> i32
	FuncResultPush = "result_push" // (ptr, len i32) -> i32
	FuncLog        = "log"         // (level, ptr, len i32) -> i32
	FuncFail       = "fail"        // (ptr, len i32) -> i32
)

// Status is returned by every host function and by the recipe exports
// cogs_init and cogs_map.
type Status uint32

const (
	StatusOK             Status = 0 // success
	StatusNotFound       Status = 1 // no such change index
	StatusBufferTooSmall Status = 2 // needed length written to len_ptr, nothing copied
	StatusBadPointer     Status = 3 // a pointer/length pair is outside linear memory
	StatusBadEncoding    Status = 4 // a record does not decode
	StatusBadPhase       Status = 5 // the function may not be called in this phase
	StatusLimitExceeded  Status = 6 // output, log or message larger than the host allows
	StatusBadArgument    Status = 7 // a decoded record is invalid (duplicate result, bad index, ...)
	StatusRecipeError    Status = 8 // returned by a recipe export: the call failed (see fail)
)

// String returns the status code's name as used in SPEC.md.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "OK"
	case StatusNotFound:
		return "NOT_FOUND"
	case StatusBufferTooSmall:
		return "BUFFER_TOO_SMALL"
	case StatusBadPointer:
		return "BAD_POINTER"
	case StatusBadEncoding:
		return "BAD_ENCODING"
	case StatusBadPhase:
		return "BAD_PHASE"
	case StatusLimitExceeded:
		return "LIMIT_EXCEEDED"
	case StatusBadArgument:
		return "BAD_ARGUMENT"
	case StatusRecipeError:
		return "RECIPE_ERROR"
	}
	return "STATUS_" + utoa(uint64(s))
}

// LogLevel is the level argument of the log host function.
type LogLevel uint32

const (
	LogTrace LogLevel = 0
	LogDebug LogLevel = 1
	LogInfo  LogLevel = 2
	LogWarn  LogLevel = 3
	LogError LogLevel = 4
)

// Limits the host enforces; a recipe should stay well inside them.
const (
	MaxNameLen    = 64       // recipe name: [a-z0-9_-], starts with a letter
	MaxLogLen     = 4 << 10  // one log message
	MaxFailLen    = 4 << 10  // one failure message
	MaxReasonLen  = 4 << 10  // one rejection reason
	MaxRecordLen  = 64 << 20 // any single record on the wire
	MaxPushLen    = 64 << 20 // one result_push call
	MaxDeclareLen = 1 << 20  // the recipe metadata record
)

func utoa(u uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	return string(b[i:])
}

func itoa(v int64) string {
	if v < 0 {
		return "-" + utoa(uint64(-v))
	}
	return utoa(uint64(v))
}
