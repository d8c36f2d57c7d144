package conformance

// The non-SQL variant of the suite: document, key-value and wide-column
// targets (Redis, MongoDB, Cassandra) read their rows back through a Store
// the connector's test provides.
//
//	func TestConformance(t *testing.T) {
//		conformance.RunStore(t, conformance.StoreTarget{Open: open, ...})
//	}

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
)

// Col names a column and the kind of the values the suite writes to it.
type Col struct {
	Name string
	Kind abi.Kind
}

// Store reads back what a connector wrote. Methods fail the test on error.
type Store interface {
	// Table prepares a table (a key prefix, a collection, a CQL table)
	// with key columns keys and other columns cols, and removes it when
	// the test ends. Schemaless targets may only arrange the cleanup.
	Table(t *testing.T, name string, keys, cols []Col)
	// Row returns the stored columns of the row of table identified by
	// keys (key columns may be included), and whether the row exists. A
	// NULL column may be absent from the map or present as abi.Null().
	Row(t *testing.T, table string, keys []abi.Column) (map[string]abi.Value, bool)
	// Count returns the number of rows of table.
	Count(t *testing.T, table string) int
}

// StoreTarget describes a non-SQL connector under test.
type StoreTarget struct {
	// Open returns a fresh connector and a Store on the same target; both
	// are closed by Open's own cleanup. It is called once per case.
	Open func(t *testing.T) (connectors.Connector, Store)
	// Stored returns the value Row gives back for a written value v (for
	// example its text for a Redis hash); nil means v itself. It is not
	// called for NULL.
	Stored func(v abi.Value) abi.Value
	// Atomic says a failed batch leaves nothing of itself behind. Targets
	// without multi-row transactions (Cassandra; MongoDB without a
	// replica set) make replays harmless instead: for them the suite
	// checks only that the checkpoint does not move and that a retry
	// converges.
	Atomic bool
	// RejectsDuplicateInsert says a RowInsert on an existing row fails
	// for good.
	RejectsDuplicateInsert bool
	// Poison, when set, makes the row of table with the given keys
	// impossible to write (a Redis key of another type, a document the
	// server refuses): the next upsert of it must fail for good.
	Poison func(t *testing.T, s Store, table string, keys []abi.Column)
	// Drop, when set, arranges for the connection(s) of c to be lost in
	// the middle of its next Apply of a large batch.
	Drop func(t *testing.T, c connectors.Connector)
}

// RunStore runs every case of the non-SQL suite.
func RunStore(t *testing.T, tg StoreTarget) {
	cases := []struct {
		name string
		fn   func(t *testing.T, h *storeHarness)
	}{
		{"UpsertThenUpdate", storeUpsertThenUpdate},
		{"PartialColumns", storePartialColumns},
		{"Delete", storeDelete},
		{"Nulls", storeNulls},
		{"ValueTypes", storeValueTypes},
		{"Unicode", storeUnicode},
		{"LargeValue", storeLargeValue},
		{"SameRowTwiceInBatch", storeSameRowTwice},
		{"Batch10000", storeBatch10000},
		{"InvalidOp", storeInvalidOp},
		{"RejectedOp", storeRejectedOp},
		{"DuplicateInsert", storeDuplicateInsert},
		{"DroppedConnection", storeDroppedConnection},
		{"Checkpoint", storeCheckpoint},
		{"ConcurrentApply", storeConcurrent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, s := tg.Open(t)
			c.fn(t, &storeHarness{StoreTarget: tg, conn: conn, s: s})
		})
	}
}

type storeHarness struct {
	StoreTarget
	conn connectors.Connector
	s    Store
}

func (h *storeHarness) table(t *testing.T, prefix string, keys []Col, cols ...Col) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d", prefix, tableSeq.Add(1))
	h.s.Table(t, name, keys, cols)
	return name
}

var idKey = []Col{{"id", abi.KindInt}}

func (h *storeHarness) apply(t *testing.T, ops []abi.RowOp, cp connectors.Checkpoint) {
	t.Helper()
	if err := h.conn.Apply(context.Background(), ops, cp); err != nil {
		t.Fatalf("apply: %v", err)
	}
}

func (h *storeHarness) stored(v abi.Value) abi.Value {
	if v.IsNull() || h.Stored == nil {
		return v
	}
	return h.Stored(v)
}

func idCols(id int64) []abi.Column { return []abi.Column{{Name: "id", Value: abi.Int(id)}} }

// expect checks that the row exists and that each named column holds the
// stored form of the given value (NULL: absent or NULL).
func (h *storeHarness) expect(t *testing.T, table string, keys []abi.Column, kv ...any) {
	t.Helper()
	row, ok := h.s.Row(t, table, keys)
	if !ok {
		t.Errorf("%s %s: row missing", table, showKeys(keys))
		return
	}
	for i := 0; i < len(kv); i += 2 {
		name := kv[i].(string)
		want := h.stored(kv[i+1].(abi.Value))
		got, present := row[name]
		if !present {
			got = abi.Null()
		}
		if !sameValue(got, want) {
			t.Errorf("%s %s: column %q = %s, want %s", table, showKeys(keys), name, show(got), show(want))
		}
	}
}

func (h *storeHarness) expectGone(t *testing.T, table string, keys []abi.Column) {
	t.Helper()
	if row, ok := h.s.Row(t, table, keys); ok {
		t.Errorf("%s %s: row present (%d columns), want none", table, showKeys(keys), len(row))
	}
}

func (h *storeHarness) count(t *testing.T, table string, want int) {
	t.Helper()
	if got := h.s.Count(t, table); got != want {
		t.Errorf("%s: %d rows, want %d", table, got, want)
	}
}

func showKeys(keys []abi.Column) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k.Name + "=" + show(k.Value))
	}
	return b.String() + ")"
}

// sameValue compares two values, NaN equal to NaN.
func sameValue(a, b abi.Value) bool {
	if a.Kind() == abi.KindFloat && b.Kind() == abi.KindFloat && math.IsNaN(a.Float()) && math.IsNaN(b.Float()) {
		return true
	}
	return a.Equal(b)
}

func show(v abi.Value) string {
	switch v.Kind() {
	case abi.KindNull:
		return "NULL"
	case abi.KindString, abi.KindBytes:
		s := v.Str()
		if len(s) > 40 {
			return fmt.Sprintf("%v(%d bytes: %q...)", v.Kind(), len(s), s[:40])
		}
		return fmt.Sprintf("%v(%q)", v.Kind(), s)
	case abi.KindInt:
		return fmt.Sprintf("int(%d)", v.Int())
	case abi.KindFloat:
		return fmt.Sprintf("float(%v)", v.Float())
	case abi.KindBool:
		return fmt.Sprintf("bool(%v)", v.Bool())
	}
	return v.Kind().String()
}

func storeUpsertThenUpdate(t *testing.T, h *storeHarness) {
	tab := h.table(t, "up", idKey, Col{"name", abi.KindString}, Col{"n", abi.KindInt})
	h.apply(t, []abi.RowOp{
		upsert(tab, 1, "name", abi.String("a"), "n", abi.Int(1)),
		upsert(tab, 2, "name", abi.String("b"), "n", abi.Int(2)),
	}, connectors.Checkpoint{})
	h.apply(t, []abi.RowOp{upsert(tab, 1, "name", abi.String("c"), "n", abi.Int(10))}, connectors.Checkpoint{})
	h.expect(t, tab, idCols(1), "name", abi.String("c"), "n", abi.Int(10))
	h.expect(t, tab, idCols(2), "name", abi.String("b"), "n", abi.Int(2))
	h.count(t, tab, 2)
	// An upsert with keys only creates the row and leaves an existing one.
	h.apply(t, []abi.RowOp{upsert(tab, 1), upsert(tab, 3)}, connectors.Checkpoint{})
	h.expect(t, tab, idCols(1), "name", abi.String("c"), "n", abi.Int(10))
	h.expect(t, tab, idCols(3), "name", abi.Null())
	h.count(t, tab, 3)
}

func storePartialColumns(t *testing.T, h *storeHarness) {
	tab := h.table(t, "part", idKey, Col{"a", abi.KindString}, Col{"b", abi.KindString})
	h.apply(t, []abi.RowOp{upsert(tab, 1, "a", abi.String("x"), "b", abi.String("y"))}, connectors.Checkpoint{})
	h.apply(t, []abi.RowOp{upsert(tab, 1, "a", abi.String("z"))}, connectors.Checkpoint{})
	h.apply(t, []abi.RowOp{upsert(tab, 2, "b", abi.String("only b"))}, connectors.Checkpoint{})
	h.expect(t, tab, idCols(1), "a", abi.String("z"), "b", abi.String("y"))
	h.expect(t, tab, idCols(2), "a", abi.Null(), "b", abi.String("only b"))
}

func storeDelete(t *testing.T, h *storeHarness) {
	tab := h.table(t, "del", idKey, Col{"v", abi.KindString})
	var ops []abi.RowOp
	for i := int64(1); i <= 5; i++ {
		ops = append(ops, upsert(tab, i, "v", abi.String("x")))
	}
	h.apply(t, ops, connectors.Checkpoint{})
	h.apply(t, []abi.RowOp{del(tab, 2), del(tab, 4), del(tab, 99)}, connectors.Checkpoint{})
	h.count(t, tab, 3)
	h.expectGone(t, tab, idCols(2))
	h.expect(t, tab, idCols(3), "v", abi.String("x"))
	// Composite keys.
	ctab := h.table(t, "cdel", []Col{{"a", abi.KindString}, {"b", abi.KindInt}}, Col{"v", abi.KindString})
	key := func(a string, b int64) []abi.Column { return columns("a", abi.String(a), "b", abi.Int(b)) }
	ops = ops[:0]
	for _, a := range []string{"x", "y"} {
		for b := int64(1); b <= 3; b++ {
			ops = append(ops, abi.RowOp{Op: abi.RowUpsert, Table: ctab, Keys: key(a, b), Cols: columns("v", abi.String(a+"v"))})
		}
	}
	h.apply(t, ops, connectors.Checkpoint{})
	h.apply(t, []abi.RowOp{
		{Op: abi.RowDelete, Table: ctab, Keys: key("x", 2)},
		{Op: abi.RowDelete, Table: ctab, Keys: key("y", 1)},
		{Op: abi.RowDelete, Table: ctab, Keys: key("y", 3)},
	}, connectors.Checkpoint{})
	h.count(t, ctab, 3)
	h.expect(t, ctab, key("x", 1), "v", abi.String("xv"))
	h.expect(t, ctab, key("y", 2), "v", abi.String("yv"))
	h.expectGone(t, ctab, key("x", 2))
}

func storeNulls(t *testing.T, h *storeHarness) {
	cols := []Col{{"s", abi.KindString}, {"i", abi.KindInt}, {"f", abi.KindFloat}, {"b", abi.KindBytes}, {"o", abi.KindBool}}
	tab := h.table(t, "nul", idKey, cols...)
	null := []any{"s", abi.Null(), "i", abi.Null(), "f", abi.Null(), "b", abi.Null(), "o", abi.Null()}
	h.apply(t, []abi.RowOp{
		upsert(tab, 1, null...),
		upsert(tab, 2, "s", abi.String("x"), "i", abi.Int(1), "f", abi.Float(1), "b", abi.Bytes([]byte{1}), "o", abi.Bool(true)),
	}, connectors.Checkpoint{})
	h.expect(t, tab, idCols(2), "s", abi.String("x"), "i", abi.Int(1), "f", abi.Float(1), "b", abi.Bytes([]byte{1}), "o", abi.Bool(true))
	// NULL overwrites a value.
	h.apply(t, []abi.RowOp{upsert(tab, 2, null...)}, connectors.Checkpoint{})
	for _, id := range []int64{1, 2} {
		h.expect(t, tab, idCols(id), null...)
	}
	h.count(t, tab, 2)
}

func storeValueTypes(t *testing.T, h *storeHarness) {
	tab := h.table(t, "typ", idKey, Col{"s", abi.KindString}, Col{"i", abi.KindInt}, Col{"f", abi.KindFloat}, Col{"b", abi.KindBytes}, Col{"o", abi.KindBool})
	type row struct {
		s string
		i int64
		f float64
		b []byte
		o bool
	}
	rows := []row{
		{"", 0, 0, []byte{}, false},
		{"plain", math.MaxInt64, math.MaxFloat64, []byte{0, 1, 2, 0xff, 0xfe, 0}, true},
		{"with 'quotes' and \"doubles\" and \\ and ; -- {} $ *", math.MinInt64, -math.SmallestNonzeroFloat64, []byte("\x00\x00"), false},
		{"new\nline\ttab\r\n", -1, 3.141592653589793, []byte{0x80}, true},
		{"x", 1<<53 + 1, -1e-300, []byte("bytes"), true},
		{"1.5", 42, 1, []byte("{\"json\": 1}"), false},
	}
	var ops []abi.RowOp
	for n, r := range rows {
		ops = append(ops, upsert(tab, int64(n), "s", abi.String(r.s), "i", abi.Int(r.i), "f", abi.Float(r.f), "b", abi.Bytes(r.b), "o", abi.Bool(r.o)))
	}
	h.apply(t, ops, connectors.Checkpoint{})
	for n, r := range rows {
		h.expect(t, tab, idCols(int64(n)), "s", abi.String(r.s), "i", abi.Int(r.i), "f", abi.Float(r.f), "b", abi.Bytes(r.b), "o", abi.Bool(r.o))
	}
	// Keys of every type but NULL.
	ktab := h.table(t, "ktyp", []Col{{"s", abi.KindString}, {"i", abi.KindInt}, {"b", abi.KindBytes}, {"o", abi.KindBool}}, Col{"v", abi.KindString})
	key := columns("s", abi.String("k:1 {x}"), "i", abi.Int(-7), "b", abi.Bytes([]byte{0, 0xff}), "o", abi.Bool(true))
	h.apply(t, []abi.RowOp{{Op: abi.RowUpsert, Table: ktab, Keys: key, Cols: columns("v", abi.String("v"))}}, connectors.Checkpoint{})
	h.expect(t, ktab, key, "v", abi.String("v"))
	h.count(t, ktab, 1)
}

func storeUnicode(t *testing.T, h *storeHarness) {
	tab := h.table(t, "uni", []Col{{"k", abi.KindString}}, Col{"v", abi.KindString}, Col{"ñame", abi.KindString})
	vals := []string{"héllo wörld", "日本語テキスト", "emoji 🎉👍🏽", "Ελληνικά", "עברית", "\u200b zero width"}
	var ops []abi.RowOp
	for _, v := range vals {
		ops = append(ops, abi.RowOp{Op: abi.RowUpsert, Table: tab, Keys: columns("k", abi.String(v)), Cols: columns("v", abi.String(v+v), "ñame", abi.String(v))})
	}
	h.apply(t, ops, connectors.Checkpoint{})
	for _, v := range vals {
		h.expect(t, tab, columns("k", abi.String(v)), "v", abi.String(v+v), "ñame", abi.String(v))
	}
	h.count(t, tab, len(vals))
}

func storeLargeValue(t *testing.T, h *storeHarness) {
	tab := h.table(t, "big", idKey, Col{"s", abi.KindString}, Col{"b", abi.KindBytes})
	s := strings.Repeat("0123456789abcdé", 1<<20/16+1)[:1<<20]
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = byte(i * 7)
	}
	h.apply(t, []abi.RowOp{upsert(tab, 1, "s", abi.String(s), "b", abi.Bytes(b)), upsert(tab, 2, "s", abi.String("small"))}, connectors.Checkpoint{})
	h.expect(t, tab, idCols(1), "s", abi.String(s), "b", abi.Bytes(b))
	h.expect(t, tab, idCols(2), "s", abi.String("small"), "b", abi.Null())
}

func storeSameRowTwice(t *testing.T, h *storeHarness) {
	tab := h.table(t, "twice", idKey, Col{"v", abi.KindString}, Col{"w", abi.KindString})
	h.apply(t, []abi.RowOp{
		upsert(tab, 1, "v", abi.String("a"), "w", abi.String("a")),
		upsert(tab, 2, "v", abi.String("a")),
		del(tab, 1),
		upsert(tab, 1, "v", abi.String("b")),
		upsert(tab, 2, "v", abi.String("c")),
		upsert(tab, 2, "w", abi.String("d")),
		upsert(tab, 3, "v", abi.String("e")),
		del(tab, 3),
		upsert(tab, 4, "v", abi.String("g")),
		del(tab, 4),
		upsert(tab, 4, "w", abi.String("h")),
		upsert(tab, 4, "v", abi.String("i")),
	}, connectors.Checkpoint{})
	h.expect(t, tab, idCols(1), "v", abi.String("b"), "w", abi.Null())
	h.expect(t, tab, idCols(2), "v", abi.String("c"), "w", abi.String("d"))
	h.expectGone(t, tab, idCols(3))
	h.expect(t, tab, idCols(4), "v", abi.String("i"), "w", abi.String("h"))
	h.count(t, tab, 3)
}

func storeBatch10000(t *testing.T, h *storeHarness) {
	tab := h.table(t, "tenk", idKey, Col{"name", abi.KindString}, Col{"n", abi.KindInt}, Col{"f", abi.KindFloat})
	const n = 10000
	ops := make([]abi.RowOp, 0, n)
	for i := int64(0); i < n; i++ {
		ops = append(ops, upsert(tab, n-i, "name", abi.String(fmt.Sprintf("person %d", i)), "n", abi.Int(i), "f", abi.Float(float64(i)/2)))
	}
	h.apply(t, ops, connectors.Checkpoint{Stream: "tenk", ID: abi.StreamID{Ms: 1, Seq: n}})
	h.count(t, tab, n)
	for _, i := range []int64{0, 1, 4999, 9999} {
		h.expect(t, tab, idCols(n-i), "name", abi.String(fmt.Sprintf("person %d", i)), "n", abi.Int(i), "f", abi.Float(float64(i)/2))
	}
	ops = ops[:0]
	for i := int64(1); i <= n; i += 2 {
		ops = append(ops, del(tab, i))
	}
	h.apply(t, ops, connectors.Checkpoint{Stream: "tenk", ID: abi.StreamID{Ms: 2}})
	h.count(t, tab, n/2)
	h.expectGone(t, tab, idCols(1))
	h.expect(t, tab, idCols(2), "n", abi.Int(n-2))
	if id, err := h.conn.Checkpoint(context.Background(), "tenk"); err != nil || id != (abi.StreamID{Ms: 2}) {
		t.Errorf("checkpoint = %v, %v; want 2-0", id, err)
	}
}

func storeInvalidOp(t *testing.T, h *storeHarness) {
	tab := h.table(t, "inv", idKey, Col{"v", abi.KindString})
	bad := []abi.RowOp{
		{Op: abi.RowDelete, Table: tab, Keys: idCols(1), Cols: columns("v", abi.String("x"))},
		{Op: abi.RowUpsert, Table: tab},
		{Op: 99, Table: tab, Keys: idCols(1)},
		{Op: abi.RowUpsert, Table: "", Keys: idCols(1)},
		{Op: abi.RowUpsert, Table: tab, Keys: idCols(1), Cols: columns("id", abi.Int(2))},
		{Op: abi.RowUpsert, Table: tab, Keys: columns("id", abi.Null())},
	}
	for n, op := range bad {
		err := h.conn.Apply(context.Background(), []abi.RowOp{upsert(tab, 1, "v", abi.String("ok")), op}, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 1}})
		var be *connectors.BatchError
		if !errors.As(err, &be) || !be.Permanent || be.Index != 1 {
			t.Errorf("bad op %d: %v, want a permanent BatchError at 1", n, err)
		}
	}
	h.count(t, tab, 0)
	if id, err := h.conn.Checkpoint(context.Background(), "s"); err != nil || id != (abi.StreamID{}) {
		t.Errorf("checkpoint after invalid batches = %v, %v; want 0-0", id, err)
	}
}

// checkFailed checks the state after a failed batch: the checkpoint did not
// move and, on an atomic target, nothing of the batch is visible (the rows
// of before hold their values, the new ones do not exist).
func (h *storeHarness) checkFailed(t *testing.T, tab string, stream string, cp abi.StreamID, before map[int64]string, fresh []int64) {
	t.Helper()
	if id, err := h.conn.Checkpoint(context.Background(), stream); err != nil || id != cp {
		t.Errorf("checkpoint after failed batch = %v, %v; want %v", id, err, cp)
	}
	if !h.Atomic {
		return
	}
	for id, v := range before {
		h.expect(t, tab, idCols(id), "v", abi.String(v))
	}
	for _, id := range fresh {
		h.expectGone(t, tab, idCols(id))
	}
}

func storeRejectedOp(t *testing.T, h *storeHarness) {
	if h.Poison == nil {
		t.Skip("the target cannot be made to refuse a row")
	}
	ctx := context.Background()
	tab := h.table(t, "rej", idKey, Col{"v", abi.KindString})
	h.apply(t, []abi.RowOp{upsert(tab, 5, "v", abi.String("old"))}, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 10}})
	h.Poison(t, h.s, tab, idCols(7))
	var ops []abi.RowOp
	var fresh []int64
	for i := int64(100); i < 150; i++ {
		ops = append(ops, upsert(tab, i, "v", abi.String("new")))
		fresh = append(fresh, i)
	}
	ops = append(ops, upsert(tab, 5, "v", abi.String("changed")), upsert(tab, 7, "v", abi.String("new")), upsert(tab, 8, "v", abi.String("new")))
	fresh = append(fresh, 8)
	const bad = 51
	err := h.conn.Apply(ctx, ops, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 20}})
	var be *connectors.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("apply = %v, want a *BatchError", err)
	}
	if !be.Permanent || be.Index != bad {
		t.Errorf("BatchError = index %d permanent %v (%v), want index %d permanent", be.Index, be.Permanent, be.Err, bad)
	}
	h.checkFailed(t, tab, "s", abi.StreamID{Ms: 10}, map[int64]string{5: "old"}, fresh)
	// The rest of the batch, without the rejected op, goes through.
	ops = append(ops[:bad], ops[bad+1:]...)
	h.apply(t, ops, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 20}})
	h.expect(t, tab, idCols(5), "v", abi.String("changed"))
	h.expect(t, tab, idCols(149), "v", abi.String("new"))
	h.expect(t, tab, idCols(8), "v", abi.String("new"))
	if id, err := h.conn.Checkpoint(ctx, "s"); err != nil || id != (abi.StreamID{Ms: 20}) {
		t.Errorf("checkpoint = %v, %v; want 20-0", id, err)
	}
}

func storeDuplicateInsert(t *testing.T, h *storeHarness) {
	if !h.RejectsDuplicateInsert {
		t.Skip("the target treats an insert as an upsert")
	}
	ctx := context.Background()
	tab := h.table(t, "dup", idKey, Col{"v", abi.KindString})
	h.apply(t, []abi.RowOp{upsert(tab, 5, "v", abi.String("old"))}, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 10}})
	ops := []abi.RowOp{
		upsert(tab, 1, "v", abi.String("new")),
		insert(tab, 2, "v", abi.String("new")),
		del(tab, 2),
		insert(tab, 2, "v", abi.String("again")), // deleted just before: not a duplicate
		insert(tab, 5, "v", abi.String("dup")),
		insert(tab, 6, "v", abi.String("new")),
	}
	err := h.conn.Apply(ctx, ops, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 20}})
	var be *connectors.BatchError
	if !errors.As(err, &be) || !be.Permanent || be.Index != 4 {
		t.Fatalf("apply = %v, want a permanent BatchError at 4", err)
	}
	h.checkFailed(t, tab, "s", abi.StreamID{Ms: 10}, map[int64]string{5: "old"}, []int64{1, 2, 6})
	ops = append(ops[:4], ops[5:]...)
	h.apply(t, ops, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 20}})
	h.expect(t, tab, idCols(2), "v", abi.String("again"))
	h.expect(t, tab, idCols(5), "v", abi.String("old"))
	h.count(t, tab, 4)
}

func storeDroppedConnection(t *testing.T, h *storeHarness) {
	if h.Drop == nil {
		t.Skip("no way to drop the target's connection")
	}
	ctx := context.Background()
	tab := h.table(t, "drop", idKey, Col{"v", abi.KindString})
	h.apply(t, []abi.RowOp{upsert(tab, 0, "v", abi.String("old"))}, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 10}})
	const n = 5000
	ops := make([]abi.RowOp, 0, n)
	fresh := make([]int64, 0, n)
	for i := int64(0); i < n; i++ {
		ops = append(ops, upsert(tab, i, "v", abi.String(strings.Repeat("y", 100))))
		if i > 0 {
			fresh = append(fresh, i)
		}
	}
	h.Drop(t, h.conn)
	err := h.conn.Apply(ctx, ops, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 20}})
	if err == nil {
		t.Fatal("apply through a dropped connection succeeded")
	}
	var be *connectors.BatchError
	if !errors.As(err, &be) || be.Permanent {
		t.Fatalf("apply through a dropped connection = %v, want a transient *BatchError", err)
	}
	h.checkFailed(t, tab, "s", abi.StreamID{Ms: 10}, map[int64]string{0: "old"}, fresh)
	// The retry goes through on a new connection.
	h.apply(t, ops, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 20}})
	h.count(t, tab, n)
	h.expect(t, tab, idCols(0), "v", abi.String(strings.Repeat("y", 100)))
	if id, err := h.conn.Checkpoint(ctx, "s"); err != nil || id != (abi.StreamID{Ms: 20}) {
		t.Errorf("checkpoint after retry = %v, %v; want 20-0", id, err)
	}
}

func storeCheckpoint(t *testing.T, h *storeHarness) {
	ctx := context.Background()
	tab := h.table(t, "cp", idKey, Col{"v", abi.KindString})
	stream := fmt.Sprintf("cogs:stream:{persons}:%d", tableSeq.Add(1))
	if id, err := h.conn.Checkpoint(ctx, stream); err != nil || id != (abi.StreamID{}) {
		t.Fatalf("initial checkpoint = %v, %v; want 0-0", id, err)
	}
	want := abi.StreamID{Ms: 1700000000123, Seq: 7}
	h.apply(t, []abi.RowOp{upsert(tab, 1, "v", abi.String("a"))}, connectors.Checkpoint{Stream: stream, ID: want})
	if id, err := h.conn.Checkpoint(ctx, stream); err != nil || id != want {
		t.Errorf("checkpoint = %v, %v; want %v", id, err, want)
	}
	// A batch with no operations still moves the checkpoint.
	want2 := abi.StreamID{Ms: 1700000000124, Seq: 0}
	h.apply(t, nil, connectors.Checkpoint{Stream: stream, ID: want2})
	other := stream + ":other"
	h.apply(t, []abi.RowOp{upsert(tab, 2, "v", abi.String("b"))}, connectors.Checkpoint{Stream: other, ID: abi.StreamID{Ms: 5, Seq: 5}})
	if id, err := h.conn.Checkpoint(ctx, stream); err != nil || id != want2 {
		t.Errorf("checkpoint = %v, %v; want %v", id, err, want2)
	}
	if id, err := h.conn.Checkpoint(ctx, other); err != nil || id != (abi.StreamID{Ms: 5, Seq: 5}) {
		t.Errorf("other checkpoint = %v, %v; want 5-5", id, err)
	}
	// A cancelled context fails the batch and leaves the checkpoint.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := h.conn.Apply(cctx, []abi.RowOp{upsert(tab, 3)}, connectors.Checkpoint{Stream: stream, ID: abi.StreamID{Ms: 9e12}}); err == nil {
		t.Error("apply with a cancelled context succeeded")
	} else if connectors.IsPermanent(err) {
		t.Errorf("cancelled apply is permanent: %v", err)
	}
	if id, err := h.conn.Checkpoint(ctx, stream); err != nil || id != want2 {
		t.Errorf("checkpoint after cancelled batch = %v, %v; want %v", id, err, want2)
	}
	h.expectGone(t, tab, idCols(3))
}

// storeConcurrent applies batches from several goroutines at once, each
// with its own keys and its own checkpoint stream (the scheduler's
// partitions).
func storeConcurrent(t *testing.T, h *storeHarness) {
	tab := h.table(t, "conc", idKey, Col{"v", abi.KindInt})
	const workers, batches, rows = 4, 10, 50
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; b < batches; b++ {
				ops := make([]abi.RowOp, 0, rows)
				for r := 0; r < rows; r++ {
					id := int64(w*rows + r)
					ops = append(ops, upsert(tab, id, "v", abi.Int(int64(b))))
				}
				cp := connectors.Checkpoint{Stream: fmt.Sprintf("%s:part%d", tab, w), ID: abi.StreamID{Ms: uint64(b + 1)}}
				if err := h.conn.Apply(context.Background(), ops, cp); err != nil {
					errs <- fmt.Errorf("worker %d batch %d: %w", w, b, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	h.count(t, tab, workers*rows)
	for w := 0; w < workers; w++ {
		h.expect(t, tab, idCols(int64(w*rows)), "v", abi.Int(batches-1))
		if id, err := h.conn.Checkpoint(context.Background(), fmt.Sprintf("%s:part%d", tab, w)); err != nil || id != (abi.StreamID{Ms: batches}) {
			t.Errorf("checkpoint of part %d = %v, %v; want %d-0", w, id, err, batches)
		}
	}
}
