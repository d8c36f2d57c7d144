package sqlbatch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
)

var testDialect = Dialect{
	Quote:       func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` },
	Placeholder: func(n int) string { return fmt.Sprintf("$%d", n) },
	MaxParams:   7,
	MaxRows:     3,
	UpsertClause: func(keys, cols []string) string {
		return fmt.Sprintf(" UPSERT %v %v", keys, cols)
	},
}

func col(name string, v abi.Value) abi.Column { return abi.Column{Name: name, Value: v} }

func up(tab string, id int64, cols ...string) abi.RowOp {
	op := abi.RowOp{Op: abi.RowUpsert, Table: tab, Keys: []abi.Column{col("id", abi.Int(id))}}
	for _, c := range cols {
		op.Cols = append(op.Cols, col(c, abi.String(c)))
	}
	return op
}

func TestPlan(t *testing.T) {
	e := &Engine{D: testDialect}
	del := abi.RowOp{Op: abi.RowDelete, Table: "t", Keys: []abi.Column{col("a", abi.String("x")), col("b", abi.Int(1))}}
	del2 := del
	del2.Keys = []abi.Column{col("a", abi.String("y")), col("b", abi.Int(2))}
	ops := []abi.RowOp{
		up("t", 5, "v"), // 0
		up("u", 1, "v"), // 1
		up("t", 4, "v"), // 2
		up("t", 3, "w"), // 3
		up("t", 2, "v"), // 4
		up("t", 1, "v"), // 5
		del, del2,       // 6, 7
		up("t", 5), // 8: row 5 again: new segment
		{Op: abi.RowDelete, Table: "u", Keys: []abi.Column{col("id", abi.Int(1))}}, // 9: new segment
	}
	var got []string
	for _, s := range mustPlan(t, e, ops, false) {
		got = append(got, fmt.Sprintf("%v %s %v", s.ops, s.sql, s.args))
	}
	want := []string{
		// Two params per row: at most 3 rows (MaxRows), sorted by key.
		`[5 4 2] INSERT INTO "t" ("id", "v") VALUES ($1, $2), ($3, $4), ($5, $6) UPSERT [id] [v] [1 v 2 v 4 v]`,
		`[0] INSERT INTO "t" ("id", "v") VALUES ($1, $2) UPSERT [id] [v] [5 v]`,
		`[1] INSERT INTO "u" ("id", "v") VALUES ($1, $2) UPSERT [id] [v] [1 v]`,
		`[3] INSERT INTO "t" ("id", "w") VALUES ($1, $2) UPSERT [id] [w] [3 w]`,
		`[6 7] DELETE FROM "t" WHERE ("a", "b") IN (($1, $2), ($3, $4)) [x 1 y 2]`,
		`[8] INSERT INTO "t" ("id") VALUES ($1) UPSERT [id] [] [5]`,
		`[9] DELETE FROM "u" WHERE "id" IN ($1) [1]`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestPlanMaxParams(t *testing.T) {
	e := &Engine{D: testDialect}
	ops := []abi.RowOp{up("t", 1, "a", "b"), up("t", 2, "a", "b"), up("t", 3, "a", "b")}
	for _, s := range mustPlan(t, e, ops, false) {
		if len(s.args) > testDialect.MaxParams {
			t.Errorf("%d params > %d: %s", len(s.args), testDialect.MaxParams, s.sql)
		}
	}
	if n := len(mustPlan(t, e, ops, true)); n != 3 {
		t.Errorf("single plan has %d statements, want 3", n)
	}
}

func TestTupleInValues(t *testing.T) {
	d := testDialect
	d.TupleInValues = true
	e := &Engine{D: d}
	ops := []abi.RowOp{{Op: abi.RowDelete, Table: "t", Keys: []abi.Column{col("a", abi.Int(1)), col("b", abi.Int(2))}}}
	if got, want := mustPlan(t, e, ops, false)[0].sql, `DELETE FROM "t" WHERE ("a", "b") IN (VALUES ($1, $2))`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestStatementsHook checks that a Dialect.Statements hook gets the groups
// (sorted by key, split where a row recurs, one op each in the single
// plan) and that its statements and errors are used as they are.
func TestStatementsHook(t *testing.T) {
	d := testDialect
	var groups []string
	d.Statements = func(ops []abi.RowOp, g Group) ([]Statement, error) {
		groups = append(groups, fmt.Sprintf("%v %s %v %v %v", g.Op, g.Table, g.Keys, g.Cols, g.Ops))
		if g.Table == "bad" {
			return nil, &connectors.BatchError{Index: g.Ops[0], Permanent: true, Err: errors.New("refused")}
		}
		return []Statement{{SQL: "S " + g.Table, Args: []any{len(g.Ops)}, Ops: g.Ops}}, nil
	}
	e := &Engine{D: d}
	ops := []abi.RowOp{up("t", 2, "v"), up("t", 1, "v"), up("u", 1), up("t", 2, "v")}
	var got []string
	for _, s := range mustPlan(t, e, ops, false) {
		got = append(got, fmt.Sprintf("%v %s %v", s.ops, s.sql, s.args))
	}
	want := []string{"[1 0] S t [2]", "[2] S u [1]", "[3] S t [1]"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	wantGroups := []string{"upsert t [id] [v] [1 0]", "upsert u [id] [] [2]", "upsert t [id] [v] [3]"}
	if strings.Join(groups, "\n") != strings.Join(wantGroups, "\n") {
		t.Errorf("groups:\n%s\nwant:\n%s", strings.Join(groups, "\n"), strings.Join(wantGroups, "\n"))
	}
	if n := len(mustPlan(t, e, ops, true)); n != 4 {
		t.Errorf("single plan has %d statements, want 4", n)
	}
	_, err := e.plan(context.Background(), append(ops, up("bad", 1)), false)
	var be *connectors.BatchError
	if !errors.As(err, &be) || be.Index != 4 || !be.Permanent {
		t.Errorf("plan with a refused group = %v, want the hook's BatchError", err)
	}
}

func mustPlan(t *testing.T, e *Engine, ops []abi.RowOp, single bool) []statement {
	t.Helper()
	st, err := e.plan(context.Background(), ops, single)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
