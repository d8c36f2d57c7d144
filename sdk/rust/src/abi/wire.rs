//! The wire encoding (abi/SPEC.md, "Wire encoding"): encoders append to a
//! `Vec<u8>`, decoders read a byte slice field by field and stop at the
//! first problem, with the error of the first offending field.

use super::*;
use std::fmt;

/// The kind of a decode error, as named by the conformance vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The input ends inside a field, or a count exceeds the bytes left.
    Truncated,
    /// A uvarint is longer than 10 bytes or overflows 64 bits.
    Varint,
    /// An op, kind, mode, outcome, tag or flag is not defined.
    Enum,
    /// A length is over its limit, or an index does not fit in a u32.
    TooLong,
    /// Bytes are left after a record that must be alone.
    Trailing,
    /// Well-formed but against a rule (e.g. a delete with columns).
    Invalid,
}

impl ErrorKind {
    /// The code of the conformance vectors: `truncated`, `varint`, `enum`,
    /// `too-long`, `trailing` or `invalid`.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Truncated => "truncated",
            ErrorKind::Varint => "varint",
            ErrorKind::Enum => "enum",
            ErrorKind::TooLong => "too-long",
            ErrorKind::Trailing => "trailing",
            ErrorKind::Invalid => "invalid",
        }
    }

    fn message(self) -> &'static str {
        match self {
            ErrorKind::Truncated => "truncated",
            ErrorKind::Varint => "bad varint",
            ErrorKind::Enum => "unknown enum",
            ErrorKind::TooLong => "too long",
            ErrorKind::Trailing => "trailing bytes",
            ErrorKind::Invalid => "invalid",
        }
    }
}

/// Why a record does not decode: which record and field, and where.
/// Only [`kind`](DecodeError::kind) is part of conformance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// The record being decoded: `change`, `row`, `result`, `trigger`, `recipe` or `value`.
    pub record: &'static str,
    /// The field that failed.
    pub field: &'static str,
    /// The byte offset where decoding stopped.
    pub offset: usize,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl DecodeError {
    /// The conformance code of the error (see [`ErrorKind::code`]).
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "abi: decode {}.{} at offset {}: {}",
            self.record,
            self.field,
            self.offset,
            self.kind.message()
        )
    }
}

impl std::error::Error for DecodeError {}

type Res<T> = Result<T, DecodeError>;

/// A string inside a buffer: `[off, off+len)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub off: usize,
    pub len: usize,
}

impl Span {
    pub fn get(self, b: &[u8]) -> &[u8] {
        &b[self.off..self.off + self.len]
    }
}

pub(crate) struct Reader<'a> {
    b: &'a [u8],
    off: usize,
    record: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8], record: &'static str) -> Self {
        Reader { b, off: 0, record }
    }

    fn left(&self) -> usize {
        self.b.len() - self.off
    }

    fn err(&self, field: &'static str, kind: ErrorKind) -> DecodeError {
        DecodeError {
            record: self.record,
            field,
            offset: self.off,
            kind,
        }
    }

    fn u8(&mut self, field: &'static str) -> Res<u8> {
        match self.b.get(self.off) {
            Some(&v) => {
                self.off += 1;
                Ok(v)
            }
            None => Err(self.err(field, ErrorKind::Truncated)),
        }
    }

    fn u64(&mut self, field: &'static str) -> Res<u64> {
        if self.left() < 8 {
            return Err(self.err(field, ErrorKind::Truncated));
        }
        let mut a = [0u8; 8];
        a.copy_from_slice(&self.b[self.off..self.off + 8]);
        self.off += 8;
        Ok(u64::from_le_bytes(a))
    }

    fn uvarint(&mut self, field: &'static str) -> Res<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let c = self.u8(field)?;
            if i == 9 && c > 1 {
                return Err(self.err(field, ErrorKind::Varint));
            }
            v |= u64::from(c & 0x7f) << (7 * i);
            if c < 0x80 {
                return Ok(v);
            }
        }
        Err(self.err(field, ErrorKind::Varint))
    }

    fn index(&mut self, field: &'static str) -> Res<u32> {
        let v = self.uvarint(field)?;
        if v > u64::from(u32::MAX) {
            return Err(self.err(field, ErrorKind::TooLong));
        }
        Ok(v as u32)
    }

    /// An element count: every element takes at least one byte, so a
    /// count over the bytes left is truncation (and never allocates).
    fn count(&mut self, field: &'static str) -> Res<usize> {
        let n = self.uvarint(field)?;
        if n > self.left() as u64 {
            return Err(self.err(field, ErrorKind::Truncated));
        }
        Ok(n as usize)
    }

    fn span(&mut self, field: &'static str, max: usize) -> Res<Span> {
        let n = self.uvarint(field)?;
        if n > max as u64 {
            return Err(self.err(field, ErrorKind::TooLong));
        }
        if n > self.left() as u64 {
            return Err(self.err(field, ErrorKind::Truncated));
        }
        let s = Span {
            off: self.off,
            len: n as usize,
        };
        self.off += s.len;
        Ok(s)
    }

    fn str(&mut self, field: &'static str, max: usize) -> Res<&'a [u8]> {
        let s = self.span(field, max)?;
        Ok(s.get(self.b))
    }

    fn enumb(&mut self, field: &'static str, max: u8) -> Res<u8> {
        let v = self.u8(field)?;
        if v == 0 || v > max {
            self.off -= 1;
            return Err(self.err(field, ErrorKind::Enum));
        }
        Ok(v)
    }

    fn value(&mut self, field: &'static str) -> Res<Value<'a>> {
        let tag = self.u8(field)?;
        Ok(match tag {
            VALUE_NULL => Value::Null,
            VALUE_STRING => Value::Str(self.str(field, MAX_RECORD_LEN)?),
            VALUE_BYTES => Value::Bytes(self.str(field, MAX_RECORD_LEN)?),
            VALUE_INT => Value::Int(self.u64(field)? as i64),
            VALUE_FLOAT => Value::Float(f64::from_bits(self.u64(field)?)),
            VALUE_BOOL => match self.u8(field)? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                _ => {
                    self.off -= 1;
                    return Err(self.err(field, ErrorKind::Invalid));
                }
            },
            _ => {
                self.off -= 1;
                return Err(self.err(field, ErrorKind::Enum));
            }
        })
    }

    pub fn end(&self) -> Res<()> {
        if self.off != self.b.len() {
            return Err(self.err("end", ErrorKind::Trailing));
        }
        Ok(())
    }

    fn columns(&mut self, field: &'static str, none: bool) -> Res<Vec<Column<'a>>> {
        let n = self.count(field)?;
        if n == 0 {
            return Ok(Vec::new());
        }
        if none {
            return Err(self.err(field, ErrorKind::Invalid)); // a delete carries no columns
        }
        let mut cols = Vec::with_capacity(n.min(self.left() / 2 + 1));
        for _ in 0..n {
            let name = self.str("column_name", MAX_RECORD_LEN)?;
            let value = self.value("column_value")?;
            cols.push(Column { name, value });
        }
        Ok(cols)
    }

    fn row_op(&mut self) -> Res<RowOp<'a>> {
        self.record = "row";
        let op = RowOpKind::from_u8(self.enumb("op", ROW_INSERT)?).unwrap();
        let table = self.str("table", MAX_RECORD_LEN)?;
        if table.is_empty() {
            return Err(self.err("table", ErrorKind::Invalid));
        }
        let keys = self.columns("nkeys", false)?;
        if keys.is_empty() {
            return Err(self.err("nkeys", ErrorKind::Invalid));
        }
        let cols = self.columns("ncols", op == RowOpKind::Delete)?;
        Ok(RowOp {
            op,
            table,
            keys,
            cols,
        })
    }

    fn result(&mut self) -> Res<ChangeResult<'a>> {
        self.record = "result";
        let outcome = self.enumb("outcome", OUTCOME_REJECT)?;
        let change = self.index("change")?;
        let outcome = match outcome {
            OUTCOME_ROWS => {
                let n = self.count("nrows")?;
                let mut rows = Vec::with_capacity(n.min(self.left() / 7 + 1));
                for _ in 0..n {
                    rows.push(self.row_op()?);
                }
                self.record = "result";
                Outcome::Rows(rows)
            }
            OUTCOME_SKIP => Outcome::Skip,
            _ => Outcome::Reject(self.str("reason", MAX_REASON_LEN)?),
        };
        Ok(ChangeResult { change, outcome })
    }

    fn trigger(&mut self) -> Res<Trigger<'a>> {
        self.record = "trigger";
        let prefix = self.str("prefix", MAX_RECORD_LEN)?;
        if prefix.is_empty() {
            return Err(self.err("prefix", ErrorKind::Invalid));
        }
        let mode = Mode::from_u8(self.enumb("mode", MODE_WRITE_THROUGH)?).unwrap();
        let data = DataKind::from_u8(self.enumb("data", DATA_STRING)?).unwrap();
        let connection = self.str("connection", MAX_RECORD_LEN)?;
        let flags = self.u8("flags")?;
        if flags & !TRIGGER_FLAG_EXPIRY_DELETES != 0 {
            self.off -= 1;
            return Err(self.err("flags", ErrorKind::Enum));
        }
        Ok(Trigger {
            prefix,
            mode,
            data,
            connection,
            flags,
        })
    }

    fn recipe(&mut self) -> Res<Recipe<'a>> {
        self.record = "recipe";
        let name = self.str("name", MAX_NAME_LEN)?;
        let version = self.str("version", MAX_NAME_LEN)?;
        let n = self.count("ntriggers")?;
        let mut triggers = Vec::with_capacity(n);
        for _ in 0..n {
            triggers.push(self.trigger()?);
            self.record = "recipe";
        }
        let n = self.count("nparams")?;
        let mut params = Vec::with_capacity(n);
        for _ in 0..n {
            let name = self.str("param_name", MAX_NAME_LEN)?;
            let value = self.value("param_value")?;
            params.push(Column { name, value });
        }
        Ok(Recipe {
            name,
            version,
            triggers,
            params,
        })
    }
}

/// A change record decoded as offsets into its buffer, so one index (and
/// its field list) is reused for every change of a batch without tying
/// it to the buffer's borrow.
#[derive(Clone, Debug)]
pub(crate) struct ChangeIndex {
    pub op: ChangeOp,
    pub data: DataKind,
    pub trigger: u32,
    pub id: StreamId,
    pub key: Span,
    pub fields: Vec<(Span, Span)>,
    pub doc: Span,
}

impl Default for ChangeIndex {
    fn default() -> Self {
        ChangeIndex {
            op: ChangeOp::Set,
            data: DataKind::Hash,
            trigger: 0,
            id: StreamId::default(),
            key: Span::default(),
            fields: Vec::new(),
            doc: Span::default(),
        }
    }
}

impl ChangeIndex {
    /// Decodes b, which must hold exactly one change record, into self.
    pub fn decode(&mut self, b: &[u8]) -> Res<()> {
        let mut r = Reader::new(b, "change");
        self.op = ChangeOp::from_u8(r.enumb("op", CHANGE_EXPIRED)?).unwrap();
        self.data = DataKind::from_u8(r.enumb("data", DATA_STRING)?).unwrap();
        self.trigger = r.index("trigger")?;
        self.id.ms = r.u64("id_ms")?;
        self.id.seq = r.u64("id_seq")?;
        self.key = r.span("key", MAX_RECORD_LEN)?;
        let n = r.count("nfields")?;
        self.fields.clear();
        for _ in 0..n {
            let name = r.span("field_name", MAX_RECORD_LEN)?;
            let value = r.span("field_value", MAX_RECORD_LEN)?;
            self.fields.push((name, value));
        }
        self.doc = r.span("doc", MAX_RECORD_LEN)?;
        r.end()
    }
}

// ---- decoding entry points ----

impl<'a> Value<'a> {
    /// Decodes b, which must hold exactly one typed value.
    pub fn decode(b: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b, "value");
        let v = r.value("value")?;
        r.end()?;
        Ok(v)
    }

    /// Appends the value's encoding (tag and payload) to out.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_value(out, *self)
    }
}

impl<'a> Change<'a> {
    /// Decodes b, which must hold exactly one change record.
    pub fn decode(b: &'a [u8]) -> Result<Self, DecodeError> {
        let mut idx = ChangeIndex::default();
        idx.decode(b)?;
        Ok(Change {
            op: idx.op,
            data: idx.data,
            trigger: idx.trigger,
            id: idx.id,
            key: idx.key.get(b),
            fields: idx
                .fields
                .iter()
                .map(|&(n, v)| (n.get(b), v.get(b)))
                .collect(),
            doc: idx.doc.get(b),
        })
    }

    /// Appends the change record to out.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.op as u8);
        out.push(self.data as u8);
        put_uvarint(out, u64::from(self.trigger));
        out.extend_from_slice(&self.id.ms.to_le_bytes());
        out.extend_from_slice(&self.id.seq.to_le_bytes());
        put_str(out, self.key);
        put_uvarint(out, self.fields.len() as u64);
        for (name, value) in &self.fields {
            put_str(out, name);
            put_str(out, value);
        }
        put_str(out, self.doc);
    }
}

impl<'a> RowOp<'a> {
    /// Decodes b, which must hold exactly one row operation.
    pub fn decode(b: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b, "row");
        let op = r.row_op()?;
        r.end()?;
        Ok(op)
    }

    /// Appends the row operation record to out.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.op as u8);
        put_str(out, self.table);
        put_columns(out, &self.keys);
        put_columns(out, &self.cols);
    }
}

impl<'a> ChangeResult<'a> {
    /// Decodes b, which must hold exactly one result record.
    pub fn decode(b: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b, "result");
        let res = r.result()?;
        r.end()?;
        Ok(res)
    }

    /// Appends the result record to out.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match &self.outcome {
            Outcome::Rows(rows) => {
                out.push(OUTCOME_ROWS);
                put_uvarint(out, u64::from(self.change));
                put_uvarint(out, rows.len() as u64);
                for row in rows {
                    row.encode(out);
                }
            }
            Outcome::Skip => {
                out.push(OUTCOME_SKIP);
                put_uvarint(out, u64::from(self.change));
            }
            Outcome::Reject(reason) => {
                out.push(OUTCOME_REJECT);
                put_uvarint(out, u64::from(self.change));
                put_str(out, reason);
            }
        }
    }
}

/// Decodes b, a sequence of zero or more result records up to its end
/// (what one `result_push` carries).
pub fn decode_results(b: &[u8]) -> Result<Vec<ChangeResult<'_>>, DecodeError> {
    let mut r = Reader::new(b, "result");
    let mut out = Vec::new();
    while r.left() > 0 {
        out.push(r.result()?);
    }
    Ok(out)
}

impl<'a> Trigger<'a> {
    /// Decodes b, which must hold exactly one trigger.
    pub fn decode(b: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b, "trigger");
        let t = r.trigger()?;
        r.end()?;
        Ok(t)
    }

    /// Appends the trigger record to out.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_str(out, self.prefix);
        out.push(self.mode as u8);
        out.push(self.data as u8);
        put_str(out, self.connection);
        out.push(self.flags);
    }
}

impl<'a> Recipe<'a> {
    /// Decodes b, which must hold exactly one recipe metadata record.
    pub fn decode(b: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b, "recipe");
        let m = r.recipe()?;
        r.end()?;
        Ok(m)
    }

    /// Appends the recipe metadata record to out.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_str(out, self.name);
        put_str(out, self.version);
        put_uvarint(out, self.triggers.len() as u64);
        for t in &self.triggers {
            t.encode(out);
        }
        put_columns(out, &self.params);
    }
}

// ---- encoding primitives ----

/// Appends v in unsigned LEB128, shortest form.
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a length-prefixed string.
pub(crate) fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    put_uvarint(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Appends a typed value.
pub(crate) fn put_value(out: &mut Vec<u8>, v: Value<'_>) {
    match v {
        Value::Null => out.push(VALUE_NULL),
        Value::Str(s) => {
            out.push(VALUE_STRING);
            put_str(out, s);
        }
        Value::Bytes(s) => {
            out.push(VALUE_BYTES);
            put_str(out, s);
        }
        Value::Int(i) => {
            out.push(VALUE_INT);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Float(f) => {
            out.push(VALUE_FLOAT);
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::Bool(b) => {
            out.push(VALUE_BOOL);
            out.push(b as u8);
        }
    }
}

fn put_columns(out: &mut Vec<u8>, cols: &[Column<'_>]) {
    put_uvarint(out, cols.len() as u64);
    for c in cols {
        put_str(out, c.name);
        put_value(out, c.value);
    }
}
