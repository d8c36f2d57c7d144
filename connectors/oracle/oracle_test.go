package oracle

import (
	"github.com/cogs-dev/cogs/connectors/internal/sqlfake"

	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
	"github.com/cogs-dev/cogs/connectors/conformance"
	"github.com/cogs-dev/cogs/connectors/internal/sqlbatch"
	goora "github.com/sijms/go-ora/v2"
	"github.com/sijms/go-ora/v2/network"
)

// format renders a go-ora argument in the fake's log.
func format(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case string:
		return fmt.Sprintf("%q", v)
	case []byte:
		return fmt.Sprintf("0x%x", v)
	case int64:
		return fmt.Sprintf("%d", v)
	case float64:
		return fmt.Sprintf("%v", v)
	case goora.Clob:
		return fmt.Sprintf("clob(%d)", len(v.String))
	case goora.Blob:
		return fmt.Sprintf("blob(%d)", len(v.Data))
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = format(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprintf("%T(%v)", v, v)
}

func col(name string, v abi.Value) abi.Column { return abi.Column{Name: name, Value: v} }

func up(tab string, id int64, cols ...abi.Column) abi.RowOp {
	return abi.RowOp{Op: abi.RowUpsert, Table: tab, Keys: []abi.Column{col("id", abi.Int(id))}, Cols: cols}
}

func ins(tab string, id int64, cols ...abi.Column) abi.RowOp {
	op := up(tab, id, cols...)
	op.Op = abi.RowInsert
	return op
}

func del(tab string, id int64) abi.RowOp {
	return abi.RowOp{Op: abi.RowDelete, Table: tab, Keys: []abi.Column{col("id", abi.Int(id))}}
}

// render prints statements as "ops SQL | args".
func render(sts []sqlbatch.Statement) []string {
	var out []string
	for _, s := range sts {
		parts := make([]string, len(s.Args))
		for i, a := range s.Args {
			parts[i] = format(a)
		}
		out = append(out, fmt.Sprintf("%v %s | %s", s.Ops, s.SQL, strings.Join(parts, ", ")))
	}
	return out
}

func group(ops []abi.RowOp, idx ...int) sqlbatch.Group {
	op := ops[idx[0]]
	g := sqlbatch.Group{Op: op.Op, Table: op.Table, Ops: idx}
	for _, c := range op.Keys {
		g.Keys = append(g.Keys, c.Name)
	}
	for _, c := range op.Cols {
		g.Cols = append(g.Cols, c.Name)
	}
	return g
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot:\n\t%s\nwant:\n\t%s", what, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func TestStatements(t *testing.T) {
	big := strings.Repeat("x", maxVarchar+1)
	bigBytes := bytes.Repeat([]byte{7}, maxRaw+1)
	compKey := func(op abi.RowOpKind, a string, b int64) abi.RowOp {
		return abi.RowOp{Op: op, Table: "t", Keys: []abi.Column{col("a", abi.String(a)), col("b", abi.Int(b))}}
	}
	for _, tc := range []struct {
		name  string
		b     builder
		ops   []abi.RowOp
		want  []string
		index int // of the refused op, or -1
	}{{
		name: "upsert",
		ops: []abi.RowOp{
			up("persons", 1, col("name", abi.String("a")), col("n", abi.Int(1))),
			up("persons", 2, col("name", abi.String("b")), col("n", abi.Float(2.5))),
		},
		want: []string{`[0 1] MERGE INTO "persons" t USING (SELECT :1 "id", :2 "name", :3 "n" FROM dual) s ON (t."id" = s."id") WHEN MATCHED THEN UPDATE SET t."name" = s."name", t."n" = s."n" WHEN NOT MATCHED THEN INSERT ("id", "name", "n") VALUES (s."id", s."name", s."n") | [1 2], ["a" "b"], [1 2.5]`},
	}, {
		name: "key-only upsert inserts only",
		ops:  []abi.RowOp{up("t", 1), up("t", 2)},
		want: []string{`[0 1] MERGE INTO "t" t USING (SELECT :1 "id" FROM dual) s ON (t."id" = s."id") WHEN NOT MATCHED THEN INSERT ("id") VALUES (s."id") | [1 2]`},
	}, {
		name: "insert",
		ops:  []abi.RowOp{ins("t", 1, col("v", abi.Bool(true))), ins("t", 2, col("v", abi.Bool(false)))},
		want: []string{`[0 1] INSERT INTO "t" ("id", "v") VALUES (:1, :2) | [1 2], [1 0]`},
	}, {
		name: "delete with a composite key",
		ops:  []abi.RowOp{compKey(abi.RowDelete, "x", 1), compKey(abi.RowDelete, "y", 2)},
		want: []string{`[0 1] DELETE FROM "t" WHERE "a" = :1 AND "b" = :2 | ["x" "y"], [1 2]`},
	}, {
		name: "a column NULL in every row is written as NULL, not bound",
		ops: []abi.RowOp{
			up("t", 1, col("a", abi.Null()), col("b", abi.String("x"))),
			up("t", 2, col("a", abi.Null()), col("b", abi.Null())),
		},
		want: []string{`[0 1] MERGE INTO "t" t USING (SELECT :1 "id", :2 "b" FROM dual) s ON (t."id" = s."id") WHEN MATCHED THEN UPDATE SET t."a" = NULL, t."b" = s."b" WHEN NOT MATCHED THEN INSERT ("id", "a", "b") VALUES (s."id", NULL, s."b") | [1 2], ["x" NULL]`},
	}, {
		name: "insert with a NULL column",
		ops:  []abi.RowOp{ins("t", 1, col("a", abi.Null()))},
		want: []string{`[0] INSERT INTO "t" ("id", "a") VALUES (:1, NULL) | [1]`},
	}, {
		name: "values that bind as different types go to different statements",
		ops: []abi.RowOp{
			up("t", 1, col("v", abi.String("short"))),
			up("t", 2, col("v", abi.String(big))),
			up("t", 3, col("v", abi.Null())),
			up("t", 4, col("v", abi.String("short 2"))),
			up("t", 5, col("v", abi.Bytes([]byte{1, 2}))),
			up("t", 6, col("v", abi.Bytes(bigBytes))),
			up("t", 7, col("v", abi.Int(7))),
		},
		want: []string{
			`[0 2 3] MERGE INTO "t" t USING (SELECT :1 "id", :2 "v" FROM dual) s ON (t."id" = s."id") WHEN MATCHED THEN UPDATE SET t."v" = s."v" WHEN NOT MATCHED THEN INSERT ("id", "v") VALUES (s."id", s."v") | [1 3 4], ["short" NULL "short 2"]`,
			`[1] MERGE INTO "t" t USING (SELECT :1 "id", :2 "v" FROM dual) s ON (t."id" = s."id") WHEN MATCHED THEN UPDATE SET t."v" = s."v" WHEN NOT MATCHED THEN INSERT ("id", "v") VALUES (s."id", s."v") | [2], [clob(4001)]`,
			`[4] MERGE INTO "t" t USING (SELECT :1 "id", :2 "v" FROM dual) s ON (t."id" = s."id") WHEN MATCHED THEN UPDATE SET t."v" = s."v" WHEN NOT MATCHED THEN INSERT ("id", "v") VALUES (s."id", s."v") | [5], [0x0102]`,
			`[5] MERGE INTO "t" t USING (SELECT :1 "id", :2 "v" FROM dual) s ON (t."id" = s."id") WHEN MATCHED THEN UPDATE SET t."v" = s."v" WHEN NOT MATCHED THEN INSERT ("id", "v") VALUES (s."id", s."v") | [6], [blob(2001)]`,
			`[6] MERGE INTO "t" t USING (SELECT :1 "id", :2 "v" FROM dual) s ON (t."id" = s."id") WHEN MATCHED THEN UPDATE SET t."v" = s."v" WHEN NOT MATCHED THEN INSERT ("id", "v") VALUES (s."id", s."v") | [7], [7]`,
		},
	}, {
		name: "upper-case identifiers",
		b:    builder{upper: true},
		ops:  []abi.RowOp{del("persons", 1)},
		want: []string{`[0] DELETE FROM "PERSONS" WHERE "ID" = :1 | [1]`},
	}, {
		name: "odd identifiers are quoted as they are",
		ops:  []abi.RowOp{{Op: abi.RowUpsert, Table: "my table", Keys: []abi.Column{col("select", abi.Int(1))}, Cols: []abi.Column{col("it's", abi.String("v"))}}},
		want: []string{`[0] MERGE INTO "my table" t USING (SELECT :1 "select", :2 "it's" FROM dual) s ON (t."select" = s."select") WHEN MATCHED THEN UPDATE SET t."it's" = s."it's" WHEN NOT MATCHED THEN INSERT ("select", "it's") VALUES (s."select", s."it's") | [1], ["v"]`},
	}, {
		name:  "a double quote in a name is refused",
		ops:   []abi.RowOp{up("t", 1, col(`a"b`, abi.Int(1)))},
		index: 0,
	}, {
		name:  "NaN is refused",
		ops:   []abi.RowOp{up("t", 1, col("f", abi.Float(1))), up("t", 2, col("f", abi.Float(math.NaN())))},
		index: 1,
	}, {
		name:  "a float beyond NUMBER is refused",
		ops:   []abi.RowOp{up("t", 1, col("f", abi.Float(math.MaxFloat64)))},
		index: 0,
	}, {
		name:  "a float below NUMBER's precision is refused",
		ops:   []abi.RowOp{up("t", 1, col("f", abi.Float(math.SmallestNonzeroFloat64)))},
		index: 0,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			idx := make([]int, len(tc.ops))
			for i := range idx {
				idx[i] = i
			}
			sts, err := tc.b.statements(tc.ops, group(tc.ops, idx...))
			if tc.want == nil {
				var be *connectors.BatchError
				if !errors.As(err, &be) || !be.Permanent || be.Index != tc.index {
					t.Fatalf("statements = %v, %v; want a permanent BatchError at %d", render(sts), err, tc.index)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			equal(t, "statements", render(sts), tc.want)
		})
	}
}

func TestStatementsChunks(t *testing.T) {
	var ops []abi.RowOp
	for i := int64(0); i < maxRows+3; i++ {
		ops = append(ops, del("t", i))
	}
	idx := make([]int, len(ops))
	for i := range idx {
		idx[i] = i
	}
	sts, err := builder{}.statements(ops, group(ops, idx...))
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 2 || len(sts[0].Ops) != maxRows || len(sts[1].Ops) != 3 || sts[0].SQL != sts[1].SQL {
		t.Fatalf("chunks: %d statements", len(sts))
	}
	if got := sts[1].Args[0].([]any); len(got) != 3 || got[2] != int64(maxRows+2) {
		t.Errorf("last chunk args = %v", got)
	}
	// The inline payload of one execution is bounded.
	v := abi.String(strings.Repeat("y", maxVarchar))
	ops = ops[:0]
	n := maxBytes/(4*maxVarchar) + 1
	for i := 0; i < n; i++ {
		ops = append(ops, up("t", int64(i), col("a", v), col("b", v), col("c", v), col("d", v)))
	}
	sts, err = builder{}.statements(ops, group(ops, idx[:n]...))
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) != 2 || len(sts[0].Ops) != n-1 || len(sts[1].Ops) != 1 {
		t.Errorf("byte-bounded chunks: %d statements (%d rows first)", len(sts), len(sts[0].Ops))
	}
}

const testCheckpoint = `MERGE INTO cogs_checkpoints c USING (SELECT :1 stream, :2 ms, :3 seq FROM dual) s ON (c.stream = s.stream) WHEN MATCHED THEN UPDATE SET c.ms = s.ms, c.seq = s.seq WHEN NOT MATCHED THEN INSERT (stream, ms, seq) VALUES (s.stream, s.ms, s.seq)`

const mergeV = `MERGE INTO "t" t USING (SELECT :1 "id", :2 "v" FROM dual) s ON (t."id" = s."id") WHEN MATCHED THEN UPDATE SET t."v" = s."v" WHEN NOT MATCHED THEN INSERT ("id", "v") VALUES (s."id", s."v")`

func TestApply(t *testing.T) {
	db, f := sqlfake.Open(t, format)
	c := newConnector(db, builder{})
	ctx := context.Background()
	ops := []abi.RowOp{
		up("t", 3, col("v", abi.String("c"))),
		up("t", 1, col("v", abi.String("a"))),
		del("u", 9),
		up("t", 2, col("v", abi.String("b"))),
	}
	cp := connectors.Checkpoint{Stream: "cogs:{persons}", ID: abi.StreamID{Ms: 1700000000123, Seq: 4}}
	if err := c.Apply(ctx, ops, cp); err != nil {
		t.Fatal(err)
	}
	equal(t, "first batch", f.Take(), []string{
		"prepare: " + mergeV,
		`prepare: DELETE FROM "u" WHERE "id" = :1`,
		"prepare: " + testCheckpoint,
		"begin",
		"exec: " + mergeV + ` | [1 2 3], ["a" "b" "c"]`,
		`exec: DELETE FROM "u" WHERE "id" = :1 | [9]`,
		"exec: " + testCheckpoint + ` | "cogs:{persons}", 1700000000123, 4`,
		"commit",
	})
	// The statements stay prepared; a batch without a checkpoint stores
	// none, and one statement without a checkpoint runs autocommitted.
	if err := c.Apply(ctx, ops[:1], connectors.Checkpoint{}); err != nil {
		t.Fatal(err)
	}
	equal(t, "second batch", f.Take(), []string{
		"exec: " + mergeV + ` | [3], ["c"]`,
	})
	if err := c.Apply(ctx, ops[:3], connectors.Checkpoint{}); err != nil {
		t.Fatal(err)
	}
	equal(t, "two statements", f.Take(), []string{
		"begin",
		"exec: " + mergeV + ` | [1 3], ["a" "c"]`,
		`exec: DELETE FROM "u" WHERE "id" = :1 | [9]`,
		"commit",
	})
	// An empty batch still moves the checkpoint.
	if err := c.Apply(ctx, nil, cp); err != nil {
		t.Fatal(err)
	}
	equal(t, "empty batch", f.Take(), []string{
		"begin",
		"exec: " + testCheckpoint + ` | "cogs:{persons}", 1700000000123, 4`,
		"commit",
	})
	f.Checkpoints["s"] = [2]int64{5, 6}
	if id, err := c.Checkpoint(ctx, "s"); err != nil || id != (abi.StreamID{Ms: 5, Seq: 6}) {
		t.Errorf("checkpoint = %v, %v", id, err)
	}
	if id, err := c.Checkpoint(ctx, "none"); err != nil || id != (abi.StreamID{}) {
		t.Errorf("missing checkpoint = %v, %v", id, err)
	}
	equal(t, "checkpoint reads", f.Take(), []string{
		`query: SELECT ms, seq FROM cogs_checkpoints WHERE stream = :1 | "s"`,
		`query: SELECT ms, seq FROM cogs_checkpoints WHERE stream = :1 | "none"`,
	})
}

// contains reports whether an array-bound argument holds v.
func contains(args []driver.NamedValue, v any) bool {
	for _, a := range args {
		if arr, ok := a.Value.([]any); ok {
			for _, e := range arr {
				if e == v {
					return true
				}
			}
		}
	}
	return false
}

func TestApplyIsolatesTheFailingRow(t *testing.T) {
	db, f := sqlfake.Open(t, format)
	c := newConnector(db, builder{})
	dup := &network.OracleError{ErrCode: 1, ErrMsg: `ORA-00001: unique constraint (APP.PK_T) violated`}
	f.Fail = func(call, query string, args []driver.NamedValue) error {
		if call == "exec" && strings.HasPrefix(query, "INSERT") && contains(args, int64(2)) {
			return dup
		}
		return nil
	}
	ops := []abi.RowOp{
		up("t", 5, col("v", abi.String("x"))),
		ins("t", 3, col("v", abi.String("y"))),
		ins("t", 2, col("v", abi.String("dup"))),
		ins("t", 1, col("v", abi.String("z"))),
	}
	err := c.Apply(context.Background(), ops, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 1}})
	var be *connectors.BatchError
	if !errors.As(err, &be) || !be.Permanent || be.Index != 2 || !errors.Is(err, dup) {
		t.Fatalf("apply = %v, want a permanent BatchError at 2 wrapping ORA-00001", err)
	}
	const insertV = `INSERT INTO "t" ("id", "v") VALUES (:1, :2)`
	equal(t, "calls", f.Take(), []string{
		"prepare: " + mergeV,
		"prepare: " + insertV,
		"prepare: " + testCheckpoint,
		"begin",
		"exec: " + mergeV + ` | [5], ["x"]`,
		"exec: " + insertV + ` | [1 2 3], ["z" "dup" "y"]`,
		"rollback",
		// Row by row, in batch order, to name the op; then rolled back.
		"begin",
		"exec: " + mergeV + ` | [5], ["x"]`,
		"exec: " + insertV + ` | [3], ["y"]`,
		"exec: " + insertV + ` | [2], ["dup"]`,
		"rollback",
	})
}

func TestApplyTransientFailures(t *testing.T) {
	ops := []abi.RowOp{up("t", 1, col("v", abi.String("a"))), up("t", 2, col("v", abi.String("b")))}
	cp := connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 1}}
	for _, tc := range []struct {
		name string
		call string
		err  error
		last []string // the calls from begin on
	}{
		{"deadlock", "exec", &network.OracleError{ErrCode: 60, ErrMsg: "ORA-00060: deadlock detected while waiting for resource"},
			[]string{"begin", "exec: " + mergeV + ` | [1 2], ["a" "b"]`, "rollback"}},
		{"connection lost on commit", "commit", &network.OracleError{ErrCode: 3113, ErrMsg: "ORA-03113: end-of-file on communication channel"},
			[]string{"begin", "exec: " + mergeV + ` | [1 2], ["a" "b"]`, "exec: " + testCheckpoint + ` | "s", 1, 0`, "commit"}},
		{"begin on a dead connection", "begin", driver.ErrBadConn, nil},
		{"checkpoint write times out", "checkpoint", &network.OracleError{ErrCode: 12170, ErrMsg: "ORA-12170: TNS:Connect timeout occurred"},
			[]string{"begin", "exec: " + mergeV + ` | [1 2], ["a" "b"]`, "exec: " + testCheckpoint + ` | "s", 1, 0`, "rollback"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, f := sqlfake.Open(t, format)
			c := newConnector(db, builder{})
			f.Fail = func(call, query string, args []driver.NamedValue) error {
				if call == tc.call || (tc.call == "checkpoint" && query == testCheckpoint) {
					return tc.err
				}
				return nil
			}
			err := c.Apply(context.Background(), ops, cp)
			var be *connectors.BatchError
			if !errors.As(err, &be) || be.Permanent || be.Index != -1 || !errors.Is(err, tc.err) {
				t.Fatalf("apply = %#v, want a transient BatchError at -1", err)
			}
			log := f.Take()
			for len(log) > 0 && log[0] != "begin" {
				log = log[1:]
			}
			if tc.last == nil {
				return
			}
			equal(t, "calls", log, tc.last)
		})
	}
}

func TestApplyRefusesBadValuesBeforeSending(t *testing.T) {
	db, f := sqlfake.Open(t, format)
	c := newConnector(db, builder{})
	err := c.Apply(context.Background(), []abi.RowOp{up("t", 1), up("t", 2, col("f", abi.Float(math.Inf(1))))}, connectors.Checkpoint{})
	var be *connectors.BatchError
	if !errors.As(err, &be) || !be.Permanent || be.Index != 1 {
		t.Fatalf("apply = %v, want a permanent BatchError at 1", err)
	}
	if log := f.Take(); len(log) != 0 {
		t.Errorf("calls = %q, want none", log)
	}
}

func TestPermanent(t *testing.T) {
	ora := func(code int) error {
		return &network.OracleError{ErrCode: code, ErrMsg: fmt.Sprintf("ORA-%05d: test", code)}
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{ora(1), true},     // unique constraint violated
		{ora(1400), true},  // cannot insert NULL
		{ora(12899), true}, // value too large for column
		{ora(1722), true},  // invalid number
		{ora(2291), true},  // parent key not found
		{ora(942), true},   // table or view does not exist
		{ora(904), true},   // invalid identifier
		{ora(932), true},   // inconsistent datatypes
		{ora(60), false},   // deadlock
		{ora(3113), false}, // end-of-file on communication channel
		{ora(3114), false}, // not connected
		{ora(12541), false},
		{ora(12170), false},
		{ora(8177), false},
		{ora(1013), false},
		{fmt.Errorf("exec: %w", ora(60)), false},
		{fmt.Errorf("exec: %w", ora(1)), true},
		{driver.ErrBadConn, false},
		{network.ErrConnReset, false},
		{context.Canceled, false},
		{context.DeadlineExceeded, false},
		{io.EOF, false},
		{&net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}, false},
	} {
		if got := Permanent(tc.err); got != tc.want {
			t.Errorf("Permanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestOptions(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret/@\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("COGS_TEST_ORA_USER", "app")
	c, err := parseConfig(map[string]any{"host": "db.example", "port": 1522, "service": "FREEPDB1", "user": "${env:COGS_TEST_ORA_USER}", "password": "${file:" + pw + "}", "schema": "Sales", "identifiers": "upper", "max_connections": 2})
	if err != nil {
		t.Fatal(err)
	}
	if want := "oracle://app:s3cret%2F%40@db.example:1522/FREEPDB1"; c.dsn != want {
		t.Errorf("dsn = %q, want %q", c.dsn, want)
	}
	if !c.upper || c.conns != 2 || len(c.init) != 2 || c.init[1] != `ALTER SESSION SET CURRENT_SCHEMA = "SALES"` {
		t.Errorf("config = %+v", c)
	}
	if got := redact(c.dsn); got != "oracle://app:***@db.example:1522/FREEPDB1" {
		t.Errorf("redact = %q", got)
	}
	c, err = parseConfig(map[string]any{"url": "oracle://u:p@h:1521/s"})
	if err != nil || c.dsn != "oracle://u:p@h:1521/s" || c.upper || c.conns != 4 || c.init[0] != sessionSettings {
		t.Errorf("url config = %+v, %v", c, err)
	}
	for _, tc := range []struct {
		cfg  map[string]any
		want string
	}{
		{map[string]any{"service": "s", "user": "u", "hostname": "h"}, `unknown option "hostname"`},
		{map[string]any{"user": "u"}, `"service" is required`},
		{map[string]any{"service": "s"}, `"user" is required`},
		{map[string]any{"url": "oracle://u:p@h/s", "host": "h"}, `option "host": not allowed with "url"`},
		{map[string]any{"service": "s", "user": "u", "identifiers": "lower"}, `option "identifiers"`},
		{map[string]any{"service": "s", "user": "u", "max_connections": 0}, `"max_connections" must be at least 1`},
		{map[string]any{"service": "s", "user": "u", "port": "x"}, `option "port": want an integer`},
		{map[string]any{"service": "s", "user": "u", "password": "${env:COGS_TEST_UNSET_VARIABLE}"}, `option "password"`},
		{map[string]any{"service": "s", "user": "u", "schema": `a"b`}, `option "schema"`},
	} {
		if _, err := parseConfig(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseConfig(%v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	// Through the registry, by name.
	if _, err := connectors.Open("oracle", map[string]any{"service": "s", "user": "u", "sid": "x"}); err == nil || !strings.Contains(err.Error(), `unknown option "sid"`) {
		t.Errorf("Open with unknown option = %v", err)
	}
}

// TestIntegrationConformance runs the shared suite against the Oracle
// server of COGS_TEST_ORACLE_DSN (a go-ora URL, e.g.
// oracle://system:pw@127.0.0.1:1521/FREEPDB1). No Oracle server runs in CI,
// so it is skipped there, even with COGS_REQUIRE_INTEGRATION=1.
func TestIntegrationConformance(t *testing.T) {
	dsn := os.Getenv("COGS_TEST_ORACLE_DSN")
	if dsn == "" {
		t.Skip("COGS_TEST_ORACLE_DSN is not set (no Oracle server)")
	}
	conformance.Run(t, conformance.Target{
		Open: func(t *testing.T) (connectors.Connector, *sql.DB) {
			c, err := connectors.Open("oracle", map[string]any{"url": dsn})
			if err != nil {
				t.Fatal(err)
			}
			db, err := sql.Open("oracle", dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				db.Close()
				c.Close()
			})
			return c, db
		},
		Quote:       Quote,
		Placeholder: func(n int) string { return fmt.Sprintf(":%d", n) },
		Types: conformance.Types{
			Int: "NUMBER(19)", Float: "BINARY_DOUBLE", Key: "VARCHAR2(191 CHAR)", Text: "CLOB", Bytes: "BLOB", Bool: "NUMBER(1)",
		},
		StrictTypes: true,
	})
}

type fakeConnector struct{ dsn string }

func (c fakeConnector) Connect(context.Context) (driver.Conn, error) {
	return sqlfake.Driver{}.Open(c.dsn)
}
func (c fakeConnector) Driver() driver.Driver { return sqlfake.Driver{} }

// TestSessionSettings checks that every new connection gets the session
// settings before it is used, and is dropped when they fail.
func TestSessionSettings(t *testing.T) {
	_, f := sqlfake.Open(t, format)
	c, err := parseConfig(map[string]any{"service": "s", "user": "u", "schema": "app"})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(sessionConnector{Connector: fakeConnector{t.Name()}, init: c.init})
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("SELECT 1 FROM dual"); err != nil {
		t.Fatal(err)
	}
	equal(t, "calls", f.Take(), []string{
		"exec: " + sessionSettings,
		`exec: ALTER SESSION SET CURRENT_SCHEMA = "app"`,
		"exec: SELECT 1 FROM dual",
	})
	db.SetMaxIdleConns(0) // the next statement needs a new connection
	db.SetMaxIdleConns(1)
	refused := &network.OracleError{ErrCode: 1435, ErrMsg: "ORA-01435: user does not exist"}
	f.Fail = func(call, query string, args []driver.NamedValue) error {
		if strings.Contains(query, "CURRENT_SCHEMA") {
			return refused
		}
		return nil
	}
	if _, err := db.Exec("SELECT 2 FROM dual"); !errors.Is(err, refused) {
		t.Fatalf("exec on a connection whose settings failed = %v", err)
	}
	if log := f.Take(); len(log) != 2 || log[0] != "exec: "+sessionSettings {
		t.Errorf("calls = %q", log)
	}
}
