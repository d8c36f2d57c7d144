package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var (
	sizeType     = reflect.TypeFor[Size]()
	durationType = reflect.TypeFor[time.Duration]()
	connsType    = reflect.TypeFor[Connections]()
)

// decode decodes the YAML document b into *out, strictly: a key out has no
// field for, a value of the wrong shape or a duplicate key is an error
// that names the key by its path ("upstream.dial_timeout") and gives its
// line. A key that is absent or null keeps out's value.
func decode(b []byte, out *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	if doc.Kind == 0 { // an empty file
		return nil
	}
	n := &doc
	if n.Kind == yaml.DocumentNode {
		n = n.Content[0]
	}
	return decodeValue(n, reflect.ValueOf(out).Elem(), "")
}

type pathError struct {
	path string
	line int
	msg  string
}

func (e *pathError) Error() string {
	if e.path == "" {
		return fmt.Sprintf("%s (line %d)", e.msg, e.line)
	}
	return fmt.Sprintf("%s: %s (line %d)", e.path, e.msg, e.line)
}

func fail(n *yaml.Node, path, format string, args ...any) error {
	return &pathError{path: path, line: n.Line, msg: fmt.Sprintf(format, args...)}
}

func decodeValue(n *yaml.Node, v reflect.Value, path string) error {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // keep the default
	}
	switch {
	case v.Type() == sizeType:
		if n.Kind != yaml.ScalarNode {
			return fail(n, path, "want a size such as 64MiB")
		}
		s, err := ParseSize(n.Value)
		if err != nil {
			return fail(n, path, "%s", err.Error())
		}
		v.SetUint(uint64(s))
		return nil
	case v.Type() == durationType:
		if n.Kind != yaml.ScalarNode {
			return fail(n, path, "want a duration such as 5s")
		}
		d, err := time.ParseDuration(n.Value)
		if err != nil {
			return fail(n, path, "%q is not a duration such as 5s or 500ms", n.Value)
		}
		v.SetInt(int64(d))
		return nil
	}
	if v.Type() == connsType {
		return decodeConnections(n, v, path)
	}
	switch v.Kind() {
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			return fail(n, path, "want a string")
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode {
			return fail(n, path, "want true or false")
		}
		switch n.Value {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			return fail(n, path, "%q is not true or false", n.Value)
		}
	case reflect.Int, reflect.Int64:
		if n.Kind != yaml.ScalarNode {
			return fail(n, path, "want an integer")
		}
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil || v.OverflowInt(i) {
			return fail(n, path, "%q is not an integer", n.Value)
		}
		v.SetInt(i)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return fail(n, path, "want a list")
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			if err := decodeValue(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(s)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if path == "" {
				return fail(n, path, "the configuration must be a mapping of keys to values")
			}
			return fail(n, path, "want a mapping of keys to values")
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if seen[k.Value] {
				return fail(k, p, "duplicate key")
			}
			seen[k.Value] = true
			f, ok := field(v, k.Value)
			if !ok {
				return fail(k, p, "unknown key")
			}
			if err := decodeValue(val, f, p); err != nil {
				return err
			}
		}
	default:
		return errors.New("config: internal error: no decoder for " + v.Type().String())
	}
	return nil
}

// field returns the field of the struct v whose yaml tag is name.
func field(v reflect.Value, name string) (reflect.Value, bool) {
	t := v.Type()
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag == name {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// decodeConnections decodes the mapping of connection names to their
// sections: "type" and the connector's own options, which the connector
// checks when it opens.
func decodeConnections(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind != yaml.MappingNode {
		return fail(n, path, "want a mapping of connection names to their settings")
	}
	var conns Connections
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		p := path + "." + k.Value
		if seen[k.Value] {
			return fail(k, p, "duplicate key")
		}
		seen[k.Value] = true
		if val.Kind != yaml.MappingNode {
			return fail(val, p, "want a mapping with type and the connector's options")
		}
		var opts map[string]any
		if err := val.Decode(&opts); err != nil {
			return fail(val, p, "%s", err.Error())
		}
		c := Connection{Name: k.Value, Options: opts}
		if t, ok := opts["type"]; ok {
			s, ok := t.(string)
			if !ok {
				return fail(val, p+".type", "want a string")
			}
			c.Type = s
			delete(opts, "type")
		}
		conns = append(conns, c)
	}
	v.Set(reflect.ValueOf(conns))
	return nil
}
