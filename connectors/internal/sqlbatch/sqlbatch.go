// Package sqlbatch applies batches of row operations through database/sql
// with multi-row statements; the SQL connectors differ only in their
// Dialect.
package sqlbatch

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
)

// Dialect is what differs between SQL targets.
type Dialect struct {
	// Quote quotes an identifier.
	Quote func(name string) string
	// Placeholder returns the n-th (1-based) parameter marker.
	Placeholder func(n int) string
	// MaxParams is the most parameters one statement may bind.
	MaxParams int
	// MaxRows is the most rows one statement carries, so that full chunks
	// share one statement shape.
	MaxRows int
	// MaxBytes bounds the string and bytes payload of one statement (the
	// server's packet limit); a row larger than it still goes alone.
	// Zero means no bound.
	MaxBytes int
	// UpsertClause is appended to a multi-row INSERT to make it an upsert
	// on keys, updating cols (which may be empty).
	UpsertClause func(keys, cols []string) string
	// TupleInValues writes multi-column IN lists as IN (VALUES (..),(..))
	// (SQLite) instead of IN ((..),(..)).
	TupleInValues bool
	// ArrayTypes, when set, switches to statements that bind one array
	// per column (PostgreSQL: INSERT ... SELECT * FROM unnest($1::bigint[],
	// ...), DELETE ... WHERE k = ANY($1::bigint[])): it returns the SQL
	// array type of each named column of table. ArrayMaxRows then bounds
	// the rows of one statement.
	ArrayTypes   func(ctx context.Context, table string, cols []string) ([]string, error)
	ArrayMaxRows int
	// DriverCachesStatements skips explicit per-batch preparation when the
	// driver already caches prepared statements itself (pgx).
	DriverCachesStatements bool
	// Permanent classifies a driver error.
	Permanent func(err error) bool
	// Statements, when set, replaces the standard statements (multi-row
	// VALUES, or ArrayTypes): it turns one group of operations of one
	// shape into statements that carry each of the group's operations
	// exactly once, and one statement for a group of one operation (the
	// row-by-row replay that names a failing operation relies on it). An
	// error must be a *connectors.BatchError; it fails the batch as is.
	// Oracle (array binding) and SQL Server (MERGE) use it.
	Statements func(ops []abi.RowOp, g Group) ([]Statement, error)
	// CheckpointUpsert stores (stream, ms, seq), given as 3 parameters.
	CheckpointUpsert string
	// CheckpointSelect reads (ms, seq) for a stream, given as 1 parameter.
	CheckpointSelect string
}

// Engine applies batches to one database.
type Engine struct {
	DB *sql.DB
	D  Dialect
	// TxOptions are used for every batch transaction.
	TxOptions *sql.TxOptions

	mu    sync.Mutex
	stmts map[string]*sql.Stmt // prepared on DB, by SQL text
}

// Close closes the prepared statements and the database.
func (e *Engine) Close() error {
	e.mu.Lock()
	for _, st := range e.stmts {
		st.Close()
	}
	e.stmts = nil
	e.mu.Unlock()
	return e.DB.Close()
}

type statement struct {
	sql  string
	args []any
	ops  []int // indices of the ops it carries, in the batch
}

// Group is a run of operations of one shape (kind, table, key and column
// names) that no row appears in twice, in the order they are to be
// written (by key).
type Group struct {
	Op    abi.RowOpKind
	Table string
	Keys  []string
	Cols  []string
	Ops   []int // indices in the batch
}

// Statement is one statement a Dialect.Statements hook builds: its SQL,
// its arguments and the indices in the batch of the operations it
// carries.
type Statement struct {
	SQL  string
	Args []any
	Ops  []int
}

// Apply implements connectors.Connector.Apply.
func (e *Engine) Apply(ctx context.Context, ops []abi.RowOp, cp connectors.Checkpoint) error {
	for i := range ops {
		if err := connectors.ValidateOp(&ops[i]); err != nil {
			return &connectors.BatchError{Index: i, Permanent: true, Err: err}
		}
	}
	stmts, err := e.plan(ctx, ops, false)
	if err != nil {
		return err
	}
	idx, err := e.run(ctx, stmts, cp, true)
	if err == nil {
		return nil
	}
	perm := e.D.Permanent(err)
	if !perm || idx < 0 || len(stmts[idx].ops) == 1 {
		i := -1
		if idx >= 0 && len(stmts[idx].ops) == 1 {
			i = stmts[idx].ops[0]
		}
		return &connectors.BatchError{Index: i, Permanent: perm, Err: err}
	}
	// A multi-row statement failed for good: replay the batch one row per
	// statement, in order, to find the operation, then roll back.
	single, perr := e.plan(ctx, ops, true)
	if perr != nil {
		return perr
	}
	sidx, serr := e.run(ctx, single, connectors.Checkpoint{}, false)
	if serr == nil || sidx < 0 {
		// Not reproducible row by row: no single op is to blame.
		return &connectors.BatchError{Index: -1, Permanent: perm, Err: err}
	}
	return &connectors.BatchError{Index: single[sidx].ops[0], Permanent: e.D.Permanent(serr), Err: serr}
}

// run executes stmts and the checkpoint in one transaction, committing when
// commit is set and rolling back otherwise (one statement without a
// checkpoint to commit runs alone, autocommitted). On failure it returns the index
// of the failed statement, or -1.
func (e *Engine) run(ctx context.Context, stmts []statement, cp connectors.Checkpoint, commit bool) (int, error) {
	// Prepare before taking the transaction's connection: with a pool of
	// one connection, preparing on the pool inside it would wait forever.
	prepared := map[string]*sql.Stmt{}
	if !e.D.DriverCachesStatements {
		for _, s := range stmts {
			if _, ok := prepared[s.sql]; !ok {
				prepared[s.sql] = e.prepare(ctx, s.sql)
			}
		}
		if cp.Stream != "" {
			prepared[e.D.CheckpointUpsert] = e.prepare(ctx, e.D.CheckpointUpsert)
		}
	}
	if commit && len(stmts) == 1 && cp.Stream == "" {
		// One statement and no checkpoint (a write-through change): the
		// statement is its own transaction, which spares the round trips
		// of BEGIN and COMMIT.
		s := stmts[0]
		var err error
		if st := prepared[s.sql]; st != nil {
			_, err = st.ExecContext(ctx, s.args...)
		} else {
			_, err = e.DB.ExecContext(ctx, s.sql, s.args...)
		}
		if err != nil {
			return 0, err
		}
		return -1, nil
	}
	tx, err := e.DB.BeginTx(ctx, e.TxOptions)
	if err != nil {
		return -1, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	exec := func(query string, args []any) error {
		if st := prepared[query]; st != nil {
			_, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...)
			return err
		}
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	}
	for i, s := range stmts {
		if err := exec(s.sql, s.args); err != nil {
			return i, err
		}
	}
	if cp.Stream != "" {
		if err := exec(e.D.CheckpointUpsert, []any{cp.Stream, int64(cp.ID.Ms), int64(cp.ID.Seq)}); err != nil {
			return -1, fmt.Errorf("checkpoint: %w", err)
		}
	}
	if !commit {
		return -1, nil
	}
	if err := tx.Commit(); err != nil {
		return -1, fmt.Errorf("commit: %w", err)
	}
	return -1, nil
}

// maxStmts bounds the statement cache; shapes beyond it run unprepared.
const maxStmts = 1024

// prepare returns the cached prepared statement for query, preparing it on
// the pool if needed, or nil when the cache is full or preparing failed
// (the statement then runs unprepared and reports its own error).
func (e *Engine) prepare(ctx context.Context, query string) *sql.Stmt {
	e.mu.Lock()
	defer e.mu.Unlock()
	if st, ok := e.stmts[query]; ok {
		return st
	}
	if len(e.stmts) >= maxStmts {
		return nil
	}
	st, err := e.DB.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	if e.stmts == nil {
		e.stmts = map[string]*sql.Stmt{}
	}
	e.stmts[query] = st
	return st
}

// Checkpoint implements connectors.Connector.Checkpoint.
func (e *Engine) Checkpoint(ctx context.Context, stream string) (abi.StreamID, error) {
	var ms, seq int64
	err := e.DB.QueryRowContext(ctx, e.D.CheckpointSelect, stream).Scan(&ms, &seq)
	if errors.Is(err, sql.ErrNoRows) {
		return abi.StreamID{}, nil
	}
	if err != nil {
		return abi.StreamID{}, fmt.Errorf("checkpoint %q: %w", stream, err)
	}
	return abi.StreamID{Ms: uint64(ms), Seq: uint64(seq)}, nil
}

// group is ops of one shape: same kind, table, key columns and columns.
type group struct {
	op   abi.RowOpKind
	tab  string
	keys []string
	cols []string
	ops  []int
}

// plan turns the batch into statements. Ops are grouped by shape within a
// segment in which no row is touched twice; a row touched again starts a
// new segment, so the order of operations on one row is kept. Groups run
// in the order they first appear; rows within a group are sorted by key
// (fewer deadlocks between concurrent writers). With single, every op is
// its own statement, in batch order.
func (e *Engine) plan(ctx context.Context, ops []abi.RowOp, single bool) ([]statement, error) {
	var out []statement
	var err error
	if single || len(ops) == 1 { // one op: nothing to group
		for i := range ops {
			g := &group{op: ops[i].Op, tab: ops[i].Table, keys: names(ops[i].Keys), cols: names(ops[i].Cols), ops: []int{i}}
			if out, err = e.emit(ctx, out, ops, g); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	groups := map[string]*group{}
	var order []*group
	seen := map[string]struct{}{}
	flush := func() {
		for _, g := range order {
			sortByKey(ops, g.ops)
			if err == nil {
				out, err = e.emit(ctx, out, ops, g)
			}
		}
		clear(groups)
		clear(seen)
		order = order[:0]
	}
	var sb []byte
	for i := range ops {
		op := &ops[i]
		sb = rowID(sb[:0], op)
		if _, dup := seen[string(sb)]; dup {
			flush()
		}
		seen[string(sb)] = struct{}{}
		sb = shapeID(sb[:0], op)
		g := groups[string(sb)]
		if g == nil {
			g = &group{op: op.Op, tab: op.Table, keys: names(op.Keys), cols: names(op.Cols)}
			groups[string(sb)] = g
			order = append(order, g)
		}
		g.ops = append(g.ops, i)
	}
	flush()
	if err != nil {
		return nil, err
	}
	return out, nil
}

func names(cols []abi.Column) []string {
	n := make([]string, len(cols))
	for i, c := range cols {
		n[i] = c.Name
	}
	return n
}

func shapeID(b []byte, op *abi.RowOp) []byte {
	b = append(b, byte(op.Op))
	b = appendStr(b, op.Table)
	for _, c := range op.Keys {
		b = appendStr(b, c.Name)
	}
	b = append(b, 0xff)
	for _, c := range op.Cols {
		b = appendStr(b, c.Name)
	}
	return b
}

func rowID(b []byte, op *abi.RowOp) []byte {
	b = appendStr(b, op.Table)
	for _, c := range op.Keys {
		b = appendStr(b, c.Name)
		b = append(b, byte(c.Value.Kind()))
		switch c.Value.Kind() {
		case abi.KindInt:
			b = binary.LittleEndian.AppendUint64(b, uint64(c.Value.Int()))
		case abi.KindFloat:
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(c.Value.Float()))
		case abi.KindBool:
			if c.Value.Bool() {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		default:
			b = appendStr(b, c.Value.Str())
		}
	}
	return b
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func sortByKey(ops []abi.RowOp, idx []int) {
	sort.SliceStable(idx, func(a, b int) bool {
		ka, kb := ops[idx[a]].Keys, ops[idx[b]].Keys
		for i := range ka {
			if c := compare(ka[i].Value, kb[i].Value); c != 0 {
				return c < 0
			}
		}
		return false
	})
}

func compare(a, b abi.Value) int {
	if a.Kind() != b.Kind() {
		return int(a.Kind()) - int(b.Kind())
	}
	switch a.Kind() {
	case abi.KindInt:
		switch x, y := a.Int(), b.Int(); {
		case x < y:
			return -1
		case x > y:
			return 1
		}
	case abi.KindFloat:
		switch x, y := a.Float(), b.Float(); {
		case x < y:
			return -1
		case x > y:
			return 1
		}
	case abi.KindBool:
		switch x, y := a.Bool(), b.Bool(); {
		case !x && y:
			return -1
		case x && !y:
			return 1
		}
	default:
		return strings.Compare(a.Str(), b.Str())
	}
	return 0
}

// emit appends the statements of one group, in chunks that respect
// MaxParams and MaxRows (or ArrayMaxRows) and MaxBytes. An error is a
// *connectors.BatchError naming the group's first op.
func (e *Engine) emit(ctx context.Context, out []statement, ops []abi.RowOp, g *group) ([]statement, error) {
	if e.D.Statements != nil {
		sts, err := e.D.Statements(ops, Group{Op: g.op, Table: g.tab, Keys: g.keys, Cols: g.cols, Ops: g.ops})
		if err != nil {
			return nil, err
		}
		for _, s := range sts {
			out = append(out, statement{sql: s.SQL, args: s.Args, ops: s.Ops})
		}
		return out, nil
	}
	if e.D.ArrayTypes != nil {
		return e.emitArrays(ctx, out, ops, g)
	}
	per := len(g.keys) + len(g.cols)
	n := e.D.MaxParams / per
	if e.D.MaxRows > 0 && n > e.D.MaxRows {
		n = e.D.MaxRows
	}
	if n < 1 {
		n = 1
	}
	for start := 0; start < len(g.ops); {
		// Full chunks of n rows, then the rest in powers of two, so that a
		// group has few statement shapes and each is prepared once.
		size := n
		if rest := len(g.ops) - start; rest < n {
			size = floorPow2(rest)
		}
		if fit := e.bytesFit(ops, g.ops[start:start+size]); fit < size {
			size = floorPow2(fit)
		}
		chunk := g.ops[start : start+size]
		start += size
		args := make([]any, 0, len(chunk)*per)
		for _, i := range chunk {
			for _, c := range ops[i].Keys {
				args = append(args, connectors.Arg(c.Value))
			}
			for _, c := range ops[i].Cols {
				args = append(args, connectors.Arg(c.Value))
			}
		}
		out = append(out, statement{sql: e.sqlFor(g, len(chunk)), args: args, ops: chunk})
	}
	return out, nil
}

// bytesFit shrinks size so that the payload of chunk stays within
// MaxBytes (at least one row).
func (e *Engine) bytesFit(ops []abi.RowOp, chunk []int) int {
	size := len(chunk)
	if e.D.MaxBytes <= 0 {
		return size
	}
	total := 0
	for k := 0; k < size; k++ {
		total += payload(&ops[chunk[k]])
		if total > e.D.MaxBytes && k > 0 {
			return k
		}
	}
	return size
}

func (e *Engine) emitArrays(ctx context.Context, out []statement, ops []abi.RowOp, g *group) ([]statement, error) {
	all := append(append([]string(nil), g.keys...), g.cols...)
	types, err := e.D.ArrayTypes(ctx, g.tab, all)
	if err != nil {
		return nil, &connectors.BatchError{Index: g.ops[0], Permanent: e.D.Permanent(err), Err: err}
	}
	query := e.arraySQL(g, types)
	n := max(e.D.ArrayMaxRows, 1)
	for start := 0; start < len(g.ops); {
		chunk := g.ops[start:min(start+n, len(g.ops))]
		chunk = chunk[:e.bytesFit(ops, chunk)]
		start += len(chunk)
		args := make([]any, len(all))
		for c := range all {
			col := make([]any, len(chunk))
			for r, i := range chunk {
				if c < len(g.keys) {
					col[r] = connectors.Arg(ops[i].Keys[c].Value)
				} else {
					col[r] = connectors.Arg(ops[i].Cols[c-len(g.keys)].Value)
				}
			}
			args[c] = col
		}
		out = append(out, statement{sql: query, args: args, ops: chunk})
	}
	return out, nil
}

func (e *Engine) arraySQL(g *group, types []string) string {
	q := e.D.Quote
	var b strings.Builder
	unnest := func(from, to int) {
		b.WriteString("SELECT * FROM unnest(")
		for j := from; j < to; j++ {
			if j > from {
				b.WriteString(", ")
			}
			b.WriteString(e.D.Placeholder(j+1) + "::" + types[j])
		}
		b.WriteString(")")
	}
	if g.op == abi.RowDelete {
		b.WriteString("DELETE FROM " + q(g.tab) + " WHERE ")
		if len(g.keys) == 1 {
			b.WriteString(q(g.keys[0]) + " = ANY(" + e.D.Placeholder(1) + "::" + types[0] + ")")
			return b.String()
		}
		b.WriteString("(")
		for j, k := range g.keys {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(q(k))
		}
		b.WriteString(") IN (")
		unnest(0, len(g.keys))
		b.WriteString(")")
		return b.String()
	}
	b.WriteString("INSERT INTO " + q(g.tab) + " (")
	for j, c := range append(append([]string(nil), g.keys...), g.cols...) {
		if j > 0 {
			b.WriteString(", ")
		}
		b.WriteString(q(c))
	}
	b.WriteString(") ")
	unnest(0, len(types))
	if g.op == abi.RowUpsert {
		b.WriteString(e.D.UpsertClause(g.keys, g.cols))
	}
	return b.String()
}

func (e *Engine) sqlFor(g *group, rows int) string {
	q := e.D.Quote
	var b strings.Builder
	p := 0
	tuple := func(n int) {
		b.WriteByte('(')
		for j := 0; j < n; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			p++
			b.WriteString(e.D.Placeholder(p))
		}
		b.WriteByte(')')
	}
	switch g.op {
	case abi.RowDelete:
		b.WriteString("DELETE FROM ")
		b.WriteString(q(g.tab))
		b.WriteString(" WHERE ")
		if len(g.keys) == 1 {
			b.WriteString(q(g.keys[0]))
			b.WriteString(" IN (")
			for r := 0; r < rows; r++ {
				if r > 0 {
					b.WriteString(", ")
				}
				p++
				b.WriteString(e.D.Placeholder(p))
			}
			b.WriteByte(')')
			return b.String()
		}
		b.WriteByte('(')
		for j, k := range g.keys {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(q(k))
		}
		b.WriteString(") IN (")
		if e.D.TupleInValues {
			b.WriteString("VALUES ")
		}
		for r := 0; r < rows; r++ {
			if r > 0 {
				b.WriteString(", ")
			}
			tuple(len(g.keys))
		}
		b.WriteByte(')')
		return b.String()
	default:
		b.WriteString("INSERT INTO ")
		b.WriteString(q(g.tab))
		b.WriteString(" (")
		for j, k := range append(append([]string(nil), g.keys...), g.cols...) {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(q(k))
		}
		b.WriteString(") VALUES ")
		for r := 0; r < rows; r++ {
			if r > 0 {
				b.WriteString(", ")
			}
			tuple(len(g.keys) + len(g.cols))
		}
		if g.op == abi.RowUpsert {
			b.WriteString(e.D.UpsertClause(g.keys, g.cols))
		}
		return b.String()
	}
}

func floorPow2(n int) int {
	p := 1
	for p*2 <= n {
		p *= 2
	}
	return p
}

// payload is the size of an op's string and bytes values.
func payload(op *abi.RowOp) int {
	n := 0
	for _, c := range op.Keys {
		n += len(c.Value.Str())
	}
	for _, c := range op.Cols {
		n += len(c.Value.Str())
	}
	return n
}
