package frontend

import (
	"reflect"
	"strings"
	"testing"
)

func TestKeyPositions(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		keys []int // nil: passes through (not in the table, or wrong arity)
	}{
		{"GET k", nil},
		{"hset k f v", []int{1}},
		{"HSET k f", nil}, // Redis refuses it itself
		{"DEL a b c", []int{1, 2, 3}},
		{"MSET a 1 b 2", []int{1, 3}},
		{"RENAME a b", []int{1, 2}},
		{"COPY a b DB 1", []int{2}},
		{"BLPOP a b 0", []int{1, 2}},
		{"LMOVE a b LEFT RIGHT", []int{1, 2}},
		{"ZUNIONSTORE d 2 a b WEIGHTS 1 2", []int{1, 3, 4}},
		{"ZUNIONSTORE d x a b", []int{1}},
		{"EVAL s 2 a b c", []int{3, 4}},
		{"FCALL f 0 a", []int{}},
		{"LMPOP 2 a b LEFT", []int{2, 3}},
		{"BLMPOP 0 1 a LEFT", []int{3}},
		{"SORT l BY x STORE d", []int{5}},
		{"SORT l", []int{}},
		{"GEORADIUS g 0 0 1 km STORE d STOREDIST e", []int{7, 9}},
		{"MIGRATE h 1 k 0 10", []int{3}},
		{"MIGRATE h 1 \"\" 0 10 COPY KEYS a b", []int{8, 9}},
		{"BITOP AND d a b", []int{2, 3, 4}},
		{"JSON.MSET a $ 1 b $ 2", []int{1, 4}},
		{"FLUSHDB", []int{}},
	} {
		args := splitCmd(tc.cmd)
		spec := lookup(args[0])
		var got []int
		if spec != nil && spec.arityOK(args) {
			got = spec.keyPositions(args, []int{})
		}
		if !reflect.DeepEqual(got, tc.keys) {
			t.Errorf("%s: keys at %v, want %v", tc.cmd, got, tc.keys)
		}
	}
}

func splitCmd(s string) [][]byte {
	var args [][]byte
	for _, f := range strings.Fields(s) {
		if f == `""` {
			f = ""
		}
		args = append(args, []byte(f))
	}
	return args
}

func TestSetMode(t *testing.T) {
	for cmd, want := range map[string]string{
		"SET k v":               "always",
		"SET k v EX 10 GET":     "always",
		"SET k v nx":            "notnil",
		"SET k v XX EX 1":       "notnil",
		"SET k v XX GET":        "notnil",
		"SET k v NX GET":        "nil",
		"SET k v PX 5 get nX":   "nil",
		"SET k NX":              "always", // SET k NX sets k to "NX"
		"SET k v KEEPTTL":       "always",
		"SET k v EXAT 99999999": "always",
	} {
		if got := commands["set"].captureMode(splitCmd(cmd)); got != want {
			t.Errorf("%s: mode %s, want %s", cmd, got, want)
		}
	}
}
