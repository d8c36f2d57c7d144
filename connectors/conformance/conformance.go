// Package conformance is the test suite every SQL connector passes against
// a real server.
//
//	func TestIntegrationConformance(t *testing.T) {
//		conformance.Run(t, conformance.Target{Open: open, Quote: Quote, ...})
//	}
//
// The suite creates its tables itself, with explicit column types from
// Target.Types (connectors never create user tables), under unique names,
// and drops them when the test ends. Target.Open is called once per case
// and may give each case its own database or schema.
//
// Replaying a batch at or below the stored checkpoint is the caller's job:
// Apply stores whatever checkpoint it is given, and the suite checks only
// that the checkpoint commits and rolls back with its batch.
package conformance

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
)

// Types are the column types the suite's tables use.
type Types struct {
	Int   string // a 64-bit integer, e.g. BIGINT
	Float string // a float64, e.g. DOUBLE PRECISION
	Key   string // short text usable in a primary key, e.g. VARCHAR(191)
	Text  string // text holding at least 1 MB
	Bytes string // bytes holding at least 1 MB
	Bool  string // a boolean
}

// Target describes the connector under test.
type Target struct {
	// Open returns a fresh connector and a database handle on the same
	// database to inspect it; both are closed by the suite's cleanup or
	// by Open's own.
	Open func(t *testing.T) (connectors.Connector, *sql.DB)
	// Quote quotes an identifier in the target's SQL.
	Quote func(string) string
	// Placeholder returns the n-th (1-based) parameter marker.
	Placeholder func(n int) string
	Types       Types
	// StrictTypes says the target refuses a value that does not fit its
	// column (text in an integer column, text longer than VARCHAR(n));
	// SQLite, dynamically typed, does not.
	StrictTypes bool
}

// Run runs every case of the suite.
func Run(t *testing.T, tg Target) {
	cases := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"UpsertThenUpdate", testUpsertThenUpdate},
		{"PartialColumns", testPartialColumns},
		{"Delete", testDelete},
		{"Nulls", testNulls},
		{"ValueTypes", testValueTypes},
		{"Unicode", testUnicode},
		{"LargeValue", testLargeValue},
		{"ManyLargeValues", testManyLargeValues},
		{"QuotedIdentifiers", testQuotedIdentifiers},
		{"SameRowTwiceInBatch", testSameRowTwice},
		{"Batch10000", testBatch10000},
		{"WideRows", testWideRows},
		{"RejectedRow", testRejectedRow},
		{"InvalidOp", testInvalidOp},
		{"TypeMismatch", testTypeMismatch},
		{"Checkpoint", testCheckpoint},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn, db := tg.Open(t)
			c.fn(t, &harness{Target: tg, conn: conn, db: db})
		})
	}
}

type harness struct {
	Target
	conn connectors.Connector
	db   *sql.DB
}

var tableSeq atomic.Int64

// table creates a table named prefix plus a unique suffix, with the given
// column definitions (name, type) and primary key, and drops it in cleanup.
func (h *harness) table(t *testing.T, prefix string, pk []string, cols ...string) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d_%d", prefix, time.Now().UnixNano()%1e6, tableSeq.Add(1))
	var b strings.Builder
	b.WriteString("CREATE TABLE " + h.Quote(name) + " (")
	for i := 0; i < len(cols); i += 2 {
		b.WriteString(h.Quote(cols[i]) + " " + cols[i+1])
		if contains(pk, cols[i]) {
			b.WriteString(" NOT NULL")
		}
		b.WriteString(", ")
	}
	b.WriteString("PRIMARY KEY (")
	for i, k := range pk {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(h.Quote(k))
	}
	b.WriteString("))")
	if _, err := h.db.Exec(b.String()); err != nil {
		t.Fatalf("%s: %v", b.String(), err)
	}
	t.Cleanup(func() {
		if _, err := h.db.Exec("DROP TABLE " + h.Quote(name)); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	return name
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func (h *harness) apply(t *testing.T, ops []abi.RowOp, cp connectors.Checkpoint) {
	t.Helper()
	if err := h.conn.Apply(context.Background(), ops, cp); err != nil {
		t.Fatalf("apply: %v", err)
	}
}

func (h *harness) count(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := h.db.QueryRow("SELECT COUNT(*) FROM " + h.Quote(table)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// row scans the row with integer key id into dest.
func (h *harness) row(t *testing.T, table string, cols []string, id int64, dest ...any) bool {
	t.Helper()
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = h.Quote(c)
	}
	err := h.db.QueryRow("SELECT "+strings.Join(q, ", ")+" FROM "+h.Quote(table)+" WHERE "+h.Quote("id")+" = "+h.Placeholder(1), id).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return false
	}
	if err != nil {
		t.Fatalf("select from %s: %v", table, err)
	}
	return true
}

func upsert(table string, id int64, cols ...any) abi.RowOp {
	return abi.RowOp{Op: abi.RowUpsert, Table: table, Keys: []abi.Column{{Name: "id", Value: abi.Int(id)}}, Cols: columns(cols...)}
}

func insert(table string, id int64, cols ...any) abi.RowOp {
	op := upsert(table, id, cols...)
	op.Op = abi.RowInsert
	return op
}

func del(table string, id int64) abi.RowOp {
	return abi.RowOp{Op: abi.RowDelete, Table: table, Keys: []abi.Column{{Name: "id", Value: abi.Int(id)}}}
}

// columns makes columns from name, value pairs.
func columns(kv ...any) []abi.Column {
	var cs []abi.Column
	for i := 0; i < len(kv); i += 2 {
		cs = append(cs, abi.Column{Name: kv[i].(string), Value: kv[i+1].(abi.Value)})
	}
	return cs
}

func testUpsertThenUpdate(t *testing.T, h *harness) {
	tab := h.table(t, "up", []string{"id"}, "id", h.Types.Int, "name", h.Types.Key, "n", h.Types.Int)
	h.apply(t, []abi.RowOp{
		upsert(tab, 1, "name", abi.String("a"), "n", abi.Int(1)),
		upsert(tab, 2, "name", abi.String("b"), "n", abi.Int(2)),
	}, connectors.Checkpoint{})
	h.apply(t, []abi.RowOp{upsert(tab, 1, "name", abi.String("c"), "n", abi.Int(10))}, connectors.Checkpoint{})
	var name string
	var n int64
	if !h.row(t, tab, []string{"name", "n"}, 1, &name, &n) || name != "c" || n != 10 {
		t.Errorf("row 1 = %q %d, want c 10", name, n)
	}
	if !h.row(t, tab, []string{"name", "n"}, 2, &name, &n) || name != "b" || n != 2 {
		t.Errorf("row 2 = %q %d, want b 2", name, n)
	}
	if got := h.count(t, tab); got != 2 {
		t.Errorf("count = %d, want 2", got)
	}
	// An upsert with keys only creates the row and leaves an existing one.
	h.apply(t, []abi.RowOp{upsert(tab, 1), upsert(tab, 3)}, connectors.Checkpoint{})
	if !h.row(t, tab, []string{"name", "n"}, 1, &name, &n) || name != "c" || n != 10 {
		t.Errorf("row 1 after key-only upsert = %q %d, want c 10", name, n)
	}
	if got := h.count(t, tab); got != 3 {
		t.Errorf("count = %d, want 3", got)
	}
}

func testPartialColumns(t *testing.T, h *harness) {
	tab := h.table(t, "part", []string{"id"}, "id", h.Types.Int, "a", h.Types.Key, "b", h.Types.Key)
	h.apply(t, []abi.RowOp{upsert(tab, 1, "a", abi.String("x"), "b", abi.String("y"))}, connectors.Checkpoint{})
	h.apply(t, []abi.RowOp{upsert(tab, 1, "a", abi.String("z"))}, connectors.Checkpoint{})
	h.apply(t, []abi.RowOp{upsert(tab, 2, "b", abi.String("only b"))}, connectors.Checkpoint{})
	var a, b sql.NullString
	if !h.row(t, tab, []string{"a", "b"}, 1, &a, &b) || a.String != "z" || b.String != "y" {
		t.Errorf("row 1 = %v %v, want z y", a, b)
	}
	if !h.row(t, tab, []string{"a", "b"}, 2, &a, &b) || a.Valid || b.String != "only b" {
		t.Errorf("row 2 = %v %v, want NULL, only b", a, b)
	}
}

func testDelete(t *testing.T, h *harness) {
	tab := h.table(t, "del", []string{"id"}, "id", h.Types.Int, "v", h.Types.Key)
	var ops []abi.RowOp
	for i := int64(1); i <= 5; i++ {
		ops = append(ops, upsert(tab, i, "v", abi.String("x")))
	}
	h.apply(t, ops, connectors.Checkpoint{})
	h.apply(t, []abi.RowOp{del(tab, 2), del(tab, 4), del(tab, 99)}, connectors.Checkpoint{})
	if got := h.count(t, tab); got != 3 {
		t.Errorf("count = %d, want 3", got)
	}
	var v string
	if h.row(t, tab, []string{"v"}, 2, &v) {
		t.Error("row 2 still there")
	}
	// Composite keys.
	ctab := h.table(t, "cdel", []string{"a", "b"}, "a", h.Types.Key, "b", h.Types.Int, "v", h.Types.Key)
	key := func(a string, b int64) []abi.Column {
		return columns("a", abi.String(a), "b", abi.Int(b))
	}
	ops = ops[:0]
	for _, a := range []string{"x", "y"} {
		for b := int64(1); b <= 3; b++ {
			ops = append(ops, abi.RowOp{Op: abi.RowUpsert, Table: ctab, Keys: key(a, b), Cols: columns("v", abi.String("v"))})
		}
	}
	h.apply(t, ops, connectors.Checkpoint{})
	h.apply(t, []abi.RowOp{
		{Op: abi.RowDelete, Table: ctab, Keys: key("x", 2)},
		{Op: abi.RowDelete, Table: ctab, Keys: key("y", 1)},
		{Op: abi.RowDelete, Table: ctab, Keys: key("y", 3)},
	}, connectors.Checkpoint{})
	if got := h.count(t, ctab); got != 3 {
		t.Errorf("composite count = %d, want 3", got)
	}
	var n int
	if err := h.db.QueryRow("SELECT COUNT(*) FROM "+h.Quote(ctab)+" WHERE "+h.Quote("a")+" = "+h.Placeholder(1)+" AND "+h.Quote("b")+" = "+h.Placeholder(2), "x", 1).Scan(&n); err != nil || n != 1 {
		t.Errorf("row (x,1): %d, %v", n, err)
	}
}

func testNulls(t *testing.T, h *harness) {
	tab := h.table(t, "nul", []string{"id"}, "id", h.Types.Int, "s", h.Types.Key, "i", h.Types.Int, "f", h.Types.Float, "b", h.Types.Bytes, "o", h.Types.Bool)
	cols := []string{"s", "i", "f", "b", "o"}
	h.apply(t, []abi.RowOp{
		upsert(tab, 1, "s", abi.Null(), "i", abi.Null(), "f", abi.Null(), "b", abi.Null(), "o", abi.Null()),
		upsert(tab, 2, "s", abi.String("x"), "i", abi.Int(1), "f", abi.Float(1), "b", abi.Bytes([]byte{1}), "o", abi.Bool(true)),
	}, connectors.Checkpoint{})
	h.apply(t, []abi.RowOp{upsert(tab, 2, "s", abi.Null(), "i", abi.Null(), "f", abi.Null(), "b", abi.Null(), "o", abi.Null())}, connectors.Checkpoint{})
	for _, id := range []int64{1, 2} {
		var s sql.NullString
		var i sql.NullInt64
		var f sql.NullFloat64
		var b []byte
		var o sql.NullBool
		if !h.row(t, tab, cols, id, &s, &i, &f, &b, &o) {
			t.Fatalf("row %d missing", id)
		}
		if s.Valid || i.Valid || f.Valid || b != nil || o.Valid {
			t.Errorf("row %d = %v %v %v %v %v, want all NULL", id, s, i, f, b, o)
		}
	}
}

func testValueTypes(t *testing.T, h *harness) {
	tab := h.table(t, "typ", []string{"id"}, "id", h.Types.Int, "s", h.Types.Text, "i", h.Types.Int, "f", h.Types.Float, "b", h.Types.Bytes, "o", h.Types.Bool)
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
		{"with 'quotes' and \"doubles\" and \\ and ; --", math.MinInt64, -math.SmallestNonzeroFloat64, []byte("\x00\x00"), false},
		{"new\nline\ttab", -1, 3.141592653589793, []byte{0x80}, true},
		{"x", 1 << 53, -1e-300, []byte("bytes"), true},
	}
	var ops []abi.RowOp
	for n, r := range rows {
		ops = append(ops, upsert(tab, int64(n), "s", abi.String(r.s), "i", abi.Int(r.i), "f", abi.Float(r.f), "b", abi.Bytes(r.b), "o", abi.Bool(r.o)))
	}
	h.apply(t, ops, connectors.Checkpoint{})
	for n, want := range rows {
		var got row
		if !h.row(t, tab, []string{"s", "i", "f", "b", "o"}, int64(n), &got.s, &got.i, &got.f, &got.b, &got.o) {
			t.Fatalf("row %d missing", n)
		}
		if got.s != want.s || got.i != want.i || got.f != want.f || !bytes.Equal(got.b, want.b) || got.o != want.o {
			t.Errorf("row %d = %+v, want %+v", n, got, want)
		}
	}
}

func testUnicode(t *testing.T, h *harness) {
	tab := h.table(t, "uni", []string{"k"}, "k", h.Types.Key, "v", h.Types.Text, "ñame", h.Types.Key)
	vals := []string{"héllo wörld", "日本語テキスト", "emoji 🎉👍🏽", "Ελληνικά", "עברית", "\u200b zero width"}
	var ops []abi.RowOp
	for _, v := range vals {
		ops = append(ops, abi.RowOp{Op: abi.RowUpsert, Table: tab, Keys: columns("k", abi.String(v)), Cols: columns("v", abi.String(v+v), "ñame", abi.String(v))})
	}
	h.apply(t, ops, connectors.Checkpoint{})
	for _, v := range vals {
		var got, got2 string
		err := h.db.QueryRow("SELECT "+h.Quote("v")+", "+h.Quote("ñame")+" FROM "+h.Quote(tab)+" WHERE "+h.Quote("k")+" = "+h.Placeholder(1), v).Scan(&got, &got2)
		if err != nil || got != v+v || got2 != v {
			t.Errorf("key %q: %q %q %v", v, got, got2, err)
		}
	}
	if got := h.count(t, tab); got != len(vals) {
		t.Errorf("count = %d, want %d", got, len(vals))
	}
}

func testLargeValue(t *testing.T, h *harness) {
	tab := h.table(t, "big", []string{"id"}, "id", h.Types.Int, "s", h.Types.Text, "b", h.Types.Bytes)
	s := strings.Repeat("0123456789abcdé", 1<<20/16+1)[:1<<20]
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = byte(i * 7)
	}
	h.apply(t, []abi.RowOp{upsert(tab, 1, "s", abi.String(s), "b", abi.Bytes(b)), upsert(tab, 2, "s", abi.String("small"))}, connectors.Checkpoint{})
	var gs string
	var gb []byte
	if !h.row(t, tab, []string{"s", "b"}, 1, &gs, &gb) || gs != s || !bytes.Equal(gb, b) {
		t.Errorf("1 MB values differ: len %d, %d", len(gs), len(gb))
	}
}

func testQuotedIdentifiers(t *testing.T, h *harness) {
	odd := []string{"first name", `quo"te`, "back`tick", "select", "order", "group by", "it's"}
	pk := []string{"from", "key col"}
	defs := []string{"from", h.Types.Int, "key col", h.Types.Key}
	for _, c := range odd {
		defs = append(defs, c, h.Types.Key)
	}
	tab := h.table(t, `t "q`+"`"+` select`, pk, defs...)
	row := func(i int64, suffix string) abi.RowOp {
		op := abi.RowOp{Op: abi.RowUpsert, Table: tab, Keys: columns("from", abi.Int(i), "key col", abi.String("k"))}
		for _, c := range odd {
			op.Cols = append(op.Cols, abi.Column{Name: c, Value: abi.String(c + suffix)})
		}
		return op
	}
	h.apply(t, []abi.RowOp{row(1, "1"), row(2, "1"), row(3, "1")}, connectors.Checkpoint{})
	h.apply(t, []abi.RowOp{row(1, "2"), {Op: abi.RowDelete, Table: tab, Keys: columns("from", abi.Int(2), "key col", abi.String("k"))}}, connectors.Checkpoint{})
	if got := h.count(t, tab); got != 2 {
		t.Errorf("count = %d, want 2", got)
	}
	for _, c := range odd {
		var v string
		err := h.db.QueryRow("SELECT " + h.Quote(c) + " FROM " + h.Quote(tab) + " WHERE " + h.Quote("from") + " = 1").Scan(&v)
		if err != nil || v != c+"2" {
			t.Errorf("column %q = %q, %v", c, v, err)
		}
	}
}

func testSameRowTwice(t *testing.T, h *harness) {
	tab := h.table(t, "twice", []string{"id"}, "id", h.Types.Int, "v", h.Types.Key, "w", h.Types.Key)
	h.apply(t, []abi.RowOp{
		upsert(tab, 1, "v", abi.String("a"), "w", abi.String("a")),
		upsert(tab, 2, "v", abi.String("a")),
		del(tab, 1),
		upsert(tab, 1, "v", abi.String("b")),
		upsert(tab, 2, "v", abi.String("c")),
		upsert(tab, 2, "w", abi.String("d")),
		insert(tab, 3, "v", abi.String("e")),
		del(tab, 3),
		insert(tab, 3, "v", abi.String("f")),
	}, connectors.Checkpoint{})
	check := func(id int64, v string, w sql.NullString) {
		t.Helper()
		var gv string
		var gw sql.NullString
		if !h.row(t, tab, []string{"v", "w"}, id, &gv, &gw) || gv != v || gw != w {
			t.Errorf("row %d = %q %v, want %q %v", id, gv, gw, v, w)
		}
	}
	check(1, "b", sql.NullString{})
	check(2, "c", sql.NullString{String: "d", Valid: true})
	check(3, "f", sql.NullString{})
}

func testBatch10000(t *testing.T, h *harness) {
	tab := h.table(t, "tenk", []string{"id"}, "id", h.Types.Int, "name", h.Types.Key, "n", h.Types.Int, "f", h.Types.Float)
	const n = 10000
	ops := make([]abi.RowOp, 0, n)
	for i := int64(0); i < n; i++ {
		ops = append(ops, upsert(tab, n-i, "name", abi.String(fmt.Sprintf("person %d", i)), "n", abi.Int(i), "f", abi.Float(float64(i)/2)))
	}
	start := time.Now()
	h.apply(t, ops, connectors.Checkpoint{Stream: "tenk", ID: abi.StreamID{Ms: 1, Seq: n}})
	t.Logf("10,000-row upsert batch: %v", time.Since(start))
	if got := h.count(t, tab); got != n {
		t.Fatalf("count = %d, want %d", got, n)
	}
	var sum int64
	if err := h.db.QueryRow("SELECT SUM(" + h.Quote("n") + ") FROM " + h.Quote(tab)).Scan(&sum); err != nil || sum != n*(n-1)/2 {
		t.Errorf("sum = %d, %v", sum, err)
	}
	ops = ops[:0]
	for i := int64(1); i <= n; i += 2 {
		ops = append(ops, del(tab, i))
	}
	h.apply(t, ops, connectors.Checkpoint{})
	if got := h.count(t, tab); got != n/2 {
		t.Errorf("count after deletes = %d, want %d", got, n/2)
	}
}

func testRejectedRow(t *testing.T, h *harness) {
	tab := h.table(t, "rej", []string{"id"}, "id", h.Types.Int, "v", h.Types.Key)
	ctx := context.Background()
	h.apply(t, []abi.RowOp{upsert(tab, 5, "v", abi.String("old"))}, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 10}})
	var ops []abi.RowOp
	for i := int64(100); i < 150; i++ {
		ops = append(ops, upsert(tab, i, "v", abi.String("new")))
	}
	ops = append(ops, insert(tab, 7, "v", abi.String("new")), insert(tab, 5, "v", abi.String("dup")), insert(tab, 8, "v", abi.String("new")), del(tab, 5))
	const bad = 51
	err := h.conn.Apply(ctx, ops, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 20}})
	var be *connectors.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("apply = %v, want a *BatchError", err)
	}
	if !be.Permanent || be.Index != bad {
		t.Errorf("BatchError = index %d permanent %v (%v), want index %d permanent", be.Index, be.Permanent, be.Err, bad)
	}
	if got := h.count(t, tab); got != 1 {
		t.Errorf("count = %d, want 1: part of the failed batch was applied", got)
	}
	var v string
	if !h.row(t, tab, []string{"v"}, 5, &v) || v != "old" {
		t.Errorf("row 5 = %q, want old", v)
	}
	if id, err := h.conn.Checkpoint(ctx, "s"); err != nil || id != (abi.StreamID{Ms: 10}) {
		t.Errorf("checkpoint after failed batch = %v, %v; want 10-0", id, err)
	}
	// The rest of the batch, without the rejected op, goes through.
	ops = append(ops[:bad], ops[bad+1:]...)
	h.apply(t, ops, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 20}})
	if got := h.count(t, tab); got != 52 {
		t.Errorf("count = %d, want 52", got)
	}
}

func testInvalidOp(t *testing.T, h *harness) {
	tab := h.table(t, "inv", []string{"id"}, "id", h.Types.Int, "v", h.Types.Key)
	bad := []abi.RowOp{
		{Op: abi.RowDelete, Table: tab, Keys: columns("id", abi.Int(1)), Cols: columns("v", abi.String("x"))},
		{Op: abi.RowUpsert, Table: tab},
		{Op: 99, Table: tab, Keys: columns("id", abi.Int(1))},
		{Op: abi.RowUpsert, Table: "", Keys: columns("id", abi.Int(1))},
		{Op: abi.RowUpsert, Table: tab, Keys: columns("id", abi.Int(1)), Cols: columns("id", abi.Int(2))},
	}
	for n, op := range bad {
		err := h.conn.Apply(context.Background(), []abi.RowOp{upsert(tab, 1), op}, connectors.Checkpoint{})
		var be *connectors.BatchError
		if !errors.As(err, &be) || !be.Permanent || be.Index != 1 {
			t.Errorf("bad op %d: %v, want a permanent BatchError at 1", n, err)
		}
	}
	if got := h.count(t, tab); got != 0 {
		t.Errorf("count = %d, want 0", got)
	}
}

func testCheckpoint(t *testing.T, h *harness) {
	ctx := context.Background()
	tab := h.table(t, "cp", []string{"id"}, "id", h.Types.Int, "v", h.Types.Key)
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
}

func testTypeMismatch(t *testing.T, h *harness) {
	if !h.StrictTypes {
		t.Skip("the target does not check column types")
	}
	tab := h.table(t, "mis", []string{"id"}, "id", h.Types.Int, "n", h.Types.Int, "v", "VARCHAR(10)")
	for _, bad := range []abi.RowOp{
		upsert(tab, 2, "n", abi.String("not a number")),
		upsert(tab, 2, "v", abi.String(strings.Repeat("long", 10))),
	} {
		var ops []abi.RowOp
		for i := int64(10); i < 20; i++ {
			ops = append(ops, upsert(tab, i, "n", abi.Int(i)))
		}
		ops = append(ops, bad, upsert(tab, 3, "n", abi.Int(3)))
		err := h.conn.Apply(context.Background(), ops, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 1}})
		var be *connectors.BatchError
		if !errors.As(err, &be) || !be.Permanent || be.Index != 10 {
			t.Errorf("apply with %v = %v, want a permanent BatchError at 10", bad.Cols, err)
		}
		if got := h.count(t, tab); got != 0 {
			t.Errorf("count = %d, want 0", got)
		}
	}
}

// testWideRows needs more parameters than one statement may bind.
func testWideRows(t *testing.T, h *harness) {
	const ncols, nrows = 200, 1000
	defs := []string{"id", h.Types.Int}
	for c := 0; c < ncols; c++ {
		defs = append(defs, fmt.Sprintf("c%d", c), h.Types.Int)
	}
	tab := h.table(t, "wide", []string{"id"}, defs...)
	ops := make([]abi.RowOp, 0, nrows)
	for i := int64(0); i < nrows; i++ {
		op := upsert(tab, i)
		for c := 0; c < ncols; c++ {
			op.Cols = append(op.Cols, abi.Column{Name: fmt.Sprintf("c%d", c), Value: abi.Int(i * int64(c))})
		}
		ops = append(ops, op)
	}
	h.apply(t, ops, connectors.Checkpoint{})
	if got := h.count(t, tab); got != nrows {
		t.Errorf("count = %d, want %d", got, nrows)
	}
	var v int64
	if !h.row(t, tab, []string{"c199"}, 999, &v) || v != 999*199 {
		t.Errorf("c199 of row 999 = %d", v)
	}
}

// testManyLargeValues sends a batch larger than a MySQL packet (16 MB by
// default).
func testManyLargeValues(t *testing.T, h *harness) {
	tab := h.table(t, "bigs", []string{"id"}, "id", h.Types.Int, "b", h.Types.Bytes)
	const n = 24
	var ops []abi.RowOp
	for i := int64(0); i < n; i++ {
		b := bytes.Repeat([]byte{byte(i)}, 1<<20)
		ops = append(ops, upsert(tab, i, "b", abi.Bytes(b)))
	}
	h.apply(t, ops, connectors.Checkpoint{})
	var sum int64
	q := "SELECT COUNT(*) FROM " + h.Quote(tab)
	if err := h.db.QueryRow(q).Scan(&sum); err != nil || sum != n {
		t.Errorf("count = %d, %v; want %d", sum, err, n)
	}
	var got []byte
	if !h.row(t, tab, []string{"b"}, n-1, &got) || !bytes.Equal(got, bytes.Repeat([]byte{n - 1}, 1<<20)) {
		t.Errorf("row %d differs (len %d)", n-1, len(got))
	}
}
