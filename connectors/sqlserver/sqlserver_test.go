package sqlserver

import (
	"github.com/cogs-dev/cogs/connectors/internal/sqlfake"

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
	mssql "github.com/microsoft/go-mssqldb"
	"github.com/microsoft/go-mssqldb/msdsn"
)

// format renders a go-mssqldb argument in the fake's log.
func format(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case string:
		return fmt.Sprintf("%q", v)
	case []byte:
		if v == nil {
			return "NULL(varbinary)"
		}
		return fmt.Sprintf("0x%x", v)
	case int64:
		return fmt.Sprintf("%d", v)
	case float64, bool:
		return fmt.Sprintf("%v", v)
	case sql.NullInt64:
		return "NULL(bigint)"
	case sql.NullFloat64:
		return "NULL(float)"
	case sql.NullBool:
		return "NULL(bit)"
	case sql.NullString:
		return "NULL(nvarchar)"
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

func all(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
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
	comp := func(op abi.RowOpKind, a string, b int64) abi.RowOp {
		return abi.RowOp{Op: op, Table: "t", Keys: []abi.Column{col("a", abi.String(a)), col("b", abi.Int(b))}}
	}
	const mergeV = `MERGE INTO [t] WITH (HOLDLOCK) AS T USING (VALUES (@p1, @p2)) AS S ([id], [v]) ON T.[id] = S.[id] WHEN MATCHED THEN UPDATE SET T.[v] = S.[v] WHEN NOT MATCHED THEN INSERT ([id], [v]) VALUES (S.[id], S.[v]);`
	for _, tc := range []struct {
		name  string
		b     builder
		ops   []abi.RowOp
		want  []string
		index int // of the refused op when want is nil
	}{{
		name: "upsert, the tail in powers of two",
		ops: []abi.RowOp{
			up("persons", 1, col("name", abi.String("a")), col("n", abi.Int(1))),
			up("persons", 2, col("name", abi.String("b")), col("n", abi.Int(2))),
			up("persons", 3, col("name", abi.String("c")), col("n", abi.Int(3))),
		},
		want: []string{
			`[0 1] MERGE INTO [persons] WITH (HOLDLOCK) AS T USING (VALUES (@p1, @p2, @p3), (@p4, @p5, @p6)) AS S ([id], [name], [n]) ON T.[id] = S.[id] WHEN MATCHED THEN UPDATE SET T.[name] = S.[name], T.[n] = S.[n] WHEN NOT MATCHED THEN INSERT ([id], [name], [n]) VALUES (S.[id], S.[name], S.[n]); | 1, "a", 1, 2, "b", 2`,
			`[2] MERGE INTO [persons] WITH (HOLDLOCK) AS T USING (VALUES (@p1, @p2, @p3)) AS S ([id], [name], [n]) ON T.[id] = S.[id] WHEN MATCHED THEN UPDATE SET T.[name] = S.[name], T.[n] = S.[n] WHEN NOT MATCHED THEN INSERT ([id], [name], [n]) VALUES (S.[id], S.[name], S.[n]); | 3, "c", 3`,
		},
	}, {
		name: "key-only upsert inserts only",
		ops:  []abi.RowOp{up("t", 1), up("t", 2)},
		want: []string{`[0 1] MERGE INTO [t] WITH (HOLDLOCK) AS T USING (VALUES (@p1), (@p2)) AS S ([id]) ON T.[id] = S.[id] WHEN NOT MATCHED THEN INSERT ([id]) VALUES (S.[id]); | 1, 2`},
	}, {
		name: "insert with a column NULL in every row",
		ops:  []abi.RowOp{ins("t", 1, col("v", abi.Bool(true)), col("w", abi.Null())), ins("t", 2, col("v", abi.Bool(false)), col("w", abi.Null()))},
		want: []string{`[0 1] INSERT INTO [t] ([id], [v], [w]) SELECT S.[id], S.[v], NULL FROM (VALUES (@p1, @p2), (@p3, @p4)) AS S ([id], [v]); | 1, true, 2, false`},
	}, {
		name: "upsert with a column NULL in every row",
		ops:  []abi.RowOp{up("t", 1, col("w", abi.Null()), col("v", abi.Float(0.5)))},
		want: []string{`[0] MERGE INTO [t] WITH (HOLDLOCK) AS T USING (VALUES (@p1, @p2)) AS S ([id], [v]) ON T.[id] = S.[id] WHEN MATCHED THEN UPDATE SET T.[w] = NULL, T.[v] = S.[v] WHEN NOT MATCHED THEN INSERT ([id], [w], [v]) VALUES (S.[id], NULL, S.[v]); | 1, 0.5`},
	}, {
		name: "a NULL binds as its column's type",
		ops: []abi.RowOp{
			up("t", 1, col("i", abi.Int(1)), col("f", abi.Null()), col("o", abi.Bool(true)), col("s", abi.Null()), col("b", abi.Bytes([]byte{1}))),
			up("t", 2, col("i", abi.Null()), col("f", abi.Float(2)), col("o", abi.Null()), col("s", abi.String("x")), col("b", abi.Null())),
		},
		want: []string{`[0 1] MERGE INTO [t] WITH (HOLDLOCK) AS T USING (VALUES (@p1, @p2, @p3, @p4, @p5, @p6), (@p7, @p8, @p9, @p10, @p11, @p12)) AS S ([id], [i], [f], [o], [s], [b]) ON T.[id] = S.[id] WHEN MATCHED THEN UPDATE SET T.[i] = S.[i], T.[f] = S.[f], T.[o] = S.[o], T.[s] = S.[s], T.[b] = S.[b] WHEN NOT MATCHED THEN INSERT ([id], [i], [f], [o], [s], [b]) VALUES (S.[id], S.[i], S.[f], S.[o], S.[s], S.[b]); | 1, 1, NULL(float), true, NULL(nvarchar), 0x01, 2, NULL(bigint), 2, NULL(bit), "x", NULL(varbinary)`},
	}, {
		name: "values of different types in one column go to different statements",
		ops: []abi.RowOp{
			up("t", 1, col("v", abi.Int(1))),
			up("t", 2, col("v", abi.Float(2.5))),
			up("t", 3, col("v", abi.String("s"))),
			up("t", 4, col("v", abi.Bytes([]byte("s")))),
			up("t", 5, col("v", abi.Int(5))),
		},
		want: []string{
			`[0 4] ` + strings.Replace(mergeV, "(@p1, @p2)", "(@p1, @p2), (@p3, @p4)", 1) + ` | 1, 1, 5, 5`,
			`[1] ` + mergeV + ` | 2, 2.5`,
			`[2] ` + mergeV + ` | 3, "s"`,
			`[3] ` + mergeV + ` | 4, 0x73`,
		},
	}, {
		name: "keys equal but for case or trailing spaces go alone, in batch order",
		ops: []abi.RowOp{
			{Op: abi.RowUpsert, Table: "t", Keys: []abi.Column{col("k", abi.String("bob"))}, Cols: []abi.Column{col("v", abi.Int(1))}},
			{Op: abi.RowUpsert, Table: "t", Keys: []abi.Column{col("k", abi.String("Carl"))}, Cols: []abi.Column{col("v", abi.Int(2))}},
			{Op: abi.RowUpsert, Table: "t", Keys: []abi.Column{col("k", abi.String("Bob "))}, Cols: []abi.Column{col("v", abi.Int(3))}},
			{Op: abi.RowUpsert, Table: "t", Keys: []abi.Column{col("k", abi.String("alice"))}, Cols: []abi.Column{col("v", abi.Int(4))}},
		},
		want: []string{
			`[1 3] MERGE INTO [t] WITH (HOLDLOCK) AS T USING (VALUES (@p1, @p2), (@p3, @p4)) AS S ([k], [v]) ON T.[k] = S.[k] WHEN MATCHED THEN UPDATE SET T.[v] = S.[v] WHEN NOT MATCHED THEN INSERT ([k], [v]) VALUES (S.[k], S.[v]); | "Carl", 2, "alice", 4`,
			`[0] MERGE INTO [t] WITH (HOLDLOCK) AS T USING (VALUES (@p1, @p2)) AS S ([k], [v]) ON T.[k] = S.[k] WHEN MATCHED THEN UPDATE SET T.[v] = S.[v] WHEN NOT MATCHED THEN INSERT ([k], [v]) VALUES (S.[k], S.[v]); | "bob", 1`,
			`[2] MERGE INTO [t] WITH (HOLDLOCK) AS T USING (VALUES (@p1, @p2)) AS S ([k], [v]) ON T.[k] = S.[k] WHEN MATCHED THEN UPDATE SET T.[v] = S.[v] WHEN NOT MATCHED THEN INSERT ([k], [v]) VALUES (S.[k], S.[v]); | "Bob ", 3`,
		},
	}, {
		name: "delete",
		ops:  []abi.RowOp{del("t", 1), del("t", 2)},
		want: []string{`[0 1] DELETE FROM [t] WHERE [id] IN (@p1, @p2); | 1, 2`},
	}, {
		name: "delete with a composite key",
		ops:  []abi.RowOp{comp(abi.RowDelete, "x", 1), comp(abi.RowDelete, "y", 2)},
		want: []string{`[0 1] DELETE T FROM [t] AS T JOIN (VALUES (@p1, @p2), (@p3, @p4)) AS S ([a], [b]) ON T.[a] = S.[a] AND T.[b] = S.[b]; | "x", 1, "y", 2`},
	}, {
		name: "schema and odd identifiers",
		b:    builder{schema: "sales"},
		ops:  []abi.RowOp{{Op: abi.RowUpsert, Table: "a]b", Keys: []abi.Column{col("select", abi.Int(1))}, Cols: []abi.Column{col("it's [x]", abi.String("v"))}}},
		want: []string{`[0] MERGE INTO [sales].[a]]b] WITH (HOLDLOCK) AS T USING (VALUES (@p1, @p2)) AS S ([select], [it's [x]]]) ON T.[select] = S.[select] WHEN MATCHED THEN UPDATE SET T.[it's [x]]] = S.[it's [x]]] WHEN NOT MATCHED THEN INSERT ([select], [it's [x]]]) VALUES (S.[select], S.[it's [x]]]); | 1, "v"`},
	}, {
		name:  "NaN is refused",
		ops:   []abi.RowOp{up("t", 1, col("f", abi.Float(1))), up("t", 2, col("f", abi.Float(math.NaN())))},
		index: 1,
	}, {
		name:  "a subnormal float is refused",
		ops:   []abi.RowOp{up("t", 1, col("f", abi.Float(-math.SmallestNonzeroFloat64)))},
		index: 0,
	}, {
		name:  "NUL in a name is refused",
		ops:   []abi.RowOp{up("t\x00", 1)},
		index: 0,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			sts, err := tc.b.statements(tc.ops, group(tc.ops, all(len(tc.ops))...))
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

// TestStatementsParameterLimit checks that no statement binds more than
// 2,098 parameters, that every op is carried once, in order, and that full
// chunks share one statement text.
func TestStatementsParameterLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ncols int
		nrows int
		sizes []int
	}{
		// 201 parameters per row: 10 rows (2,010 parameters) per statement.
		{"wide rows", 200, 1000, repeat(10, 100)},
		{"wide rows, a tail", 200, 27, []int{10, 10, 4, 2, 1}},
		// 2 parameters per row: the row limit (500) comes first.
		{"narrow rows", 1, 1100, []int{500, 500, 64, 32, 4}},
		// 1,024 columns, SQL Server's most: 2 rows per statement.
		{"widest rows", 1023, 5, []int{2, 2, 1}},
		// 700 parameters per row: 3 rows would be 2,100, over the limit.
		{"at the limit", 699, 5, []int{2, 2, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops := make([]abi.RowOp, tc.nrows)
			for i := range ops {
				ops[i] = up("wide", int64(i))
				for c := 0; c < tc.ncols; c++ {
					ops[i].Cols = append(ops[i].Cols, col(fmt.Sprintf("c%d", c), abi.Int(int64(i*c))))
				}
			}
			sts, err := builder{}.statements(ops, group(ops, all(len(ops))...))
			if err != nil {
				t.Fatal(err)
			}
			var sizes []int
			next := 0
			texts := map[int]string{}
			for _, s := range sts {
				sizes = append(sizes, len(s.Ops))
				if n := strings.Count(s.SQL, "@p"); n != len(s.Args) || n > 2098 {
					t.Fatalf("statement of %d rows: %d placeholders, %d args (limit 2,098)", len(s.Ops), n, len(s.Args))
				}
				if !strings.Contains(s.SQL, fmt.Sprintf("@p%d)", len(s.Args))) || strings.Contains(s.SQL, fmt.Sprintf("@p%d)", len(s.Args)+1)) {
					t.Fatalf("placeholders of %d args are not numbered 1..%d", len(s.Args), len(s.Args))
				}
				for r, i := range s.Ops {
					if i != next {
						t.Fatalf("op %d carried at %d", i, next)
					}
					next++
					if got := s.Args[r*(tc.ncols+1)]; got != int64(i) {
						t.Fatalf("row %d of a statement binds id %v, want %d", r, got, i)
					}
				}
				if prev, ok := texts[len(s.Ops)]; ok && prev != s.SQL {
					t.Fatalf("two statement texts for %d rows", len(s.Ops))
				}
				texts[len(s.Ops)] = s.SQL
			}
			if next != tc.nrows {
				t.Fatalf("%d ops carried, want %d", next, tc.nrows)
			}
			if fmt.Sprint(sizes) != fmt.Sprint(tc.sizes) {
				t.Errorf("rows per statement = %v, want %v", sizes, tc.sizes)
			}
		})
	}
}

func repeat(v, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}

const (
	testCheckpoint = `MERGE INTO cogs_checkpoints WITH (HOLDLOCK) AS C USING (VALUES (@p1, @p2, @p3)) AS S (stream, ms, seq) ON C.stream = S.stream WHEN MATCHED THEN UPDATE SET C.ms = S.ms, C.seq = S.seq WHEN NOT MATCHED THEN INSERT (stream, ms, seq) VALUES (S.stream, S.ms, S.seq);`
	merge1         = `MERGE INTO [t] WITH (HOLDLOCK) AS T USING (VALUES (@p1, @p2)) AS S ([id], [v]) ON T.[id] = S.[id] WHEN MATCHED THEN UPDATE SET T.[v] = S.[v] WHEN NOT MATCHED THEN INSERT ([id], [v]) VALUES (S.[id], S.[v]);`
	merge2         = `MERGE INTO [t] WITH (HOLDLOCK) AS T USING (VALUES (@p1, @p2), (@p3, @p4)) AS S ([id], [v]) ON T.[id] = S.[id] WHEN MATCHED THEN UPDATE SET T.[v] = S.[v] WHEN NOT MATCHED THEN INSERT ([id], [v]) VALUES (S.[id], S.[v]);`
)

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
		"prepare: " + merge2,
		"prepare: " + merge1,
		`prepare: DELETE FROM [u] WHERE [id] IN (@p1);`,
		"prepare: " + testCheckpoint,
		"begin",
		"exec: " + merge2 + ` | 1, "a", 2, "b"`,
		"exec: " + merge1 + ` | 3, "c"`,
		`exec: DELETE FROM [u] WHERE [id] IN (@p1); | 9`,
		"exec: " + testCheckpoint + ` | "cogs:{persons}", 1700000000123, 4`,
		"commit",
	})
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
		`query: SELECT ms, seq FROM cogs_checkpoints WHERE stream = @p1 | "s"`,
		`query: SELECT ms, seq FROM cogs_checkpoints WHERE stream = @p1 | "none"`,
	})
}

func TestApplyWithSchema(t *testing.T) {
	db, f := sqlfake.Open(t, format)
	c := newConnector(db, builder{schema: "sales"})
	if err := c.Apply(context.Background(), []abi.RowOp{del("t", 1)}, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 2}}); err != nil {
		t.Fatal(err)
	}
	equal(t, "calls", f.Take(), []string{
		`prepare: DELETE FROM [sales].[t] WHERE [id] IN (@p1);`,
		"prepare: " + strings.Replace(testCheckpoint, "cogs_checkpoints", "[sales].cogs_checkpoints", 1),
		"begin",
		`exec: DELETE FROM [sales].[t] WHERE [id] IN (@p1); | 1`,
		"exec: " + strings.Replace(testCheckpoint, "cogs_checkpoints", "[sales].cogs_checkpoints", 1) + ` | "s", 2, 0`,
		"commit",
	})
	if got, want := createCheckpoints("o'k"), `IF OBJECT_ID(N'[o''k].cogs_checkpoints', N'U') IS NULL BEGIN BEGIN TRY CREATE TABLE [o'k].cogs_checkpoints (stream NVARCHAR(450) NOT NULL PRIMARY KEY, ms BIGINT NOT NULL, seq BIGINT NOT NULL); END TRY BEGIN CATCH IF ERROR_NUMBER() <> 2714 THROW; END CATCH END`; got != want {
		t.Errorf("createCheckpoints = %s\nwant %s", got, want)
	}
}

// wraps reports whether err wraps target; mssql.Error, which holds a
// slice, is not comparable and is matched by number.
func wraps(err, target error) bool {
	if te, ok := target.(mssql.Error); ok {
		var me mssql.Error
		return errors.As(err, &me) && me.Number == te.Number
	}
	return errors.Is(err, target)
}

// hasArg reports whether args hold v.
func hasArg(args []driver.NamedValue, v any) bool {
	for _, a := range args {
		if a.Value == v {
			return true
		}
	}
	return false
}

func TestApplyIsolatesTheFailingRow(t *testing.T) {
	db, f := sqlfake.Open(t, format)
	c := newConnector(db, builder{})
	dup := mssql.Error{Number: 2627, State: 1, Class: 14, Message: "Violation of PRIMARY KEY constraint 'PK_t'. Cannot insert duplicate key in object 'dbo.t'. The duplicate key value is (2).", ServerName: "db1", LineNo: 1}
	dup.All = []mssql.Error{dup}
	f.Fail = func(call, query string, args []driver.NamedValue) error {
		if call == "exec" && strings.HasPrefix(query, "INSERT") && hasArg(args, "dup") {
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
	if !errors.As(err, &be) || !be.Permanent || be.Index != 2 {
		t.Fatalf("apply = %v, want a permanent BatchError at 2", err)
	}
	var me mssql.Error
	if !errors.As(err, &me) || me.Number != 2627 {
		t.Errorf("apply = %v, want it to wrap error 2627", err)
	}
	const (
		insert1 = `INSERT INTO [t] ([id], [v]) SELECT S.[id], S.[v] FROM (VALUES (@p1, @p2)) AS S ([id], [v]);`
		insert2 = `INSERT INTO [t] ([id], [v]) SELECT S.[id], S.[v] FROM (VALUES (@p1, @p2), (@p3, @p4)) AS S ([id], [v]);`
	)
	equal(t, "calls", f.Take(), []string{
		"prepare: " + merge1,
		"prepare: " + insert2,
		"prepare: " + insert1,
		"prepare: " + testCheckpoint,
		"begin",
		"exec: " + merge1 + ` | 5, "x"`,
		"exec: " + insert2 + ` | 1, "z", 2, "dup"`,
		"rollback",
		// Row by row, in batch order, to name the op; then rolled back.
		"begin",
		"exec: " + merge1 + ` | 5, "x"`,
		"exec: " + insert1 + ` | 3, "y"`,
		"exec: " + insert1 + ` | 2, "dup"`,
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
		{"deadlock", "exec", mssql.Error{Number: 1205, Class: 13, Message: "Transaction (Process ID 52) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction."},
			[]string{"begin", "exec: " + merge2 + ` | 1, "a", 2, "b"`, "rollback"}},
		{"lock timeout on the checkpoint", "checkpoint", mssql.Error{Number: 1222, Class: 16, Message: "Lock request time out period exceeded."},
			[]string{"begin", "exec: " + merge2 + ` | 1, "a", 2, "b"`, "exec: " + testCheckpoint + ` | "s", 1, 0`, "rollback"}},
		{"connection lost on commit", "commit", mssql.StreamError{InnerError: io.ErrUnexpectedEOF},
			[]string{"begin", "exec: " + merge2 + ` | 1, "a", 2, "b"`, "exec: " + testCheckpoint + ` | "s", 1, 0`, "commit"}},
		{"begin on a dead connection", "begin", driver.ErrBadConn, nil},
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
			if !errors.As(err, &be) || be.Permanent || be.Index != -1 || !wraps(err, tc.err) {
				t.Fatalf("apply = %v, want a transient BatchError at -1", err)
			}
			if tc.last == nil {
				return
			}
			log := f.Take()
			for len(log) > 0 && log[0] != "begin" {
				log = log[1:]
			}
			equal(t, "calls", log, tc.last)
		})
	}
}

func TestApplyRefusesBadValuesBeforeSending(t *testing.T) {
	db, f := sqlfake.Open(t, format)
	c := newConnector(db, builder{})
	err := c.Apply(context.Background(), []abi.RowOp{up("t", 1), up("t", 2, col("f", abi.Float(math.Inf(-1))))}, connectors.Checkpoint{})
	var be *connectors.BatchError
	if !errors.As(err, &be) || !be.Permanent || be.Index != 1 {
		t.Fatalf("apply = %v, want a permanent BatchError at 1", err)
	}
	if log := f.Take(); len(log) != 0 {
		t.Errorf("calls = %q, want none", log)
	}
}

func TestPermanent(t *testing.T) {
	// e is an error as the driver returns it: the last of the request's
	// errors, with all of them in All.
	e := func(n int32, class uint8) error {
		err := mssql.Error{Number: n, State: 1, Class: class, Message: "test", ServerName: "db1", LineNo: 1}
		err.All = []mssql.Error{err}
		return err
	}
	two := func(first, last int32) error {
		a := mssql.Error{Number: first, State: 1, Class: 16, Message: "first", ServerName: "db1", LineNo: 1}
		b := mssql.Error{Number: last, State: 1, Class: 16, Message: "last", ServerName: "db1", LineNo: 1}
		b.All = []mssql.Error{a, b}
		return b
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{e(2627, 14), true}, // primary key violation
		{e(2601, 14), true}, // unique index violation
		{e(515, 16), true},  // NULL into NOT NULL
		{e(8152, 16), true}, // string or binary data would be truncated
		{e(2628, 16), true}, // ... in table, column, value
		{e(245, 16), true},  // conversion failed
		{e(547, 16), true},  // constraint conflict
		{e(208, 16), true},  // invalid object name
		{e(1205, 13), false},
		{e(1222, 16), false},
		{e(40613, 17), false},
		{e(0, 20), false}, // fatal: the connection is closed
		{fmt.Errorf("exec: %w", e(2627, 14)), true},
		{fmt.Errorf("exec: %w", e(1205, 13)), false},
		{two(1222, 50000), false}, // a lock timeout, then a user error
		{two(547, 2627), true},
		{mssql.Error{Number: 1205, Class: 13}, false}, // without All
		{mssql.Error{Number: 2627, Class: 14}, true},
		{mssql.ServerError{}, false},
		{mssql.StreamError{InnerError: io.EOF}, false},
		{driver.ErrBadConn, false},
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
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("p@ss;w/rd&x=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("COGS_TEST_MSSQL_USER", "sa")
	c, err := parseConfig(map[string]any{"host": "db.example", "port": 14330, "database": "shop", "user": "${env:COGS_TEST_MSSQL_USER}", "password": "${file:" + pw + "}", "encrypt": "strict", "trust_server_certificate": "true", "schema": "sales", "max_connections": 3})
	if err != nil {
		t.Fatal(err)
	}
	p, err := msdsn.Parse(c.dsn)
	if err != nil {
		t.Fatalf("the driver cannot parse %q: %v", c.dsn, err)
	}
	if p.Host != "db.example" || p.Port != 14330 || p.Database != "shop" || p.User != "sa" || p.Password != "p@ss;w/rd&x=1" || p.Encryption != msdsn.EncryptionStrict || p.AppName != "cogs" {
		t.Errorf("parsed dsn = host %q port %d database %q user %q password %q encryption %v app %q", p.Host, p.Port, p.Database, p.User, p.Password, p.Encryption, p.AppName)
	}
	if c.schema != "sales" || c.conns != 3 {
		t.Errorf("config = %+v", c)
	}
	if got := redact(c.dsn); strings.Contains(got, "p%40ss") || !strings.Contains(got, "sa:%2A%2A%2A@db.example") {
		t.Errorf("redact = %q", got)
	}
	c, err = parseConfig(map[string]any{"url": "sqlserver://u:p@h?database=d"})
	if err != nil || c.dsn != "sqlserver://u:p@h?database=d" || c.conns != 4 {
		t.Errorf("url config = %+v, %v", c, err)
	}
	for _, tc := range []struct {
		cfg  map[string]any
		want string
	}{
		{map[string]any{"database": "d", "user": "u", "server": "h"}, `unknown option "server"`},
		{map[string]any{"user": "u"}, `"database" is required`},
		{map[string]any{"database": "d"}, `"user" is required`},
		{map[string]any{"url": "sqlserver://h", "database": "d"}, `option "database": not allowed with "url"`},
		{map[string]any{"database": "d", "user": "u", "encrypt": "yes"}, `option "encrypt"`},
		{map[string]any{"database": "d", "user": "u", "trust_server_certificate": "1"}, `option "trust_server_certificate"`},
		{map[string]any{"database": "d", "user": "u", "max_connections": -1}, `"max_connections" must be at least 1`},
		{map[string]any{"database": "d", "user": "u", "password": "${env:COGS_TEST_UNSET_VARIABLE}"}, `option "password"`},
	} {
		if _, err := parseConfig(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseConfig(%v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := connectors.Open("sqlserver", map[string]any{"database": "d", "user": "u", "instance": "x"}); err == nil || !strings.Contains(err.Error(), `unknown option "instance"`) {
		t.Errorf("Open with unknown option = %v", err)
	}
}

// TestIntegrationConformance runs the shared suite against the SQL Server
// of COGS_TEST_MSSQL_DSN (a go-mssqldb URL, e.g.
// sqlserver://sa:pw@127.0.0.1:1433?database=cogs). No SQL Server runs in
// CI, so it is skipped there, even with COGS_REQUIRE_INTEGRATION=1.
func TestIntegrationConformance(t *testing.T) {
	dsn := os.Getenv("COGS_TEST_MSSQL_DSN")
	if dsn == "" {
		t.Skip("COGS_TEST_MSSQL_DSN is not set (no SQL Server)")
	}
	conformance.Run(t, conformance.Target{
		Open: func(t *testing.T) (connectors.Connector, *sql.DB) {
			c, err := connectors.Open("sqlserver", map[string]any{"url": dsn})
			if err != nil {
				t.Fatal(err)
			}
			mc, err := mssql.NewConnector(dsn)
			if err != nil {
				t.Fatal(err)
			}
			db := sql.OpenDB(mc)
			t.Cleanup(func() {
				db.Close()
				c.Close()
			})
			return c, db
		},
		Quote:       Quote,
		Placeholder: func(n int) string { return fmt.Sprintf("@p%d", n) },
		Types: conformance.Types{
			Int: "BIGINT", Float: "FLOAT", Key: "NVARCHAR(191)", Text: "NVARCHAR(MAX)", Bytes: "VARBINARY(MAX)", Bool: "BIT",
		},
		StrictTypes: true,
	})
}
