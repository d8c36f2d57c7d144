package resp

import (
	"io"
	"math"
	"testing"
)

func TestAppend(t *testing.T) {
	tests := []struct {
		name      string
		got, want string
		rendered  string // what ReadValue makes of it
	}{
		{"command", string(AppendCommand(nil, []byte("SET"), []byte("k"), []byte(""))), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", `*[$"SET" $"k" $""]`},
		{"empty command", string(AppendCommand(nil)), "*0\r\n", "*[]"},
		{"array header", string(AppendArrayHeader(nil, 2)) + ":1\r\n:2\r\n", "*2\r\n:1\r\n:2\r\n", "*[:1 :2]"},
		{"null array header", string(AppendArrayHeader(nil, -5)), "*-1\r\n", "*nil"},
		{"map 3", string(AppendMapHeader(nil, 1, 3)) + "+k\r\n+v\r\n", "%1\r\n+k\r\n+v\r\n", "%[+k +v]"},
		{"map 2", string(AppendMapHeader(nil, 1, 2)) + "+k\r\n+v\r\n", "*2\r\n+k\r\n+v\r\n", "*[+k +v]"},
		{"set 3", string(AppendSetHeader(nil, 1, 3)) + ":1\r\n", "~1\r\n:1\r\n", "~[:1]"},
		{"set 2", string(AppendSetHeader(nil, 1, 2)) + ":1\r\n", "*1\r\n:1\r\n", "*[:1]"},
		{"push 3", string(AppendPushHeader(nil, 1, 3)) + ":1\r\n", ">1\r\n:1\r\n", ">[:1]"},
		{"push 2", string(AppendPushHeader(nil, 1, 2)) + ":1\r\n", "*1\r\n:1\r\n", "*[:1]"},
		{"attribute", string(AppendAttributeHeader(nil, 1)) + "+a\r\n+b\r\n:1\r\n", "|1\r\n+a\r\n+b\r\n:1\r\n", "|[+a +b] :1"},
		{"bulk", string(AppendBulk(nil, []byte("a\r\nb"))), "$4\r\na\r\nb\r\n", `$"a\r\nb"`},
		{"bulk string", string(AppendBulkString(nil, "")), "$0\r\n\r\n", `$""`},
		{"bulk error", string(AppendBulkError(nil, "SYNTAX x")), "!8\r\nSYNTAX x\r\n", `!"SYNTAX x"`},
		{"verbatim 3", string(AppendVerbatim(nil, "txt", "hi", 3)), "=6\r\ntxt:hi\r\n", `="txt:hi"`},
		{"verbatim 2", string(AppendVerbatim(nil, "txt", "hi", 2)), "$2\r\nhi\r\n", `$"hi"`},
		{"simple", string(AppendSimple(nil, "OK")), "+OK\r\n", "+OK"},
		{"simple with CRLF", string(AppendSimple(nil, "a\r\nb")), "+a  b\r\n", "+a  b"},
		{"error", string(AppendError(nil, ErrInvalidBulkLength.Error())), "-ERR Protocol error: invalid bulk length\r\n", "-ERR Protocol error: invalid bulk length"},
		{"error with LF", string(AppendError(nil, "ERR a\nb")), "-ERR a b\r\n", "-ERR a b"},
		{"int", string(AppendInt(nil, -42)), ":-42\r\n", ":-42"},
		{"min int", string(AppendInt(nil, math.MinInt64)), ":-9223372036854775808\r\n", ":-9223372036854775808"},
		{"null 3", string(AppendNull(nil, 3)), "_\r\n", "_"},
		{"null 2", string(AppendNull(nil, 2)), "$-1\r\n", "$nil"},
		{"null array 3", string(AppendNullArray(nil, 3)), "_\r\n", "_"},
		{"null array 2", string(AppendNullArray(nil, 2)), "*-1\r\n", "*nil"},
		{"true 3", string(AppendBool(nil, true, 3)), "#t\r\n", "#t"},
		{"false 3", string(AppendBool(nil, false, 3)), "#f\r\n", "#f"},
		{"true 2", string(AppendBool(nil, true, 2)), ":1\r\n", ":1"},
		{"false 2", string(AppendBool(nil, false, 2)), ":0\r\n", ":0"},
		{"double 3", string(AppendDouble(nil, 3.14, 3)), ",3.14\r\n", ",3.14"},
		{"double 2", string(AppendDouble(nil, 3.14, 2)), "$4\r\n3.14\r\n", `$"3.14"`},
		{"double big", string(AppendDouble(nil, 1e300, 3)), ",1e+300\r\n", ",1e+300"},
		{"double inf", string(AppendDouble(nil, math.Inf(1), 3)), ",inf\r\n", ",inf"},
		{"double -inf", string(AppendDouble(nil, math.Inf(-1), 2)), "$4\r\n-inf\r\n", `$"-inf"`},
		{"double nan", string(AppendDouble(nil, math.NaN(), 3)), ",nan\r\n", ",nan"},
		{"big number 3", string(AppendBigNumber(nil, "-12345678901234567890", 3)), "(-12345678901234567890\r\n", "(-12345678901234567890"},
		{"big number 2", string(AppendBigNumber(nil, "12345678901234567890", 2)), "$20\r\n12345678901234567890\r\n", `$"12345678901234567890"`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, tt.got, tt.want)
			continue
		}
		for _, m := range modes {
			items, err := readReplies(t, []byte(tt.got), m, Limits{})
			if err != io.EOF || len(items) != 1 || items[0].val != tt.rendered {
				t.Errorf("%s: %s: read back %+v, %v; want %s", tt.name, m.name, items, err, tt.rendered)
			}
		}
	}
}

func TestAppendDoubleRoundTrip(t *testing.T) {
	for _, f := range []float64{0, -0.5, 1.0 / 3, math.MaxFloat64, math.SmallestNonzeroFloat64, 1e21, -1e-7, math.Inf(1), math.Inf(-1)} {
		for _, proto := range []int{2, 3} {
			s := newSource(AppendDouble(nil, f, proto), modes[0], Limits{})
			v, _, err := s.r.ReadValue()
			if err != nil {
				t.Fatal(err)
			}
			if g, err := v.Float(); err != nil || g != f {
				t.Errorf("%v (RESP%d): read back %v, %v", f, proto, g, err)
			}
		}
	}
	s := newSource(AppendDouble(nil, math.NaN(), 3), modes[0], Limits{})
	if v, _, _ := s.r.ReadValue(); !math.IsNaN(must(v.Float())) {
		t.Errorf("NaN: read back %q", v.Str)
	}
}

func must(f float64, err error) float64 {
	if err != nil {
		panic(err)
	}
	return f
}

// TestAppendCommandRoundTrip: arguments of every byte come back as they
// went.
func TestAppendCommandRoundTrip(t *testing.T) {
	var args [][]byte
	for i := range 256 {
		args = append(args, []byte{byte(i)}, []byte{'\r', '\n', byte(i), 0})
	}
	in := AppendCommand(nil, args...)
	for _, m := range modes {
		items, err := readCommands(t, in, m, Limits{})
		if err != io.EOF || len(items) != 1 || len(items[0].args) != len(args) {
			t.Fatalf("%s: %d commands, %v", m.name, len(items), err)
		}
		for i, a := range items[0].args {
			if a != string(args[i]) {
				t.Fatalf("%s: argument %d: %q, want %q", m.name, i, a, args[i])
			}
		}
	}
}

func BenchmarkAppendCommand(b *testing.B) {
	args := [][]byte{[]byte("SET"), []byte("key:000123"), []byte("value-value-value")}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendCommand(buf[:0], args...)
	}
}
