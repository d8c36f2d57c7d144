use crate::abi::{self, DataKind, Mode, Value};
use crate::{Change, Output};
use std::fmt;

pub(crate) type MapFn = dyn Fn(&Change<'_>, &mut Output) -> Result<(), Reject>;

/// A recipe: its name, version, triggers, batching parameters and the
/// function that maps each change. Build one with [`Recipe::new`] and the
/// chained setters, and hand the function that builds it to
/// [`register!`](crate::register).
pub struct Recipe {
    name: String,
    version: String,
    triggers: Vec<Trigger>,
    batch_size: Option<u32>,
    batch_age_ms: Option<u32>,
    map: Option<Box<MapFn>>,
}

impl Recipe {
    /// A recipe named `name` (`[a-z][a-z0-9_-]*`, at most 64 bytes) at
    /// semantic version `version` (e.g. `"1.2.0"`), with no trigger yet.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Recipe {
            name: name.into(),
            version: version.into(),
            triggers: Vec::new(),
            batch_size: None,
            batch_age_ms: None,
            map: None,
        }
    }

    /// Adds a trigger. A recipe needs at least one, and no trigger's
    /// prefix may be a prefix of another's.
    pub fn trigger(mut self, t: Trigger) -> Self {
        self.triggers.push(t);
        self
    }

    /// Overrides the host's batch size (changes per batch, 1 to 1000000)
    /// for this recipe's streams.
    pub fn batch_size(mut self, n: u32) -> Self {
        self.batch_size = Some(n);
        self
    }

    /// Overrides the host's batch age (milliseconds before a partial batch
    /// closes, 1 to 3600000) for this recipe's streams.
    pub fn batch_age_ms(mut self, ms: u32) -> Self {
        self.batch_age_ms = Some(ms);
        self
    }

    /// Sets the function that maps one change into row operations on
    /// `out`. Returning `Ok(())` with no row operation skips the change;
    /// returning `Err(reject)` refuses it (it goes to the recipe's
    /// dead-letter stream with the reason). A panic fails the whole batch.
    pub fn map<F>(mut self, f: F) -> Self
    where
        F: Fn(&Change<'_>, &mut Output) -> Result<(), Reject> + 'static,
    {
        self.map = Some(Box::new(f));
        self
    }

    /// The recipe's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The recipe's version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The recipe's triggers, in declaration order (a change's
    /// [`trigger_index`](Change::trigger_index) indexes them).
    pub fn triggers(&self) -> &[Trigger] {
        &self.triggers
    }

    pub(crate) fn map_fn(&self) -> Option<&MapFn> {
        self.map.as_deref()
    }

    /// The recipe metadata record declared to the host.
    pub(crate) fn encode_meta(&self, out: &mut Vec<u8>) {
        let meta = abi::Recipe {
            name: self.name.as_bytes(),
            version: self.version.as_bytes(),
            triggers: self
                .triggers
                .iter()
                .map(|t| abi::Trigger {
                    prefix: t.prefix.as_bytes(),
                    mode: t.mode,
                    data: t.data,
                    connection: t.connection.as_bytes(),
                    flags: if t.expiry_deletes {
                        abi::TRIGGER_FLAG_EXPIRY_DELETES
                    } else {
                        0
                    },
                })
                .collect(),
            params: [
                (abi::PARAM_BATCH_SIZE, self.batch_size),
                (abi::PARAM_BATCH_AGE_MS, self.batch_age_ms),
            ]
            .iter()
            .filter_map(|&(name, v)| {
                v.map(|v| abi::Column {
                    name: name.as_bytes(),
                    value: Value::Int(i64::from(v)),
                })
            })
            .collect(),
        };
        meta.encode(out);
    }
}

impl fmt::Debug for Recipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recipe")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("triggers", &self.triggers)
            .field("batch_size", &self.batch_size)
            .field("batch_age_ms", &self.batch_age_ms)
            .field("map", &self.map.as_ref().map(|_| "fn"))
            .finish()
    }
}

/// Watches the Redis keys that start with a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trigger {
    prefix: String,
    data: DataKind,
    mode: Mode,
    connection: String,
    expiry_deletes: bool,
}

impl Trigger {
    /// Watches the keys of kind `data` that start with `prefix`, writing
    /// behind to the target connection named `connection` in the host's
    /// configuration.
    pub fn new(prefix: impl Into<String>, data: DataKind, connection: impl Into<String>) -> Self {
        Trigger {
            prefix: prefix.into(),
            data,
            mode: Mode::WriteBehind,
            connection: connection.into(),
            expiry_deletes: false,
        }
    }

    /// Watches hashes: a change carries the hash's fields.
    pub fn hash(prefix: impl Into<String>, connection: impl Into<String>) -> Self {
        Trigger::new(prefix, DataKind::Hash, connection)
    }

    /// Watches JSON documents: a change carries the document.
    pub fn json(prefix: impl Into<String>, connection: impl Into<String>) -> Self {
        Trigger::new(prefix, DataKind::Json, connection)
    }

    /// Watches plain strings: a change carries the string's value.
    pub fn string(prefix: impl Into<String>, connection: impl Into<String>) -> Self {
        Trigger::new(prefix, DataKind::String, connection)
    }

    /// Applies changes synchronously, before the Redis write is performed
    /// (the default is write-behind).
    pub fn write_through(mut self) -> Self {
        self.mode = Mode::WriteThrough;
        self
    }

    /// Asks for a change (op expired) when a watched key expires or is
    /// evicted. Off by default: a cache entry leaving Redis is not a
    /// delete in the system of record.
    pub fn expiry_deletes(mut self) -> Self {
        self.expiry_deletes = true;
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The Redis type watched.
    pub fn data(&self) -> DataKind {
        self.data
    }

    /// Write-behind or write-through.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The target connection's name.
    pub fn connection(&self) -> &str {
        &self.connection
    }

    /// Whether expiry and eviction are sent as changes.
    pub fn has_expiry_deletes(&self) -> bool {
        self.expiry_deletes
    }
}

/// An error that fails the recipe's load (returned by the function given
/// to [`register!`](crate::register)); its message is what the host reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(String);

impl Error {
    /// An error with this message.
    pub fn new(msg: impl fmt::Display) -> Self {
        Error(msg.to_string())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<&str> for Error {
    fn from(s: &str) -> Self {
        Error(s.to_owned())
    }
}

impl From<String> for Error {
    fn from(s: String) -> Self {
        Error(s)
    }
}

/// The refusal of one change: the change goes to the recipe's dead-letter
/// stream with the reason (cut to 4096 bytes), nothing is written for it,
/// and the other changes of the batch go through. Return it as the `Err`
/// of the map function, often with `?`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject(String);

impl Reject {
    /// A rejection with this reason.
    pub fn new(reason: impl fmt::Display) -> Self {
        Reject(reason.to_string())
    }

    /// The reason.
    pub fn reason(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Reject {
    fn from(s: &str) -> Self {
        Reject(s.to_owned())
    }
}

impl From<String> for Reject {
    fn from(s: String) -> Self {
        Reject(s)
    }
}

/// A hash field that is present but does not parse as the type asked for.
/// It converts into a [`Reject`] (`field "age" is not an integer`), so
/// `change.int("age")?` in a map function rejects such a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    field: String,
    want: &'static str,
}

impl FieldError {
    pub(crate) fn new(field: &str, want: &'static str) -> Self {
        FieldError {
            field: field.to_owned(),
            want,
        }
    }

    /// The field's name.
    pub fn field(&self) -> &str {
        &self.field
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field {:?} is not {}", self.field, self.want)
    }
}

impl std::error::Error for FieldError {}

impl From<FieldError> for Reject {
    fn from(e: FieldError) -> Self {
        Reject(e.to_string())
    }
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
        Error(e.to_string())
    }
}
