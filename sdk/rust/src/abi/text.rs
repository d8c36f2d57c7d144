//! The canonical text form (abi/SPEC.md, "Canonical text form"): every SDK
//! renders a decoded record exactly this way, so comparing text compares
//! decoders. `Display` of each record writes it.

use super::*;
use std::fmt::{self, Display, Formatter, Write};

/// Displays bytes in the canonical quoted form: `"`, bytes 0x20 to 0x7e
/// other than `"` and `\` as themselves, every other byte as `\xHH`, `"`.
#[derive(Clone, Copy, Debug)]
pub struct Quoted<'a>(pub &'a [u8]);

impl Display for Quoted<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        let mut start = 0;
        for (i, &c) in self.0.iter().enumerate() {
            if (0x20..=0x7e).contains(&c) && c != b'"' && c != b'\\' {
                continue;
            }
            // The bytes kept as they are are ASCII, so this is valid UTF-8.
            f.write_str(std::str::from_utf8(&self.0[start..i]).unwrap())?;
            write!(f, "\\x{:02x}", c)?;
            start = i + 1;
        }
        f.write_str(std::str::from_utf8(&self.0[start..]).unwrap())?;
        f.write_char('"')
    }
}

impl Display for Value<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match *self {
            Value::Null => f.write_str("null"),
            Value::Str(s) => write!(f, "str:{}", Quoted(s)),
            Value::Bytes(s) => write!(f, "bytes:{}", Quoted(s)),
            Value::Int(i) => write!(f, "int:{}", i),
            Value::Float(x) => write!(f, "float:0x{:016x}", x.to_bits()),
            Value::Bool(b) => write!(f, "bool:{}", b),
        }
    }
}

fn columns(f: &mut Formatter<'_>, cols: &[Column<'_>]) -> fmt::Result {
    f.write_char('[')?;
    for (i, c) in cols.iter().enumerate() {
        if i > 0 {
            f.write_char(' ')?;
        }
        write!(f, "{}={}", Quoted(c.name), c.value)?;
    }
    f.write_char(']')
}

impl Display for Change<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "change op={} data={} trigger={} id={} key={} fields=[",
            self.op,
            self.data,
            self.trigger,
            self.id,
            Quoted(self.key)
        )?;
        for (i, (name, value)) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_char(' ')?;
            }
            write!(f, "{}={}", Quoted(name), Quoted(value))?;
        }
        write!(f, "] doc={}", Quoted(self.doc))
    }
}

impl Display for RowOp<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} table={} keys=", self.op, Quoted(self.table))?;
        columns(f, &self.keys)?;
        f.write_str(" cols=")?;
        columns(f, &self.cols)
    }
}

impl Display for Outcome<'_> {
    /// The outcome part of a result's text: `outcome=rows rows=[...]`,
    /// `outcome=skip` or `outcome=reject reason="..."`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Rows(rows) => {
                f.write_str("outcome=rows rows=[")?;
                for (i, r) in rows.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{}", r)?;
                }
                f.write_char(']')
            }
            Outcome::Skip => f.write_str("outcome=skip"),
            Outcome::Reject(reason) => write!(f, "outcome=reject reason={}", Quoted(reason)),
        }
    }
}

impl Display for ChangeResult<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "result change={} {}", self.change, self.outcome)
    }
}

impl Display for Trigger<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "trigger prefix={} mode={} data={} connection={} flags={}",
            Quoted(self.prefix),
            self.mode,
            self.data,
            Quoted(self.connection),
            self.flags
        )
    }
}

impl Display for Recipe<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "recipe name={} version={} triggers=[",
            Quoted(self.name),
            Quoted(self.version)
        )?;
        for (i, t) in self.triggers.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}", t)?;
        }
        f.write_str("] params=")?;
        columns(f, &self.params)
    }
}
