package frontend

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/cogs-dev/cogs/abi"
)

func fieldsOf(s ...string) [][]byte {
	b := make([][]byte, len(s))
	for i, x := range s {
		b[i] = []byte(x)
	}
	return b
}

func TestDecodeEntry(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields [][]byte
		want   abi.Change
		err    error
	}{
		{"hash", fieldsOf("op", "set", "key", "w:1", "kind", "hash", "data", "4:name3:Ann3:age2:420:0:"),
			abi.Change{Op: abi.ChangeSet, Data: abi.DataHash, Key: "w:1", Fields: []abi.Field{hf("name", "Ann"), hf("age", "42"), hf("", "")}}, nil},
		{"binary", fieldsOf("op", "set", "key", "w:\r\n", "kind", "hash", "data", "3:a:b4:1:2:"),
			abi.Change{Op: abi.ChangeSet, Data: abi.DataHash, Key: "w:\r\n", Fields: []abi.Field{hf("a:b", "1:2:")}}, nil},
		{"string", fieldsOf("op", "set", "key", "ws:1", "kind", "string", "data", "hello"),
			abi.Change{Op: abi.ChangeSet, Data: abi.DataString, Key: "ws:1", Doc: "hello"}, nil},
		{"json", fieldsOf("op", "set", "key", "j:1", "kind", "json", "data", `{"a":1}`),
			abi.Change{Op: abi.ChangeSet, Data: abi.DataJSON, Key: "j:1", Doc: `{"a":1}`}, nil},
		{"ack", fieldsOf("op", "set", "key", "w:1", "kind", "hash", "data", "1:a1:b", "ack", "{w:1}u"),
			abi.Change{Op: abi.ChangeSet, Data: abi.DataHash, Key: "w:1", Fields: []abi.Field{hf("a", "b")}}, nil},
		{"delete", fieldsOf("op", "delete", "key", "w:1", "kind", "hash"),
			abi.Change{Op: abi.ChangeDelete, Data: abi.DataHash, Key: "w:1"}, nil},
		{"type", fieldsOf("op", "set", "key", "w:1", "kind", "hash", "type", "string"), abi.Change{}, ErrEntryType},
		{"short", fieldsOf("op", "set", "key", "w:1", "kind", "hash", "data", "4:nam"), abi.Change{}, ErrEntryFormat},
		{"odd", fieldsOf("op", "set", "key", "w:1", "kind", "hash", "data", "1:a"), abi.Change{}, ErrEntryFormat},
		{"length", fieldsOf("op", "set", "key", "w:1", "kind", "hash", "data", "99999999999999999999999:"), abi.Change{}, ErrEntryFormat},
		{"no key", fieldsOf("op", "set", "kind", "hash", "data", ""), abi.Change{}, ErrEntryFormat},
		{"op", fieldsOf("op", "expired", "key", "w:1", "kind", "hash"), abi.Change{}, ErrEntryFormat},
		{"kind", fieldsOf("op", "set", "key", "w:1", "kind", "list", "data", ""), abi.Change{}, ErrEntryFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c abi.Change
			err := DecodeEntry(tc.fields, &c)
			if !errors.Is(err, tc.err) {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if err == nil && !reflect.DeepEqual(c, tc.want) {
				t.Errorf("got %+v, want %+v", c, tc.want)
			}
		})
	}
}

func hf(name, value string) abi.Field { return abi.Field{Name: name, Value: value} }

// FuzzDecodeEntry: hash data that decodes re-encodes to data that decodes
// to the same fields.
func FuzzDecodeEntry(f *testing.F) {
	f.Add("4:name3:Ann3:age2:42")
	f.Add("0:0:")
	f.Fuzz(func(t *testing.T, data string) {
		var c abi.Change
		if DecodeEntry(fieldsOf("op", "set", "key", "k", "kind", "hash", "data", data), &c) != nil {
			return
		}
		var b strings.Builder
		for _, f := range c.Fields {
			for _, s := range []string{f.Name, f.Value} {
				b.WriteString(strconv.Itoa(len(s)) + ":" + s)
			}
		}
		var d abi.Change
		if err := DecodeEntry(fieldsOf("op", "set", "key", "k", "kind", "hash", "data", b.String()), &d); err != nil || !reflect.DeepEqual(c.Fields, d.Fields) {
			t.Errorf("%q re-encodes as %q: %v", data, b.String(), err)
		}
	})
}
