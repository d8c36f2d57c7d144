package cogs

import "github.com/cogs-dev/cogs/abi"

// Output collects what Map produced for one change: row operations, a
// skip, or a rejection.
type Output struct {
	rows    []abi.RowOp
	n       int // rows in use; rows[n:] are kept for reuse
	reject  bool
	reason  string
	skipped bool
}

// Row is a row operation being built. Its methods return the Row so calls
// chain.
type Row struct {
	o *Output
	i int
}

func (o *Output) add(kind abi.RowOpKind, table string) Row {
	if o.n == len(o.rows) {
		o.rows = append(o.rows, abi.RowOp{})
	}
	op := &o.rows[o.n]
	o.n++
	op.Op = kind
	op.Table = table
	op.Keys = op.Keys[:0]
	op.Cols = op.Cols[:0]
	return Row{o: o, i: o.n - 1}
}

// Upsert starts an insert-or-update of a row of table.
func (o *Output) Upsert(table string) Row { return o.add(abi.RowUpsert, table) }

// Insert starts an insert of a row of table; a duplicate key is rejected by
// the target.
func (o *Output) Insert(table string) Row { return o.add(abi.RowInsert, table) }

// Delete starts a delete of the row of table with the given key columns.
func (o *Output) Delete(table string) Row { return o.add(abi.RowDelete, table) }

// Skip acknowledges the change without writing anything. Row operations
// added before are dropped.
func (o *Output) Skip() { o.skipped = true }

// Reject refuses the change: it goes to the recipe's dead-letter stream
// with reason, and nothing is written for it.
func (o *Output) Reject(reason string) {
	o.reject = true
	o.reason = reason
}

// Key adds a key column (one that identifies the row).
func (r Row) Key(name string, v Value) Row {
	op := &r.o.rows[r.i]
	op.Keys = append(op.Keys, abi.Column{Name: name, Value: v})
	return r
}

// Col adds a column to write. Columns of a Delete are ignored.
func (r Row) Col(name string, v Value) Row {
	op := &r.o.rows[r.i]
	if op.Op != abi.RowDelete {
		op.Cols = append(op.Cols, abi.Column{Name: name, Value: v})
	}
	return r
}

func (o *Output) reset() {
	o.n = 0
	o.reject = false
	o.reason = ""
	o.skipped = false
}

// appendResult encodes what was collected for change index i.
func (o *Output) appendResult(b []byte, i uint32) []byte {
	switch {
	case o.reject:
		reason := o.reason
		if len(reason) > abi.MaxReasonLen {
			reason = reason[:abi.MaxReasonLen]
		}
		return abi.AppendResult(b, &abi.Result{Change: i, Outcome: abi.OutcomeReject, Reason: reason})
	case o.skipped || o.n == 0:
		return abi.AppendResult(b, &abi.Result{Change: i, Outcome: abi.OutcomeSkip})
	}
	for k := 0; k < o.n; k++ {
		if len(o.rows[k].Keys) == 0 {
			return abi.AppendResult(b, &abi.Result{Change: i, Outcome: abi.OutcomeReject,
				Reason: "recipe bug: row of table \"" + o.rows[k].Table + "\" has no key column"})
		}
		if o.rows[k].Table == "" {
			return abi.AppendResult(b, &abi.Result{Change: i, Outcome: abi.OutcomeReject,
				Reason: "recipe bug: row with an empty table name"})
		}
	}
	return abi.AppendResult(b, &abi.Result{Change: i, Outcome: abi.OutcomeRows, Rows: o.rows[:o.n]})
}
