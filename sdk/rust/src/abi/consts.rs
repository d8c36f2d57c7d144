// Every constant of the ABI, named exactly as in the constants tables of
// abi/SPEC.md. tests/spec.rs parses those tables and checks this file
// against them in both directions, so keep one `pub const` per line.

/// Major version of the ABI this crate implements.
pub const ABI_VERSION_MAJOR: u32 = 1;
/// Minor version of the ABI this crate implements.
pub const ABI_VERSION_MINOR: u32 = 0;

/// Success.
pub const STATUS_OK: u32 = 0;
/// There is no change with that index in this call.
pub const STATUS_NOT_FOUND: u32 = 1;
/// The data is longer than the buffer; its length was written to `len_ptr`.
pub const STATUS_BUFFER_TOO_SMALL: u32 = 2;
/// A pointer/length pair is outside linear memory.
pub const STATUS_BAD_POINTER: u32 = 3;
/// A record does not decode.
pub const STATUS_BAD_ENCODING: u32 = 4;
/// The function may not be called in this phase, or not again.
pub const STATUS_BAD_PHASE: u32 = 5;
/// Output, a log message or a failure message is larger than the host allows.
pub const STATUS_LIMIT_EXCEEDED: u32 = 6;
/// An argument is out of range, or a record decodes but is invalid.
pub const STATUS_BAD_ARGUMENT: u32 = 7;
/// Returned by a recipe export: the call failed (the message set with `fail` says why).
pub const STATUS_RECIPE_ERROR: u32 = 8;

/// Log level trace.
pub const LOG_TRACE: u32 = 0;
/// Log level debug.
pub const LOG_DEBUG: u32 = 1;
/// Log level info.
pub const LOG_INFO: u32 = 2;
/// Log level warn.
pub const LOG_WARN: u32 = 3;
/// Log level error.
pub const LOG_ERROR: u32 = 4;

/// Value tag: NULL.
pub const VALUE_NULL: u8 = 0;
/// Value tag: string (UTF-8 text, not checked).
pub const VALUE_STRING: u8 = 1;
/// Value tag: opaque bytes.
pub const VALUE_BYTES: u8 = 2;
/// Value tag: int64.
pub const VALUE_INT: u8 = 3;
/// Value tag: float64 (IEEE 754 bits).
pub const VALUE_FLOAT: u8 = 4;
/// Value tag: bool.
pub const VALUE_BOOL: u8 = 5;

/// Change op: the key was written.
pub const CHANGE_SET: u8 = 1;
/// Change op: the key was deleted.
pub const CHANGE_DELETE: u8 = 2;
/// Change op: the key expired or was evicted.
pub const CHANGE_EXPIRED: u8 = 3;

/// Data kind: hash.
pub const DATA_HASH: u8 = 1;
/// Data kind: JSON document.
pub const DATA_JSON: u8 = 2;
/// Data kind: plain string.
pub const DATA_STRING: u8 = 3;

/// Trigger mode: write-behind.
pub const MODE_WRITE_BEHIND: u8 = 1;
/// Trigger mode: write-through.
pub const MODE_WRITE_THROUGH: u8 = 2;

/// Trigger flag: send op expired when a watched key expires or is evicted.
pub const TRIGGER_FLAG_EXPIRY_DELETES: u8 = 1;

/// Row operation: insert or update.
pub const ROW_UPSERT: u8 = 1;
/// Row operation: delete.
pub const ROW_DELETE: u8 = 2;
/// Row operation: insert (a duplicate key is a rejection).
pub const ROW_INSERT: u8 = 3;

/// Result outcome: row operations.
pub const OUTCOME_ROWS: u8 = 1;
/// Result outcome: skip.
pub const OUTCOME_SKIP: u8 = 2;
/// Result outcome: reject.
pub const OUTCOME_REJECT: u8 = 3;

/// Longest recipe name, version or parameter name, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// Longest log message, in bytes.
pub const MAX_LOG_LEN: usize = 4096;
/// Longest failure message, in bytes.
pub const MAX_FAIL_LEN: usize = 4096;
/// Longest reject reason, in bytes.
pub const MAX_REASON_LEN: usize = 4096;
/// Longest string in a record, and longest change record.
pub const MAX_RECORD_LEN: usize = 67108864;
/// Most bytes of one `result_push`.
pub const MAX_PUSH_LEN: usize = 67108864;
/// Most bytes of the `declare` record.
pub const MAX_DECLARE_LEN: usize = 1048576;

/// Wasm import module of every host function.
pub const IMPORT_MODULE: &str = "cogs";
/// Start of the version marker export, `cogs_abi_version_<major>_<minor>`.
pub const VERSION_EXPORT_PREFIX: &str = "cogs_abi_version_";
/// The optional WASI reactor initializer export.
pub const EXPORT_INITIALIZE: &str = "_initialize";
/// The init export, `() -> i32`.
pub const EXPORT_INIT: &str = "cogs_init";
/// The map export, `(i32) -> i32`.
pub const EXPORT_MAP: &str = "cogs_map";
/// The memory export.
pub const EXPORT_MEMORY: &str = "memory";
/// Host function `config_get`.
pub const FUNC_CONFIG_GET: &str = "config_get";
/// Host function `declare`.
pub const FUNC_DECLARE: &str = "declare";
/// Host function `change_get`.
pub const FUNC_CHANGE_GET: &str = "change_get";
/// Host function `result_push`.
pub const FUNC_RESULT_PUSH: &str = "result_push";
/// Host function `log`.
pub const FUNC_LOG: &str = "log";
/// Host function `fail`.
pub const FUNC_FAIL: &str = "fail";
/// Recipe parameter: changes per batch.
pub const PARAM_BATCH_SIZE: &str = "batch_size";
/// Recipe parameter: milliseconds before a partial batch closes.
pub const PARAM_BATCH_AGE_MS: &str = "batch_age_ms";
