use crate::abi::{self, put_str, put_uvarint, put_value, RowOpKind, Value};
use crate::Reject;

/// What the map function produces for one change: row operations, or a
/// skip. Start a row with [`upsert`](Output::upsert),
/// [`insert`](Output::insert) or [`delete`](Output::delete) and add its
/// columns with the chained [`Row::key`] and [`Row::col`]:
///
/// ```
/// # fn demo(out: &mut cogs::Output) {
/// out.upsert("persons").key("person_id", "42").col("age", 42);
/// # }
/// ```
///
/// Columns are encoded as they are added, so a value only has to live for
/// the call that adds it. An `Output` is reused from change to change; its
/// buffers are kept.
#[derive(Debug, Default)]
pub struct Output {
    rows: Vec<RowBuf>,
    n: usize, // rows in use; rows[n..] are kept for reuse
    skipped: bool,
}

#[derive(Debug)]
struct RowBuf {
    op: RowOpKind,
    table: String,
    keys: Vec<u8>, // encoded key columns
    nkeys: usize,
    cols: Vec<u8>, // encoded other columns
    ncols: usize,
}

/// A row operation being built; its methods return it so calls chain.
#[derive(Debug)]
pub struct Row<'o> {
    row: &'o mut RowBuf,
}

impl Output {
    /// A new, empty output.
    pub fn new() -> Self {
        Output::default()
    }

    fn add(&mut self, op: RowOpKind, table: &str) -> Row<'_> {
        if self.n == self.rows.len() {
            self.rows.push(RowBuf {
                op,
                table: String::new(),
                keys: Vec::new(),
                nkeys: 0,
                cols: Vec::new(),
                ncols: 0,
            });
        }
        let row = &mut self.rows[self.n];
        self.n += 1;
        row.op = op;
        row.table.clear();
        row.table.push_str(table);
        row.keys.clear();
        row.nkeys = 0;
        row.cols.clear();
        row.ncols = 0;
        Row { row }
    }

    /// Starts an insert-or-update of a row of `table`.
    pub fn upsert(&mut self, table: &str) -> Row<'_> {
        self.add(RowOpKind::Upsert, table)
    }

    /// Starts an insert of a row of `table`; the target rejects a
    /// duplicate key.
    pub fn insert(&mut self, table: &str) -> Row<'_> {
        self.add(RowOpKind::Insert, table)
    }

    /// Starts a delete of the row of `table` with the given key columns.
    pub fn delete(&mut self, table: &str) -> Row<'_> {
        self.add(RowOpKind::Delete, table)
    }

    /// Acknowledges the change without writing anything: row operations
    /// added before or after are dropped. (A change for which the map
    /// function adds no row operation is skipped too.)
    pub fn skip(&mut self) {
        self.skipped = true;
    }

    /// The number of row operations added so far.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether no row operation was added.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub(crate) fn reset(&mut self) {
        self.n = 0;
        self.skipped = false;
    }

    /// Appends the result record for change `index`, given what the map
    /// function returned.
    pub(crate) fn append_result(&self, out: &mut Vec<u8>, index: u32, mapped: Result<(), Reject>) {
        if let Err(reject) = mapped {
            let reason = reject.reason().as_bytes();
            let reason = &reason[..reason.len().min(abi::MAX_REASON_LEN)];
            return append_short(out, index, abi::OUTCOME_REJECT, reason);
        }
        if self.skipped || self.n == 0 {
            return append_short(out, index, abi::OUTCOME_SKIP, b"");
        }
        let rows = &self.rows[..self.n];
        for r in rows {
            if r.nkeys == 0 {
                let reason = format!("recipe bug: row of table \"{}\" has no key column", r.table);
                return append_short(out, index, abi::OUTCOME_REJECT, reason.as_bytes());
            }
            if r.table.is_empty() {
                return append_short(
                    out,
                    index,
                    abi::OUTCOME_REJECT,
                    b"recipe bug: row with an empty table name",
                );
            }
        }
        out.push(abi::OUTCOME_ROWS);
        put_uvarint(out, u64::from(index));
        put_uvarint(out, rows.len() as u64);
        for r in rows {
            out.push(r.op as u8);
            put_str(out, r.table.as_bytes());
            put_uvarint(out, r.nkeys as u64);
            out.extend_from_slice(&r.keys);
            put_uvarint(out, r.ncols as u64);
            out.extend_from_slice(&r.cols);
        }
    }
}

fn append_short(out: &mut Vec<u8>, index: u32, outcome: u8, reason: &[u8]) {
    out.push(outcome);
    put_uvarint(out, u64::from(index));
    if outcome == abi::OUTCOME_REJECT {
        put_str(out, reason);
    }
}

impl<'o> Row<'o> {
    /// Adds a key column, one that identifies the row (a row needs at
    /// least one; a row without is rejected as a recipe bug).
    pub fn key<'v>(self, name: &str, value: impl Into<Value<'v>>) -> Self {
        put_str(&mut self.row.keys, name.as_bytes());
        put_value(&mut self.row.keys, value.into());
        self.row.nkeys += 1;
        self
    }

    /// Adds a column to write. The columns of a delete are ignored.
    pub fn col<'v>(self, name: &str, value: impl Into<Value<'v>>) -> Self {
        if self.row.op != RowOpKind::Delete {
            put_str(&mut self.row.cols, name.as_bytes());
            put_value(&mut self.row.cols, value.into());
            self.row.ncols += 1;
        }
        self
    }
}
