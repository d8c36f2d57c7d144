package mapkit

import (
	"strconv"
	"strings"

	"github.com/cogs-dev/cogs/sdk/go/cogsjson"
)

// filterOp is the comparison of a filter condition.
type filterOp uint8

const (
	opEq filterOp = iota
	opNe
	opIn
	opNotIn
	opExists
	opMissing
	opPrefix
	opSuffix
	opContains
	opGt
	opGe
	opLt
	opLe
)

var opNames = []string{"eq", "ne", "in", "not_in", "exists", "missing", "prefix", "suffix", "contains", "gt", "ge", "lt", "le"}

// Condition is one filter condition on a field (rowmap) or a JSON path
// (jsondoc).
type Condition struct {
	Subject string // the field or path, as configured
	op      filterOp
	texts   []string // eq, ne, prefix, suffix, contains: one; in, not_in: the set
	number  float64  // gt, ge, lt, le
}

// ParseFilter reads the "filter" option at node n: one condition or a
// list of conditions that must all hold. subject names the member that
// says what a condition tests: "field" or "path".
func ParseFilter(d *cogsjson.Doc, n int, subject string) ([]Condition, error) {
	const path = "filter"
	var nodes []int
	var paths []string
	switch d.Kind(n) {
	case cogsjson.Invalid:
		return nil, nil
	case cogsjson.Object:
		nodes, paths = []int{n}, []string{path}
	case cogsjson.Array:
		for i, e := 0, d.First(n); e >= 0; i, e = i+1, d.After(n, e) {
			nodes = append(nodes, e)
			paths = append(paths, cogsjson.JoinIndex(path, i))
		}
	default:
		return nil, cogsjson.Errorf(path, "want a condition {\""+subject+"\": ..., \"op\": ..., \"value\": ...} or a list of them")
	}
	var conds []Condition
	for i, c := range nodes {
		at := paths[i]
		if err := d.CheckMembers(c, at, subject, "op", "value"); err != nil {
			return nil, err
		}
		field, err := d.GetString(c, at, subject, "")
		if err != nil {
			return nil, err
		}
		if field == "" {
			return nil, cogsjson.Errorf(at+"."+subject, "required")
		}
		if d.Member(c, "op") < 0 {
			return nil, cogsjson.Errorf(at+".op", "required (one of "+strings.Join(opNames, ", ")+")")
		}
		ops, err := d.GetEnum(c, at, "op", "", opNames...)
		if err != nil {
			return nil, err
		}
		cond := Condition{Subject: field}
		for j, name := range opNames {
			if name == ops {
				cond.op = filterOp(j)
			}
		}
		v := d.Member(c, "value")
		vat := at + ".value"
		switch cond.op {
		case opExists, opMissing:
			if v >= 0 {
				return nil, cogsjson.Errorf(vat, "op "+ops+" takes no value")
			}
		case opIn, opNotIn:
			if d.Kind(v) != cogsjson.Array {
				return nil, cogsjson.Errorf(vat, "op "+ops+" wants a list of values")
			}
			for j, e := 0, d.First(v); e >= 0; j, e = j+1, d.After(v, e) {
				s, err := ScalarText(d, e, cogsjson.JoinIndex(vat, j))
				if err != nil {
					return nil, err
				}
				cond.texts = append(cond.texts, s)
			}
		case opGt, opGe, opLt, opLe:
			f, ok := d.Float(v)
			if !ok {
				return nil, cogsjson.Errorf(vat, "op "+ops+" wants a number")
			}
			cond.number = f
		default:
			if v < 0 {
				return nil, cogsjson.Errorf(vat, "required for op "+ops)
			}
			s, err := ScalarText(d, v, vat)
			if err != nil {
				return nil, err
			}
			cond.texts = []string{s}
		}
		conds = append(conds, cond)
	}
	return conds, nil
}

// ScalarText returns a filter value as the field text it compares with:
// a string as it is, a number or bool as written.
func ScalarText(d *cogsjson.Doc, n int, at string) (string, error) {
	switch d.Kind(n) {
	case cogsjson.String:
		return d.Str(n), nil
	case cogsjson.Number, cogsjson.Bool:
		return d.Raw(n), nil
	}
	return "", cogsjson.Errorf(at, "want a string, number or bool")
}

// Holds reports whether the condition holds for a value (ok false: the
// field or path is missing).
func (c *Condition) Holds(v string, ok bool) bool {
	switch c.op {
	case opExists:
		return ok
	case opMissing:
		return !ok
	case opNe:
		return !ok || v != c.texts[0]
	case opNotIn:
		return !ok || !c.in(v)
	}
	if !ok {
		return false
	}
	switch c.op {
	case opEq:
		return v == c.texts[0]
	case opIn:
		return c.in(v)
	case opPrefix:
		return strings.HasPrefix(v, c.texts[0])
	case opSuffix:
		return strings.HasSuffix(v, c.texts[0])
	case opContains:
		return strings.Contains(v, c.texts[0])
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f != f {
		return false
	}
	switch c.op {
	case opGt:
		return f > c.number
	case opGe:
		return f >= c.number
	case opLt:
		return f < c.number
	}
	return f <= c.number
}

func (c *Condition) in(v string) bool {
	for _, t := range c.texts {
		if v == t {
			return true
		}
	}
	return false
}
