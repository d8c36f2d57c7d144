package sqlserver

import (
	"database/sql"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
	"github.com/cogs-dev/cogs/connectors/internal/sqlbatch"
)

// Limits of one statement.
const (
	// maxParams is the most parameters one statement binds: SQL Server
	// accepts 2,100 per request and sp_executesql, which the driver sends
	// statements through, takes two of them (the statement and the
	// parameter declarations).
	maxParams = 2098
	// maxRows is the most rows one statement carries, so that full
	// chunks share one statement text.
	maxRows = 500
	// maxBytes bounds the string and bytes payload of one statement; a
	// row larger than it still goes alone.
	maxBytes = 8 << 20
)

// smallestNormal is the smallest positive float SQL Server stores.
const smallestNormal = 0x1p-1022

// Quote quotes an identifier: [a]]b].
func Quote(name string) string { return "[" + strings.ReplaceAll(name, "]", "]]") + "]" }

// class is the SQL type a value binds as. The rows of one multi-row VALUES
// list take, per column, the type of highest precedence among them, so
// the non-NULL values of one column must share a class: bigint and float
// would lose precision, nvarchar and varbinary would corrupt.
type class uint8

const (
	classNull   class = iota // fits any column
	classInt                 // bigint
	classFloat               // float
	classBool                // bit
	classString              // nvarchar(n), nvarchar(max) beyond 4,000 characters
	classBytes               // varbinary(n), varbinary(max) beyond 8,000 bytes
)

func classOf(v abi.Value) class {
	switch v.Kind() {
	case abi.KindInt:
		return classInt
	case abi.KindFloat:
		return classFloat
	case abi.KindBool:
		return classBool
	case abi.KindString:
		return classString
	case abi.KindBytes:
		return classBytes
	}
	return classNull
}

// bind converts a value to the go-mssqldb argument of its class; a NULL
// takes the type of its column's class (an untyped NULL would be
// nvarchar, which SQL Server does not convert to varbinary).
func bind(v abi.Value, c class) any {
	switch v.Kind() {
	case abi.KindInt:
		return v.Int()
	case abi.KindFloat:
		return v.Float()
	case abi.KindBool:
		return v.Bool()
	case abi.KindString:
		return v.Str()
	case abi.KindBytes:
		b := make([]byte, len(v.Str()))
		copy(b, v.Str())
		return b
	}
	switch c {
	case classInt:
		return sql.NullInt64{}
	case classFloat:
		return sql.NullFloat64{}
	case classBool:
		return sql.NullBool{}
	case classString:
		return sql.NullString{}
	case classBytes:
		return []byte(nil)
	}
	return nil
}

func checkValue(v abi.Value) error {
	if v.Kind() != abi.KindFloat {
		return nil
	}
	f := math.Abs(v.Float())
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return fmt.Errorf("%v: SQL Server float holds no NaN or infinity", v.Float())
	case f != 0 && f < smallestNormal:
		return fmt.Errorf("%v: below the range of SQL Server float", v.Float())
	}
	return nil
}

func checkName(name string) error {
	if strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("identifier %q: NUL in a name", name)
	}
	return nil
}

// builder turns groups of row operations into statements.
type builder struct {
	schema string // when set, tables are schema.table
}

func (b builder) table(name string) string {
	if b.schema != "" {
		return Quote(b.schema) + "." + Quote(name)
	}
	return Quote(name)
}

type part struct {
	class []class
	rows  []int
}

// partition splits rows so that each column's non-NULL values share a
// class; NULL fits anywhere. Rows keep their order within a part, parts
// the order of their first row.
func partition(ops []abi.RowOp, rows []int, width int) []part {
	var parts []part
	rc := make([]class, width)
	for _, i := range rows {
		for c := range rc {
			rc[c] = classOf(value(&ops[i], c))
		}
		found := false
		for p := range parts {
			if fits(parts[p].class, rc) {
				for c, k := range rc {
					if k != classNull {
						parts[p].class[c] = k
					}
				}
				parts[p].rows = append(parts[p].rows, i)
				found = true
				break
			}
		}
		if !found {
			parts = append(parts, part{class: append([]class(nil), rc...), rows: []int{i}})
		}
	}
	return parts
}

func fits(pc, rc []class) bool {
	for c, k := range rc {
		if k != classNull && pc[c] != classNull && pc[c] != k {
			return false
		}
	}
	return true
}

func value(op *abi.RowOp, c int) abi.Value {
	if c < len(op.Keys) {
		return op.Keys[c].Value
	}
	return op.Cols[c-len(op.Keys)].Value
}

func payload(op *abi.RowOp) int {
	n := 0
	for c := 0; c < len(op.Keys)+len(op.Cols); c++ {
		n += len(value(op, c).Str())
	}
	return n
}

// collisions takes out of rows (sorted by key) the rows whose string keys
// are equal under a case-insensitive comparison that ignores trailing
// spaces, SQL Server's default: one MERGE may not touch a target row twice
// (error 8672), and their order matters. They come back in alone, in batch
// order, each to go in a statement of its own after the others.
func collisions(ops []abi.RowOp, rows []int) (rest, alone []int) {
	strKeys := false
	for _, c := range ops[rows[0]].Keys {
		strKeys = strKeys || c.Value.Kind() == abi.KindString
	}
	if !strKeys || len(rows) < 2 {
		return rows, nil
	}
	folded := make([]string, len(rows))
	seen := make(map[string]int, len(rows))
	var b strings.Builder
	for r, i := range rows {
		b.Reset()
		for _, c := range ops[i].Keys {
			v := c.Value
			fmt.Fprintf(&b, "%d:", v.Kind())
			switch v.Kind() {
			case abi.KindString:
				b.WriteString(strings.ToLower(strings.TrimRight(v.Str(), " ")))
			case abi.KindInt:
				fmt.Fprint(&b, v.Int())
			case abi.KindFloat:
				fmt.Fprint(&b, v.Float())
			case abi.KindBool:
				fmt.Fprint(&b, v.Bool())
			default:
				b.WriteString(v.Str())
			}
			b.WriteByte(0)
		}
		folded[r] = b.String()
		seen[folded[r]]++
	}
	for r, i := range rows {
		if seen[folded[r]] > 1 {
			alone = append(alone, i)
		} else {
			rest = append(rest, i)
		}
	}
	sort.Ints(alone)
	return rest, alone
}

func floorPow2(n int) int {
	p := 1
	for p*2 <= n {
		p *= 2
	}
	return p
}

func refuse(i int, err error) error {
	return &connectors.BatchError{Index: i, Permanent: true, Err: err}
}

// statements is the sqlbatch.Dialect.Statements hook. Each part of the
// group is sent in chunks of as many rows as maxParams and maxRows allow
// (the rest in powers of two, so that a group has few statement texts);
// non-key columns NULL in every row of a part are written as a literal
// NULL rather than bound. Rows whose keys the server may take for one
// (see collisions) follow, one per statement, in batch order.
func (b builder) statements(ops []abi.RowOp, g sqlbatch.Group) ([]sqlbatch.Statement, error) {
	all := append(append([]string(nil), g.Keys...), g.Cols...)
	for _, n := range append([]string{g.Table}, all...) {
		if err := checkName(n); err != nil {
			return nil, refuse(g.Ops[0], fmt.Errorf("table %q: %w", g.Table, err))
		}
	}
	for _, i := range g.Ops {
		for c := range all {
			if err := checkValue(value(&ops[i], c)); err != nil {
				return nil, refuse(i, fmt.Errorf("table %q column %q: %w", g.Table, all[c], err))
			}
		}
	}
	rows, alone := collisions(ops, g.Ops)
	var out []sqlbatch.Statement
	parts := partition(ops, rows, len(all))
	for _, i := range alone {
		parts = append(parts, partition(ops, []int{i}, len(all))...)
	}
	for _, p := range parts {
		bound := make([]bool, len(all))
		per := 0
		for c := range bound {
			bound[c] = c < len(g.Keys) || p.class[c] != classNull
			if bound[c] {
				per++
			}
		}
		n := max(min(maxParams/per, maxRows), 1)
		for start := 0; start < len(p.rows); {
			size := n
			if rest := len(p.rows) - start; rest < n {
				size = floorPow2(rest)
			}
			total := 0
			for k := 0; k < size; k++ {
				total += payload(&ops[p.rows[start+k]])
				if total > maxBytes && k > 0 {
					size = floorPow2(k)
					break
				}
			}
			chunk := p.rows[start : start+size]
			start += size
			args := make([]any, 0, size*per)
			for _, i := range chunk {
				for c := range all {
					if bound[c] {
						args = append(args, bind(value(&ops[i], c), p.class[c]))
					}
				}
			}
			out = append(out, sqlbatch.Statement{SQL: b.sql(g, bound, size), Args: args, Ops: chunk})
		}
	}
	return out, nil
}

// sql is the statement for rows rows of a group whose columns (keys, then
// columns) are bound where bound is set and NULL elsewhere.
func (b builder) sql(g sqlbatch.Group, bound []bool, rows int) string {
	all := append(append([]string(nil), g.Keys...), g.Cols...)
	var s strings.Builder
	p := 0
	// values writes VALUES (@p1, @p2), (@p3, @p4) AS S ([a], [b]) over
	// the bound columns.
	values := func() {
		s.WriteString("(VALUES ")
		for r := 0; r < rows; r++ {
			if r > 0 {
				s.WriteString(", ")
			}
			s.WriteByte('(')
			first := true
			for c := range all {
				if !bound[c] {
					continue
				}
				if !first {
					s.WriteString(", ")
				}
				first = false
				p++
				fmt.Fprintf(&s, "@p%d", p)
			}
			s.WriteByte(')')
		}
		s.WriteString(") AS S (")
		first := true
		for c, name := range all {
			if !bound[c] {
				continue
			}
			if !first {
				s.WriteString(", ")
			}
			first = false
			s.WriteString(Quote(name))
		}
		s.WriteByte(')')
	}
	src := func(c int) string {
		if bound[c] {
			return "S." + Quote(all[c])
		}
		return "NULL"
	}
	list := func(f func(c int) string) {
		for c := range all {
			if c > 0 {
				s.WriteString(", ")
			}
			s.WriteString(f(c))
		}
	}
	on := func() {
		for j, k := range g.Keys {
			if j > 0 {
				s.WriteString(" AND ")
			}
			s.WriteString("T." + Quote(k) + " = S." + Quote(k))
		}
	}
	switch g.Op {
	case abi.RowDelete:
		if len(g.Keys) == 1 {
			s.WriteString("DELETE FROM " + b.table(g.Table) + " WHERE " + Quote(g.Keys[0]) + " IN (")
			for r := 0; r < rows; r++ {
				if r > 0 {
					s.WriteString(", ")
				}
				p++
				fmt.Fprintf(&s, "@p%d", p)
			}
			s.WriteString(");")
			return s.String()
		}
		s.WriteString("DELETE T FROM " + b.table(g.Table) + " AS T JOIN ")
		values()
		s.WriteString(" ON ")
		on()
	case abi.RowInsert:
		s.WriteString("INSERT INTO " + b.table(g.Table) + " (")
		list(func(c int) string { return Quote(all[c]) })
		s.WriteString(") SELECT ")
		list(src)
		s.WriteString(" FROM ")
		values()
	default:
		s.WriteString("MERGE INTO " + b.table(g.Table) + " WITH (HOLDLOCK) AS T USING ")
		values()
		s.WriteString(" ON ")
		on()
		if len(g.Cols) > 0 {
			s.WriteString(" WHEN MATCHED THEN UPDATE SET ")
			for j, c := range g.Cols {
				if j > 0 {
					s.WriteString(", ")
				}
				s.WriteString("T." + Quote(c) + " = " + src(len(g.Keys)+j))
			}
		}
		s.WriteString(" WHEN NOT MATCHED THEN INSERT (")
		list(func(c int) string { return Quote(all[c]) })
		s.WriteString(") VALUES (")
		list(src)
		s.WriteString(")")
	}
	s.WriteByte(';')
	return s.String()
}
