//! The ABI between the cogs host and a recipe: constants, the records that
//! cross the boundary, their binary wire encoding and their canonical text
//! form, as specified by `abi/SPEC.md` (version 1.0).
//!
//! Recipes rarely need this module: the crate root has the friendly API.
//! It is public for tools and tests (the native `cogs::testing`
//! harness returns these records).
//!
//! Decoders borrow: the strings of a decoded record are slices of the input
//! buffer. Every decoder fails with a [`DecodeError`] whose
//! [`code`](DecodeError::code) is the one the conformance vectors name.

mod consts;
mod text;
mod wire;

pub use consts::*;
pub use text::Quoted;
pub use wire::{decode_results, DecodeError, ErrorKind};

pub(crate) use wire::{put_str, put_uvarint, put_value, ChangeIndex};

use std::fmt;

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $value:expr, $text:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $name {
            $($(#[$vdoc])* $variant = $value,)+
        }

        impl $name {
            /// The enum value with this wire byte, if it is defined.
            pub fn from_u8(b: u8) -> Option<Self> {
                $(if b == $value { return Some($name::$variant); })+
                None
            }

            /// The name used in the canonical text form.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum! {
    /// What happened to a watched key.
    ChangeOp {
        /// The key was written; the change carries its post-image.
        Set = CHANGE_SET, "set";
        /// The key was deleted (DEL, UNLINK, HDEL of the last field, ...).
        Delete = CHANGE_DELETE, "delete";
        /// The key expired or was evicted (only for triggers with expiry deletes).
        Expired = CHANGE_EXPIRED, "expired";
    }
}

wire_enum! {
    /// The Redis type a trigger watches.
    DataKind {
        /// A hash; the post-image is its fields.
        Hash = DATA_HASH, "hash";
        /// A JSON document; the post-image is the document.
        Json = DATA_JSON, "json";
        /// A plain string; the post-image is its value.
        String = DATA_STRING, "string";
    }
}

wire_enum! {
    /// How a trigger's changes reach the target.
    Mode {
        /// Asynchronously, in batches, from the change stream.
        WriteBehind = MODE_WRITE_BEHIND, "write-behind";
        /// Synchronously, before the Redis write is performed.
        WriteThrough = MODE_WRITE_THROUGH, "write-through";
    }
}

wire_enum! {
    /// What a row operation does to its table.
    RowOpKind {
        /// Insert, or update the row with the same key columns.
        Upsert = ROW_UPSERT, "upsert";
        /// Delete the row with the key columns.
        Delete = ROW_DELETE, "delete";
        /// Insert; a duplicate key is a rejection.
        Insert = ROW_INSERT, "insert";
    }
}

/// A Redis stream entry ID, `<ms>-<seq>`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    /// Milliseconds part (the capture time).
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One typed column or parameter value.
///
/// `Str` holds the bytes of a string value: UTF-8 text by convention, but
/// the wire does not check it (Redis strings are bytes), so it is a byte
/// slice. Build values with `Into<Value>`: from `&str`, [`Text`](crate::Text),
/// integers, `f64`, `bool` and `Option` of those (`None` is NULL).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Value<'a> {
    /// NULL.
    #[default]
    Null,
    /// A string.
    Str(&'a [u8]),
    /// Opaque bytes.
    Bytes(&'a [u8]),
    /// An int64.
    Int(i64),
    /// A float64 (every bit, NaN payloads too, crosses the boundary).
    Float(f64),
    /// A bool.
    Bool(bool),
}

/// A named value: a column of a row operation or a recipe parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct Column<'a> {
    /// The column (or parameter) name.
    pub name: &'a [u8],
    /// Its value.
    pub value: Value<'a>,
}

/// A captured change of one watched key (the record `change_get` copies).
#[derive(Clone, Debug, PartialEq)]
pub struct Change<'a> {
    /// What happened to the key.
    pub op: ChangeOp,
    /// The matching trigger's data kind.
    pub data: DataKind,
    /// Index, in the recipe's declaration, of the trigger the key matched.
    pub trigger: u32,
    /// The change's stream entry ID.
    pub id: StreamId,
    /// The Redis key.
    pub key: &'a [u8],
    /// The hash post-image, (name, value) pairs in order.
    pub fields: Vec<(&'a [u8], &'a [u8])>,
    /// The JSON document or string post-image.
    pub doc: &'a [u8],
}

/// One operation on one row of a target table.
#[derive(Clone, Debug, PartialEq)]
pub struct RowOp<'a> {
    /// What to do to the row.
    pub op: RowOpKind,
    /// The target table.
    pub table: &'a [u8],
    /// The columns that identify the row (at least one).
    pub keys: Vec<Column<'a>>,
    /// The other columns to write (none for a delete).
    pub cols: Vec<Column<'a>>,
}

/// What a recipe did with one change.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome<'a> {
    /// Row operations (possibly none).
    Rows(Vec<RowOp<'a>>),
    /// Nothing to write; the change is acknowledged.
    Skip,
    /// The change is refused and goes to the dead-letter stream with this reason.
    Reject(&'a [u8]),
}

/// The result record for one change of a `cogs_map` call.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeResult<'a> {
    /// Index of the change in the call.
    pub change: u32,
    /// What the recipe made of it.
    pub outcome: Outcome<'a>,
}

/// A key-prefix trigger inside the recipe metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct Trigger<'a> {
    /// The key prefix to watch.
    pub prefix: &'a [u8],
    /// Write-behind or write-through.
    pub mode: Mode,
    /// The Redis type watched.
    pub data: DataKind,
    /// The name of a target connection in the host's configuration.
    pub connection: &'a [u8],
    /// Option bits (`TRIGGER_FLAG_*`).
    pub flags: u8,
}

/// The recipe metadata record a recipe declares in `cogs_init`.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipe<'a> {
    /// The recipe's name.
    pub name: &'a [u8],
    /// Its semantic version.
    pub version: &'a [u8],
    /// Its triggers.
    pub triggers: Vec<Trigger<'a>>,
    /// Its parameters (`batch_size`, `batch_age_ms`).
    pub params: Vec<Column<'a>>,
}
