use crate::abi::{ChangeIndex, ChangeOp, DataKind, StreamId};
use crate::{FieldError, Text, Trigger};

/// One change of a watched key, as the map function sees it. Everything it
/// returns borrows the SDK's change buffer and lives as long as the change.
#[derive(Clone, Copy)]
pub struct Change<'a> {
    buf: &'a [u8],
    idx: &'a ChangeIndex,
    trigger: &'a Trigger,
}

impl<'a> Change<'a> {
    pub(crate) fn new(buf: &'a [u8], idx: &'a ChangeIndex, trigger: &'a Trigger) -> Self {
        Change { buf, idx, trigger }
    }

    /// The Redis key.
    pub fn key(&self) -> Text<'a> {
        Text::new(self.idx.key.get(self.buf))
    }

    /// The key without its trigger's prefix (`person:42` gives `42`).
    pub fn key_suffix(&self) -> Text<'a> {
        Text::new(&self.idx.key.get(self.buf)[self.trigger.prefix().len()..])
    }

    /// What happened to the key.
    pub fn op(&self) -> ChangeOp {
        self.idx.op
    }

    /// Whether the key no longer exists: deleted, or expired for a trigger
    /// with expiry deletes.
    pub fn is_deleted(&self) -> bool {
        self.idx.op != ChangeOp::Set
    }

    /// The Redis type of the key (its trigger's data kind).
    pub fn data(&self) -> DataKind {
        self.idx.data
    }

    /// The change's stream entry ID.
    pub fn id(&self) -> StreamId {
        self.idx.id
    }

    /// The trigger whose prefix the key matched.
    pub fn trigger(&self) -> &'a Trigger {
        self.trigger
    }

    /// The index of that trigger in the recipe's declaration.
    pub fn trigger_index(&self) -> usize {
        self.idx.trigger as usize
    }

    /// The hash post-image: (name, value) pairs, in order. Empty for a
    /// deletion and for JSON and string keys.
    pub fn fields(&self) -> impl Iterator<Item = (Text<'a>, Text<'a>)> + 'a {
        let buf = self.buf;
        self.idx
            .fields
            .iter()
            .map(move |&(n, v)| (Text::new(n.get(buf)), Text::new(v.get(buf))))
    }

    /// The number of hash fields.
    pub fn field_count(&self) -> usize {
        self.idx.fields.len()
    }

    /// The value of the hash field `name` (the first one, should the
    /// post-image repeat a name), or `None` when it is absent.
    pub fn get(&self, name: &str) -> Option<Text<'a>> {
        let name = name.as_bytes();
        self.idx
            .fields
            .iter()
            .find(|(n, _)| n.get(self.buf) == name)
            .map(|(_, v)| Text::new(v.get(self.buf)))
    }

    /// Whether the hash has the field `name`.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The hash field `name` as a base-10 `i64` (an optional sign, then
    /// digits, as Go's `strconv.ParseInt(s, 10, 64)`): `Ok(None)` when the
    /// field is absent, `Err` when it is present but not such an integer.
    pub fn int(&self, name: &str) -> Result<Option<i64>, FieldError> {
        match self.get(name) {
            None => Ok(None),
            Some(t) => parse_i64(t.as_bytes())
                .map(Some)
                .ok_or_else(|| FieldError::new(name, "an integer")),
        }
    }

    /// The hash field `name` as an `f64` (Rust's `f64::from_str` syntax):
    /// `Ok(None)` when the field is absent, `Err` when it does not parse.
    pub fn float(&self, name: &str) -> Result<Option<f64>, FieldError> {
        match self.get(name) {
            None => Ok(None),
            Some(t) => t
                .to_str()
                .ok()
                .and_then(|s| s.parse::<f64>().ok())
                .map(Some)
                .ok_or_else(|| FieldError::new(name, "a number")),
        }
    }

    /// The hash field `name` as a `bool` (`1 t T true TRUE True` and
    /// `0 f F false FALSE False`, as Go's `strconv.ParseBool`): `Ok(None)`
    /// when the field is absent, `Err` for anything else.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, FieldError> {
        match self.get(name) {
            None => Ok(None),
            Some(t) => match t.as_bytes() {
                b"1" | b"t" | b"T" | b"true" | b"TRUE" | b"True" => Ok(Some(true)),
                b"0" | b"f" | b"F" | b"false" | b"FALSE" | b"False" => Ok(Some(false)),
                _ => Err(FieldError::new(name, "a boolean")),
            },
        }
    }

    /// The JSON document or string post-image (empty for a hash or a
    /// deletion).
    pub fn doc(&self) -> Text<'a> {
        Text::new(self.idx.doc.get(self.buf))
    }
}

impl std::fmt::Debug for Change<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Change")
            .field("op", &self.op())
            .field("id", &self.id())
            .field("key", &self.key())
            .field("fields", &self.fields().collect::<Vec<_>>())
            .field("doc", &self.doc())
            .finish()
    }
}

/// Parses an optional sign and base-10 digits into an i64, refusing
/// anything else and overflow (the syntax of Go's strconv.ParseInt).
fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > 1 << 63 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::parse_i64;

    #[test]
    fn parse_i64_like_go() {
        let cases: &[(&str, Option<i64>)] = &[
            ("0", Some(0)),
            ("42", Some(42)),
            ("-1", Some(-1)),
            ("+7", Some(7)),
            ("-0", Some(0)),
            ("007", Some(7)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("-9223372036854775809", None),
            ("99999999999999999999", None),
            ("", None),
            ("-", None),
            ("+", None),
            (" 1", None),
            ("1 ", None),
            ("1_000", None),
            ("0x10", None),
            ("1e3", None),
            ("--1", None),
            ("forty", None),
        ];
        for &(s, want) in cases {
            assert_eq!(parse_i64(s.as_bytes()), want, "{:?}", s);
        }
    }
}
