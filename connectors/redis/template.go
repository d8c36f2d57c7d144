package redis

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cogs-dev/cogs/abi"
)

// template is a parsed key_template: literal text and references.
//
//	{table}   the op's table name
//	{keys}    the key columns' values in the op's order, joined by ':'
//	{name}    the value of the key column name
//	{{ }}     a literal brace (for Redis Cluster hash tags: "{{{id}}}")
//
// Values are written as HashValue writes them (integers in decimal,
// booleans 1 or 0, text and bytes as they are).
type template struct {
	parts []part
}

type part struct {
	lit string // literal text, when ref is empty
	ref string // "table", "keys" or a key column name
}

func parseTemplate(s string) (template, error) {
	var t template
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{lit: lit.String()})
			lit.Reset()
		}
	}
	hasRef := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			if i+1 < len(s) && s[i+1] == '{' {
				lit.WriteByte('{')
				i++
				continue
			}
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				return t, fmt.Errorf("unterminated reference in %q", s)
			}
			ref := s[i+1 : i+j]
			if ref == "" || strings.ContainsAny(ref, "{") {
				return t, fmt.Errorf("bad reference {%s} in %q", ref, s)
			}
			flush()
			t.parts = append(t.parts, part{ref: ref})
			if ref != "table" {
				hasRef = true
			}
			i += j
		case '}':
			if i+1 < len(s) && s[i+1] == '}' {
				lit.WriteByte('}')
				i++
				continue
			}
			return t, fmt.Errorf("unmatched '}' in %q (write }} for a literal brace)", s)
		default:
			lit.WriteByte(s[i])
		}
	}
	flush()
	if !hasRef {
		return t, errors.New("the template names no key column (use {keys} or {<key column>})")
	}
	return t, nil
}

// key renders the key of an op's row; a reference to a column that is not
// one of the op's key columns is an error.
func (t template) key(op *abi.RowOp) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		switch p.ref {
		case "":
			b.WriteString(p.lit)
		case "table":
			b.WriteString(op.Table)
		case "keys":
			for i, k := range op.Keys {
				if i > 0 {
					b.WriteByte(':')
				}
				b.WriteString(HashValue(k.Value))
			}
		default:
			found := false
			for _, k := range op.Keys {
				if k.Name == p.ref {
					b.WriteString(HashValue(k.Value))
					found = true
					break
				}
			}
			if !found {
				return "", fmt.Errorf("table %q: key_template needs key column %q, which the op does not have", op.Table, p.ref)
			}
		}
	}
	return b.String(), nil
}
