package abi

// The canonical text form of records, used by the conformance vectors in
// testdata/ and by tools that print what a recipe produced. Every SDK
// renders a decoded record exactly this way, so comparing text compares
// decoders. Strings are quoted with bytes 0x20..0x7e kept as they are
// (except '"' and '\\') and every other byte written as \xHH; floats are
// written as their IEEE 754 bits so no language's float formatting matters.

const hexDigits = "0123456789abcdef"

// AppendQuoted appends s in the canonical quoted form.
func AppendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b = append(b, c)
			continue
		}
		b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&15])
	}
	return append(b, '"')
}

// AppendValueText appends v in canonical text: null, str:"..",
// bytes:"..", int:-5, float:0x400921fb54442d18, bool:true.
func AppendValueText(b []byte, v Value) []byte {
	switch v.kind {
	case KindNull:
		return append(b, "null"...)
	case KindString:
		return AppendQuoted(append(b, "str:"...), v.s)
	case KindBytes:
		return AppendQuoted(append(b, "bytes:"...), v.s)
	case KindInt:
		return append(b, "int:"+itoa(int64(v.n))...)
	case KindFloat:
		b = append(b, "float:0x"...)
		for shift := 60; shift >= 0; shift -= 4 {
			b = append(b, hexDigits[(v.n>>uint(shift))&15])
		}
		return b
	case KindBool:
		if v.n == 1 {
			return append(b, "bool:true"...)
		}
		return append(b, "bool:false"...)
	}
	return append(b, "?"...)
}

// ChangeText returns the canonical text of a change.
func ChangeText(c *Change) string {
	b := []byte("change op=" + c.Op.String() + " data=" + c.Data.String() +
		" trigger=" + utoa(uint64(c.Trigger)) + " id=" + c.ID.String() + " key=")
	b = AppendQuoted(b, c.Key)
	b = append(b, " fields=["...)
	for i, f := range c.Fields {
		if i > 0 {
			b = append(b, ' ')
		}
		b = AppendQuoted(b, f.Name)
		b = append(b, '=')
		b = AppendQuoted(b, f.Value)
	}
	b = append(b, "] doc="...)
	b = AppendQuoted(b, c.Doc)
	return string(b)
}

func appendColumnsText(b []byte, cols []Column) []byte {
	b = append(b, '[')
	for i, c := range cols {
		if i > 0 {
			b = append(b, ' ')
		}
		b = AppendQuoted(b, c.Name)
		b = append(b, '=')
		b = AppendValueText(b, c.Value)
	}
	return append(b, ']')
}

// RowOpText returns the canonical text of a row operation.
func RowOpText(op *RowOp) string {
	b := []byte(op.Op.String() + " table=")
	b = AppendQuoted(b, op.Table)
	b = append(b, " keys="...)
	b = appendColumnsText(b, op.Keys)
	b = append(b, " cols="...)
	b = appendColumnsText(b, op.Cols)
	return string(b)
}

// ResultText returns the canonical text of a result.
func ResultText(r *Result) string {
	b := []byte("result change=" + utoa(uint64(r.Change)) + " outcome=" + r.Outcome.String())
	switch r.Outcome {
	case OutcomeRows:
		b = append(b, " rows=["...)
		for i := range r.Rows {
			if i > 0 {
				b = append(b, "; "...)
			}
			b = append(b, RowOpText(&r.Rows[i])...)
		}
		b = append(b, ']')
	case OutcomeReject:
		b = append(b, " reason="...)
		b = AppendQuoted(b, r.Reason)
	}
	return string(b)
}

// TriggerText returns the canonical text of a trigger.
func TriggerText(t *Trigger) string {
	b := []byte("trigger prefix=")
	b = AppendQuoted(b, t.Prefix)
	b = append(b, " mode="+t.Mode.String()+" data="+t.Data.String()+" connection="...)
	b = AppendQuoted(b, t.Connection)
	b = append(b, " flags="+utoa(uint64(t.Flags))...)
	return string(b)
}

// RecipeText returns the canonical text of recipe metadata.
func RecipeText(m *Recipe) string {
	b := []byte("recipe name=")
	b = AppendQuoted(b, m.Name)
	b = append(b, " version="...)
	b = AppendQuoted(b, m.Version)
	b = append(b, " triggers=["...)
	for i := range m.Triggers {
		if i > 0 {
			b = append(b, "; "...)
		}
		b = append(b, TriggerText(&m.Triggers[i])...)
	}
	b = append(b, "] params="...)
	cols := make([]Column, len(m.Params))
	for i, p := range m.Params {
		cols[i] = Column{Name: p.Name, Value: p.Value}
	}
	b = appendColumnsText(b, cols)
	return string(b)
}
