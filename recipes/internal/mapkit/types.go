// Package mapkit is what the stock recipes rowmap and jsondoc share: the
// forms of key columns taken from a Redis key, column types and their
// conversion, and filter conditions, each read from a JSON configuration
// with errors that name the option. It uses no reflection and no fmt, so
// it compiles with TinyGo.
package mapkit

import (
	"strconv"

	cogs "github.com/cogs-dev/cogs/sdk/go"
	"github.com/cogs-dev/cogs/sdk/go/cogsjson"
)

// Type is the type a field's text is converted to.
type Type uint8

const (
	TypeString Type = iota
	TypeInt
	TypeFloat
	TypeBool
	TypeBytes
	TypeJSON // JSON text, checked, written as a string
)

// TypeNames are the names of the types in configurations.
var TypeNames = []string{"string", "int", "float", "bool", "bytes", "json"}

// ParseType returns the type named s.
func ParseType(s string) (Type, bool) {
	for i, n := range TypeNames {
		if s == n {
			return Type(i), true
		}
	}
	return 0, false
}

func (t Type) String() string { return TypeNames[t] }

// Convert converts a field's text to t; ok is false when it does not parse.
func Convert(t Type, s string) (cogs.Value, bool) {
	switch t {
	case TypeInt:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return cogs.Null(), false
		}
		return cogs.Int(i), true
	case TypeFloat:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return cogs.Null(), false
		}
		return cogs.Float(f), true
	case TypeBool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return cogs.Null(), false
		}
		return cogs.Bool(b), true
	case TypeBytes:
		return cogs.Bytes([]byte(s)), true
	case TypeJSON:
		if !cogsjson.Valid(s) {
			return cogs.Null(), false
		}
	}
	return cogs.String(s), true
}

// ConfigValue converts a configuration value (a default or a constant) to
// a column value: with a type, as a field's text would be converted (a
// JSON number or bool is taken as its text); without one (untyped), as
// the JSON value is: string, int, float, bool or null.
func ConfigValue(d *cogsjson.Doc, n int, path string, t Type, typed bool) (cogs.Value, error) {
	var text string
	if typed && t == TypeJSON && d.Kind(n) != cogsjson.Null {
		return cogs.String(d.Raw(n)), nil
	}
	switch d.Kind(n) {
	case cogsjson.Null:
		return cogs.Null(), nil
	case cogsjson.String:
		text = d.Str(n)
	case cogsjson.Number, cogsjson.Bool:
		text = d.Raw(n)
		if !typed {
			if b, ok := d.Bool(n); ok {
				return cogs.Bool(b), nil
			}
			if i, err := strconv.ParseInt(text, 10, 64); err == nil {
				return cogs.Int(i), nil
			}
			f, ok := d.Float(n)
			if !ok {
				return cogs.Null(), cogsjson.Errorf(path, "number "+text+" does not fit a float64")
			}
			return cogs.Float(f), nil
		}
	default:
		return cogs.Null(), cogsjson.Errorf(path, "want a string, number, bool or null, not an "+d.Kind(n).String())
	}
	if !typed {
		return cogs.String(text), nil
	}
	v, ok := Convert(t, text)
	if !ok {
		return cogs.Null(), cogsjson.Errorf(path, strconv.Quote(text)+" is not a valid "+t.String())
	}
	return v, nil
}

// Clip shortens a value quoted in a rejection reason.
func Clip(s string) string {
	if len(s) > 64 {
		s = s[:61] + "..."
	}
	return strconv.Quote(s)
}

func itoa(i int) string { return strconv.Itoa(i) }

// CheckName checks a recipe name from the "name" option the way the host
// will, so that the error names the option.
func CheckName(name string) error {
	ok := len(name) > 0 && len(name) <= 64 && name[0] >= 'a' && name[0] <= 'z'
	for i := 1; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
	}
	if !ok {
		return cogsjson.Errorf("name", strconv.Quote(name)+" is not a recipe name: want [a-z][a-z0-9_-]*, at most 64 bytes")
	}
	return nil
}
