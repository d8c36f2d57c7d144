package cogsjson

import (
	"errors"
	"strconv"
)

// Helpers for decoding a recipe's load-time configuration with errors that
// name the offending option by its path (columns.age.type).

// ConfigError is a configuration problem at a path of the configuration.
type ConfigError struct {
	Path string // e.g. "columns.age.type"; "" for the whole configuration
	Msg  string
}

func (e *ConfigError) Error() string {
	if e.Path == "" {
		return "config: " + e.Msg
	}
	return "config: " + e.Path + ": " + e.Msg
}

// Errorf returns a ConfigError at path.
func Errorf(path, msg string) error { return &ConfigError{Path: path, Msg: msg} }

// Join returns the path of member name of the object at path.
func Join(path, name string) string {
	if !plainName(name) {
		name = "[" + strconv.Quote(name) + "]"
		return path + name
	}
	if path == "" {
		return name
	}
	return path + "." + name
}

// JoinIndex returns the path of element i of the array at path.
func JoinIndex(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func plainName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// CheckMembers checks that the node n at path is an object whose member
// names are all in known, none given twice.
func (d *Doc) CheckMembers(n int, path string, known ...string) error {
	if d.Kind(n) != Object {
		return Errorf(path, "want an object, not "+d.describe(n))
	}
	for k := d.First(n); k >= 0; k = d.After(n, k) {
		name := d.Str(k)
		ok := false
		for _, m := range known {
			if m == name {
				ok = true
				break
			}
		}
		if !ok {
			msg := "unknown option " + strconv.Quote(name) + " (known: "
			for i, m := range known {
				if i > 0 {
					msg += ", "
				}
				msg += m
			}
			return Errorf(path, msg+")")
		}
		for j := d.First(n); j < k; j = d.After(n, j) {
			if d.Str(j) == name {
				return Errorf(Join(path, name), "given twice")
			}
		}
	}
	return nil
}

// describe names the kind of node n for an error message.
func (d *Doc) describe(n int) string {
	k := d.Kind(n)
	switch k {
	case Invalid:
		return "nothing"
	case Null:
		return "null"
	case Object, Array:
		return "an " + k.String()
	}
	raw := d.Raw(n)
	if len(raw) > 40 {
		raw = raw[:37] + "..."
	}
	return "a " + k.String() + " (" + raw + ")"
}

// GetString returns the string member name of object n, def when it is
// absent; path is the object's path, for the error.
func (d *Doc) GetString(n int, path, name, def string) (string, error) {
	m := d.Member(n, name)
	if m < 0 {
		return def, nil
	}
	if d.Kind(m) != String {
		return "", Errorf(Join(path, name), "want a string, not "+d.describe(m))
	}
	return d.Str(m), nil
}

// GetBool returns the bool member name of object n, def when it is absent.
func (d *Doc) GetBool(n int, path, name string, def bool) (bool, error) {
	m := d.Member(n, name)
	if m < 0 {
		return def, nil
	}
	b, ok := d.Bool(m)
	if !ok {
		return false, Errorf(Join(path, name), "want true or false, not "+d.describe(m))
	}
	return b, nil
}

// GetInt returns the integer member name of object n, within [min, max],
// def when it is absent.
func (d *Doc) GetInt(n int, path, name string, def, min, max int64) (int64, error) {
	m := d.Member(n, name)
	if m < 0 {
		return def, nil
	}
	i, ok := d.Int(m)
	if !ok || i < min || i > max {
		return 0, Errorf(Join(path, name), "want an integer from "+strconv.FormatInt(min, 10)+" to "+strconv.FormatInt(max, 10)+", not "+d.describe(m))
	}
	return i, nil
}

// GetEnum returns the string member name of object n, which must be one of
// allowed; def when it is absent.
func (d *Doc) GetEnum(n int, path, name, def string, allowed ...string) (string, error) {
	s, err := d.GetString(n, path, name, def)
	if err != nil {
		return "", err
	}
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	msg := "want one of "
	for i, a := range allowed {
		if i > 0 {
			msg += ", "
		}
		msg += strconv.Quote(a)
	}
	return "", Errorf(Join(path, name), msg+"; not "+strconv.Quote(s))
}

// ErrNoConfig is returned by ParseConfig for an empty configuration.
var ErrNoConfig = errors.New("config: no configuration given (pass a JSON object as CONFIG of RECIPE LOAD, or --config to cogs recipe test)")

// ParseConfig parses a configuration, which must be a JSON object.
func (d *Doc) ParseConfig(config []byte) error {
	s := string(config)
	if len(trimSpace(s)) == 0 {
		return ErrNoConfig
	}
	if err := d.Parse(s); err != nil {
		return errors.New("config: not JSON: " + err.Error())
	}
	if d.Kind(0) != Object {
		return Errorf("", "want a JSON object, not "+d.describe(0))
	}
	return nil
}

func trimSpace(s string) string {
	i := skipSpace(s, 0)
	return s[i:]
}
