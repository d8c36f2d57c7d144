package oracle

import (
	"fmt"
	"math"
	"strings"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
	"github.com/cogs-dev/cogs/connectors/internal/sqlbatch"
	goora "github.com/sijms/go-ora/v2"
)

// Limits of one array-bound execution.
const (
	// maxRows is the most rows one execution binds.
	maxRows = 1000
	// maxBytes bounds the string and bytes payload bound inline by one
	// execution (values bound as LOBs are sent apart); a row larger than
	// it still goes alone.
	maxBytes = 8 << 20
	// maxVarchar is the longest string, in bytes, bound as VARCHAR2 (the
	// SQL limit with MAX_STRING_SIZE = STANDARD); longer ones bind as a
	// temporary CLOB.
	maxVarchar = 4000
	// maxRaw is the longest byte string bound as RAW; longer ones bind as
	// a temporary BLOB.
	maxRaw = 2000
)

// Oracle NUMBER holds magnitudes from 1e-130 to below 1e126.
const (
	numberMin = 1e-130
	numberMax = 1e126
)

// Quote quotes an identifier: "name". Oracle quoted identifiers are case
// sensitive and cannot contain a double quote or NUL (see checkName).
func Quote(name string) string { return `"` + name + `"` }

// checkName refuses what no quoted Oracle identifier may hold.
func checkName(name string) error {
	if strings.ContainsAny(name, "\"\x00") {
		return fmt.Errorf("identifier %q: Oracle identifiers cannot contain a double quote or NUL", name)
	}
	return nil
}

// class is how a value binds in an array: every non-NULL element of one
// bound array must bind as the same Oracle type.
type class uint8

const (
	classNull   class = iota // NULL: fits any array
	classNumber              // int64, float64 and bool: NUMBER
	classChar                // string up to maxVarchar bytes: VARCHAR2
	classClob                // longer string: temporary CLOB
	classRaw                 // bytes up to maxRaw: RAW
	classBlob                // longer bytes: temporary BLOB
)

func classOf(v abi.Value) class {
	switch v.Kind() {
	case abi.KindInt, abi.KindFloat, abi.KindBool:
		return classNumber
	case abi.KindString:
		if len(v.Str()) > maxVarchar {
			return classClob
		}
		return classChar
	case abi.KindBytes:
		if len(v.Str()) > maxRaw {
			return classBlob
		}
		return classRaw
	}
	return classNull
}

// bind converts a value to the go-ora argument of its class.
func bind(v abi.Value) any {
	switch v.Kind() {
	case abi.KindInt:
		return v.Int()
	case abi.KindFloat:
		return v.Float()
	case abi.KindBool:
		if v.Bool() {
			return int64(1)
		}
		return int64(0)
	case abi.KindString:
		if len(v.Str()) > maxVarchar {
			return goora.Clob{String: v.Str(), Valid: true}
		}
		return v.Str()
	case abi.KindBytes:
		b := []byte(v.Str())
		if len(b) > maxRaw {
			return goora.Blob{Data: b}
		}
		return b
	}
	return nil
}

// checkValue refuses values NUMBER cannot hold.
func checkValue(v abi.Value) error {
	if v.Kind() != abi.KindFloat {
		return nil
	}
	f := math.Abs(v.Float())
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return fmt.Errorf("%v: Oracle NUMBER holds no NaN or infinity", v.Float())
	case f != 0 && (f < numberMin || f >= numberMax):
		return fmt.Errorf("%v: out of the range of Oracle NUMBER", v.Float())
	}
	return nil
}

// builder turns groups of row operations into array-bound statements.
type builder struct {
	// upper folds table and column names to upper case before quoting, so
	// that lower-case names from a recipe find tables created without
	// quotes.
	upper bool
}

func (b builder) name(n string) string {
	if b.upper {
		n = strings.ToUpper(n)
	}
	return Quote(n)
}

// part is a run of a group's rows whose values bind as one class per
// column (classNull: NULL in every row).
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
		op := &ops[i]
		for c := range rc {
			rc[c] = classOf(value(op, c))
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

// value is the c-th value of op: keys, then columns.
func value(op *abi.RowOp, c int) abi.Value {
	if c < len(op.Keys) {
		return op.Keys[c].Value
	}
	return op.Cols[c-len(op.Keys)].Value
}

func payload(op *abi.RowOp) int {
	n := 0
	for c := 0; c < len(op.Keys)+len(op.Cols); c++ {
		if v := value(op, c); classOf(v) == classChar || classOf(v) == classRaw {
			n += len(v.Str())
		}
	}
	return n
}

func refuse(i int, err error) error {
	return &connectors.BatchError{Index: i, Permanent: true, Err: err}
}

// statements is the sqlbatch.Dialect.Statements hook: each part of the
// group becomes one statement text executed with one array per bound
// column (go-ora array binding: one round trip runs the statement once per
// row), in chunks of at most maxRows rows and maxBytes of inline payload.
// Non-key columns that are NULL in every row of a part are written as a
// literal NULL rather than bound.
func (b builder) statements(ops []abi.RowOp, g sqlbatch.Group) ([]sqlbatch.Statement, error) {
	for _, n := range append(append([]string{g.Table}, g.Keys...), g.Cols...) {
		if err := checkName(n); err != nil {
			return nil, refuse(g.Ops[0], fmt.Errorf("table %q: %w", g.Table, err))
		}
	}
	width := len(g.Keys) + len(g.Cols)
	for _, i := range g.Ops {
		for c := 0; c < width; c++ {
			if err := checkValue(value(&ops[i], c)); err != nil {
				col := append(append([]string(nil), g.Keys...), g.Cols...)[c]
				return nil, refuse(i, fmt.Errorf("table %q column %q: %w", g.Table, col, err))
			}
		}
	}
	var out []sqlbatch.Statement
	for _, p := range partition(ops, g.Ops, width) {
		bound := make([]bool, width)
		for c := range bound {
			bound[c] = c < len(g.Keys) || p.class[c] != classNull
		}
		query := b.sql(g, bound)
		for start := 0; start < len(p.rows); {
			end, size := start, 0
			for end < len(p.rows) && end-start < maxRows {
				size += payload(&ops[p.rows[end]])
				if size > maxBytes && end > start {
					break
				}
				end++
			}
			chunk := p.rows[start:end]
			start = end
			var args []any
			for c := 0; c < width; c++ {
				if !bound[c] {
					continue
				}
				col := make([]any, len(chunk))
				for r, i := range chunk {
					col[r] = bind(value(&ops[i], c))
				}
				args = append(args, col)
			}
			out = append(out, sqlbatch.Statement{SQL: query, Args: args, Ops: chunk})
		}
	}
	return out, nil
}

// sql is the statement of a group whose columns (keys, then columns) are
// bound where bound is set and NULL elsewhere.
func (b builder) sql(g sqlbatch.Group, bound []bool) string {
	var s strings.Builder
	p := 0
	param := func() string {
		p++
		return fmt.Sprintf(":%d", p)
	}
	all := append(append([]string(nil), g.Keys...), g.Cols...)
	switch g.Op {
	case abi.RowDelete:
		s.WriteString("DELETE FROM " + b.name(g.Table) + " WHERE ")
		for j, k := range g.Keys {
			if j > 0 {
				s.WriteString(" AND ")
			}
			s.WriteString(b.name(k) + " = " + param())
		}
	case abi.RowInsert:
		s.WriteString("INSERT INTO " + b.name(g.Table) + " (")
		for j, c := range all {
			if j > 0 {
				s.WriteString(", ")
			}
			s.WriteString(b.name(c))
		}
		s.WriteString(") VALUES (")
		for j := range all {
			if j > 0 {
				s.WriteString(", ")
			}
			if bound[j] {
				s.WriteString(param())
			} else {
				s.WriteString("NULL")
			}
		}
		s.WriteString(")")
	default:
		// src is the source row's value of column j.
		src := func(j int) string {
			if bound[j] {
				return "s." + b.name(all[j])
			}
			return "NULL"
		}
		s.WriteString("MERGE INTO " + b.name(g.Table) + " t USING (SELECT ")
		first := true
		for j, c := range all {
			if !bound[j] {
				continue
			}
			if !first {
				s.WriteString(", ")
			}
			first = false
			s.WriteString(param() + " " + b.name(c))
		}
		s.WriteString(" FROM dual) s ON (")
		for j, k := range g.Keys {
			if j > 0 {
				s.WriteString(" AND ")
			}
			s.WriteString("t." + b.name(k) + " = s." + b.name(k))
		}
		s.WriteString(")")
		if len(g.Cols) > 0 {
			s.WriteString(" WHEN MATCHED THEN UPDATE SET ")
			for j := range g.Cols {
				if j > 0 {
					s.WriteString(", ")
				}
				s.WriteString("t." + b.name(g.Cols[j]) + " = " + src(len(g.Keys)+j))
			}
		}
		s.WriteString(" WHEN NOT MATCHED THEN INSERT (")
		for j, c := range all {
			if j > 0 {
				s.WriteString(", ")
			}
			s.WriteString(b.name(c))
		}
		s.WriteString(") VALUES (")
		for j := range all {
			if j > 0 {
				s.WriteString(", ")
			}
			s.WriteString(src(j))
		}
		s.WriteString(")")
	}
	return s.String()
}
