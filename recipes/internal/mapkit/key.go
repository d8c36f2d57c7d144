package mapkit

import (
	"strings"

	cogs "github.com/cogs-dev/cogs/sdk/go"
	"github.com/cogs-dev/cogs/sdk/go/cogsjson"
)

// keyMode is how key columns are taken from the Redis key.
type keyMode uint8

const (
	keyNone      keyMode = iota // no key columns from the key (they come from fields)
	keySuffix                   // the whole key after the prefix is one column
	keyPattern                  // a pattern with {placeholders}
	keySeparator                // the key after the prefix split at a separator
)

// keyPart is one column taken from the key.
type keyPart struct {
	column string // "" for a separator part that is ignored
	typ    Type
}

// Key takes key columns from a Redis key.
type Key struct {
	mode keyMode
	text string // the pattern, for messages
	// lits[i] is the literal text before parts[i]; lits[len(parts)] the
	// text after the last part (pattern mode).
	lits  []string
	parts []keyPart
	sep   string
	vals  []cogs.Value // the values of parts, filled by Extract
}

// ParseKey reads the "key" option at node n.
func ParseKey(d *cogsjson.Doc, n int, prefix string) (Key, error) {
	const path = "key"
	var k Key
	switch d.Kind(n) {
	case cogsjson.Invalid:
		return Key{mode: keyNone}, nil
	case cogsjson.String:
		k.mode = keySuffix
		k.parts = []keyPart{{column: d.Str(n)}}
		if k.parts[0].column == "" {
			return k, cogsjson.Errorf(path, "want a column name, not \"\"")
		}
		k.vals = make([]cogs.Value, 1)
		return k, nil
	case cogsjson.Object:
	default:
		return k, cogsjson.Errorf(path, "want a column name or an object with column, pattern or separator")
	}
	if err := d.CheckMembers(n, path, "column", "type", "pattern", "separator", "columns"); err != nil {
		return k, err
	}
	col, pat, sep := d.Member(n, "column"), d.Member(n, "pattern"), d.Member(n, "separator")
	set := 0
	for _, m := range []int{col, pat, sep} {
		if m >= 0 {
			set++
		}
	}
	if set != 1 {
		return k, cogsjson.Errorf(path, "give exactly one of column, pattern and separator")
	}
	switch {
	case col >= 0:
		if d.Member(n, "columns") >= 0 {
			return k, cogsjson.Errorf(path+".columns", "goes with separator, not column")
		}
		name, err := d.GetString(n, path, "column", "")
		if err != nil {
			return k, err
		}
		if name == "" {
			return k, cogsjson.Errorf(path+".column", "want a column name, not \"\"")
		}
		ts, err := d.GetEnum(n, path, "type", "string", TypeNames...)
		if err != nil {
			return k, err
		}
		t, _ := ParseType(ts)
		k.mode = keySuffix
		k.parts = []keyPart{{column: name, typ: t}}
	case pat >= 0:
		if d.Member(n, "type") >= 0 || d.Member(n, "columns") >= 0 {
			return k, cogsjson.Errorf(path, "with a pattern, give types in the placeholders ({id:int}), not type or columns")
		}
		s, err := d.GetString(n, path, "pattern", "")
		if err != nil {
			return k, err
		}
		if err := k.parsePattern(s, prefix); err != nil {
			return k, err
		}
	default:
		if d.Member(n, "type") >= 0 {
			return k, cogsjson.Errorf(path+".type", "with a separator, give types in columns (\"id:int\")")
		}
		s, err := d.GetString(n, path, "separator", "")
		if err != nil {
			return k, err
		}
		if s == "" {
			return k, cogsjson.Errorf(path+".separator", "must not be empty")
		}
		k.mode, k.sep, k.text = keySeparator, s, s
		cols := d.Member(n, "columns")
		if d.Kind(cols) != cogsjson.Array || d.Count(cols) == 0 {
			return k, cogsjson.Errorf(path+".columns", "want a list of column names, one per part of the key after the prefix (\"\" to ignore a part)")
		}
		named := 0
		for i, e := 0, d.First(cols); e >= 0; i, e = i+1, d.After(cols, e) {
			at := cogsjson.JoinIndex(path+".columns", i)
			if d.Kind(e) != cogsjson.String {
				return k, cogsjson.Errorf(at, "want \"name\" or \"name:type\"")
			}
			p, err := parsePart(d.Str(e), at)
			if err != nil {
				return k, err
			}
			if p.column != "" {
				named++
			}
			k.parts = append(k.parts, p)
		}
		if named == 0 {
			return k, cogsjson.Errorf(path+".columns", "names no column")
		}
	}
	k.vals = make([]cogs.Value, len(k.parts))
	return k, nil
}

// parsePart parses "name" or "name:type".
func parsePart(s, at string) (keyPart, error) {
	name, ts, typed := strings.Cut(s, ":")
	p := keyPart{column: name}
	if typed {
		t, ok := ParseType(ts)
		if !ok {
			return p, cogsjson.Errorf(at, "unknown type "+Clip(ts)+" (want string, int, float, bool, bytes or json)")
		}
		p.typ = t
		if name == "" {
			return p, cogsjson.Errorf(at, "a typed part needs a column name")
		}
	}
	return p, nil
}

// parsePattern parses a pattern such as "tenant:{tenant}:user:{id:int}".
func (k *Key) parsePattern(s, prefix string) error {
	const path = "key.pattern"
	k.mode, k.text = keyPattern, s
	lit := ""
	for i := 0; i < len(s); {
		switch s[i] {
		case '{':
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				return cogsjson.Errorf(path, "unclosed '{' at offset "+itoa(i))
			}
			p, err := parsePart(s[i+1:i+j], path)
			if err != nil {
				return err
			}
			if p.column == "" {
				return cogsjson.Errorf(path, "empty placeholder at offset "+itoa(i))
			}
			if len(k.parts) > 0 && lit == "" {
				return cogsjson.Errorf(path, "placeholders must be separated by text (offset "+itoa(i)+")")
			}
			k.lits = append(k.lits, lit)
			k.parts = append(k.parts, p)
			lit = ""
			i += j + 1
		case '}':
			return cogsjson.Errorf(path, "'}' without '{' at offset "+itoa(i))
		default:
			lit += s[i : i+1]
			i++
		}
	}
	k.lits = append(k.lits, lit)
	if len(k.parts) == 0 {
		return cogsjson.Errorf(path, "has no {placeholder}")
	}
	if !strings.HasPrefix(k.lits[0], prefix) && !strings.HasPrefix(prefix, k.lits[0]) {
		return cogsjson.Errorf(path, "can never match a key that starts with prefix "+Clip(prefix))
	}
	return nil
}

// Extract fills k.vals from key (whose trigger prefix is suffix's
// complement). It returns "" on success, or why the key does not fit.
func (k *Key) Extract(key, suffix string) (why string) {
	switch k.mode {
	case keySuffix:
		return k.set(0, suffix)
	case keyPattern:
		if !strings.HasPrefix(key, k.lits[0]) {
			return "key " + Clip(key) + " does not match pattern " + Clip(k.text)
		}
		rest := key[len(k.lits[0]):]
		last := len(k.parts) - 1
		for i := range k.parts {
			var v string
			if i == last {
				tail := k.lits[i+1]
				if !strings.HasSuffix(rest, tail) {
					return "key " + Clip(key) + " does not match pattern " + Clip(k.text)
				}
				v = rest[:len(rest)-len(tail)]
			} else {
				j := strings.Index(rest, k.lits[i+1])
				if j < 0 {
					return "key " + Clip(key) + " does not match pattern " + Clip(k.text)
				}
				v, rest = rest[:j], rest[j+len(k.lits[i+1]):]
			}
			if v == "" {
				return "key " + Clip(key) + " has an empty {" + k.parts[i].column + "}"
			}
			if why := k.set(i, v); why != "" {
				return why
			}
		}
	case keySeparator:
		rest := suffix
		for i := range k.parts {
			v := rest
			if i < len(k.parts)-1 {
				j := strings.Index(rest, k.sep)
				if j < 0 {
					return "key " + Clip(key) + " has " + itoa(i+1) + " parts after the prefix, want " + itoa(len(k.parts)) + " separated by " + Clip(k.sep)
				}
				v, rest = rest[:j], rest[j+len(k.sep):]
			} else if strings.Contains(rest, k.sep) {
				return "key " + Clip(key) + " has more than " + itoa(len(k.parts)) + " parts after the prefix separated by " + Clip(k.sep)
			}
			if k.parts[i].column == "" {
				continue
			}
			if why := k.set(i, v); why != "" {
				return why
			}
		}
	}
	return ""
}

// set converts the text of part i.
func (k *Key) set(i int, s string) string {
	p := &k.parts[i]
	if s == "" {
		return "key part " + p.column + " is empty"
	}
	v, ok := Convert(p.typ, s)
	if !ok {
		return "key part " + p.column + ": " + Clip(s) + " is not a valid " + p.typ.String()
	}
	k.vals[i] = v
	return ""
}

// AddTo adds the key columns to row.
func (k *Key) AddTo(row cogs.Row) {
	for i := range k.parts {
		if k.parts[i].column != "" {
			row.Key(k.parts[i].column, k.vals[i])
		}
	}
}

// Columns returns the names of the key columns taken from the key.
func (k *Key) Columns() []string {
	var cols []string
	for _, p := range k.parts {
		if p.column != "" {
			cols = append(cols, p.column)
		}
	}
	return cols
}
