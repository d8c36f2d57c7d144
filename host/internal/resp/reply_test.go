package resp

import (
	"bufio"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	tests := []struct {
		name string
		in   string
		kind Kind
		want string // rendered
	}{
		{"simple string", "+OK\r\n", SimpleString, "+OK"},
		{"empty simple string", "+\r\n", SimpleString, "+"},
		{"simple string with CR", "+a\rb\r\n", SimpleString, "+a\rb"},
		{"simple error", "-ERR unknown command 'x'\r\n", SimpleError, "-ERR unknown command 'x'"},
		{"integer", ":42\r\n", Integer, ":42"},
		{"negative integer", ":-9223372036854775808\r\n", Integer, ":-9223372036854775808"},
		{"zero", ":0\r\n", Integer, ":0"},
		{"bulk", "$5\r\nhello\r\n", BulkString, `$"hello"`},
		{"binary bulk", "$4\r\n\r\n\x00\xff\r\n", BulkString, `$"\r\n\x00\xff"`},
		{"empty bulk", "$0\r\n\r\n", BulkString, `$""`},
		{"null bulk", "$-1\r\n", BulkString, "$nil"},
		{"array", "*2\r\n$1\r\na\r\n:1\r\n", Array, `*[$"a" :1]`},
		{"empty array", "*0\r\n", Array, "*[]"},
		{"null array", "*-1\r\n", Array, "*nil"},
		{"nested", "*2\r\n*1\r\n*0\r\n*2\r\n+a\r\n$-1\r\n", Array, `*[*[*[]] *[+a $nil]]`},
		{"null", "_\r\n", Null, "_"},
		{"true", "#t\r\n", Boolean, "#t"},
		{"false", "#f\r\n", Boolean, "#f"},
		{"double", ",3.14\r\n", Double, ",3.14"},
		{"double exponent", ",1.5e-300\r\n", Double, ",1.5e-300"},
		{"double inf", ",inf\r\n", Double, ",inf"},
		{"double -inf", ",-inf\r\n", Double, ",-inf"},
		{"double nan", ",nan\r\n", Double, ",nan"},
		{"big number", "(3492890328409238509324850943850943825024385\r\n", BigNumber, "(3492890328409238509324850943850943825024385"},
		{"negative big number", "(-1\r\n", BigNumber, "(-1"},
		{"bulk error", "!21\r\nSYNTAX invalid syntax\r\n", BulkError, `!"SYNTAX invalid syntax"`},
		{"verbatim", "=15\r\ntxt:Some string\r\n", VerbatimString, `="txt:Some string"`},
		{"map", "%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n", Map, "%[+first :1 +second :2]"},
		{"empty map", "%0\r\n", Map, "%[]"},
		{"set", "~3\r\n+a\r\n+b\r\n#t\r\n", Set, "~[+a +b #t]"},
		{"push", ">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nkey\r\n", Push, `>[$"invalidate" *[$"key"]]`},
		{"attribute", "|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*1\r\n:2039123\r\n",
			Array, `|[+key-popularity %[$"a" ,0.19]] *[:2039123]`},
		{"attribute inside", "*2\r\n|1\r\n+ttl\r\n:3600\r\n:1\r\n:2\r\n", Array, "*[|[+ttl :3600] :1 :2]"},
		{"two attributes", "|1\r\n+a\r\n:1\r\n|0\r\n+OK\r\n", SimpleString, "|[+a :1] +OK"},
		{"attribute in attribute", "|1\r\n|1\r\n+x\r\n+y\r\n+k\r\n+v\r\n:7\r\n", Integer, "|[|[+x +y] +k +v] :7"},
		{"map of aggregates", "%1\r\n*1\r\n+k\r\n~1\r\n_\r\n", Map, "%[*[+k] ~[_]]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in + "+next\r\n"
			for _, m := range modes {
				items, err := readReplies(t, []byte(in), m, Limits{})
				if err != io.EOF || len(items) != 2 {
					t.Fatalf("%s: %d replies, %v", m.name, len(items), err)
				}
				if items[0].raw != tt.in || items[0].val != tt.want || items[0].kind != tt.kind {
					t.Fatalf("%s: %q %s (%v), want %q %s (%v)", m.name, items[0].raw, items[0].val, items[0].kind, tt.in, tt.want, tt.kind)
				}
				copied, err := copyReplies(t, []byte(in), m, Limits{})
				if err != io.EOF || len(copied) != 2 || copied[0].raw != tt.in || copied[0].kind != tt.kind {
					t.Fatalf("%s: CopyReply: %+v, %v", m.name, copied, err)
				}
			}
		})
	}
}

func TestReadReplyErrors(t *testing.T) {
	nest := func(n int) string { return strings.Repeat("*1\r\n", n) + ":1\r\n" }
	tests := []struct {
		name string
		in   string
		lim  Limits
		err  error
		text string // the exact text, if not that of err
	}{
		{"unknown type", "x\r\n", Limits{}, ErrUnknownType, "ERR Protocol error: unknown reply type 'x'"},
		{"empty line", "\r\n", Limits{}, ErrUnknownType, "ERR Protocol error: unknown reply type '\r'"},
		{"bare LF line", "\n", Limits{}, ErrUnknownType, "ERR Protocol error: unknown reply type '\n'"},
		{"bare LF", "+OK\n", Limits{}, ErrExpectedCRLF, ""},
		{"bare LF after type", "+\n", Limits{}, ErrExpectedCRLF, ""},
		{"bulk without CRLF", "$3\r\nfooXY", Limits{}, ErrExpectedCRLF, ""},
		{"bulk with LF only", "$3\r\nfoo\n+", Limits{}, ErrExpectedCRLF, ""},
		{"integer", ":12a\r\n", Limits{}, ErrInvalidValue, "ERR Protocol error: invalid value for type ':'"},
		{"empty integer", ":\r\n", Limits{}, ErrInvalidValue, "ERR Protocol error: invalid value for type ':'"},
		{"integer overflow", ":9223372036854775808\r\n", Limits{}, ErrInvalidValue, "ERR Protocol error: invalid value for type ':'"},
		{"boolean", "#x\r\n", Limits{}, ErrInvalidValue, "ERR Protocol error: invalid value for type '#'"},
		{"null", "_x\r\n", Limits{}, ErrInvalidValue, "ERR Protocol error: invalid value for type '_'"},
		{"double", ",abc\r\n", Limits{}, ErrInvalidValue, "ERR Protocol error: invalid value for type ','"},
		{"big number", "(12a\r\n", Limits{}, ErrInvalidValue, "ERR Protocol error: invalid value for type '('"},
		{"empty big number", "(\r\n", Limits{}, ErrInvalidValue, "ERR Protocol error: invalid value for type '('"},
		{"bulk length", "$-2\r\n", Limits{}, ErrInvalidBulkLength, ""},
		{"null bulk error", "!-1\r\n", Limits{}, ErrInvalidBulkLength, ""},
		{"bulk length text", "$x\r\n", Limits{}, ErrInvalidBulkLength, ""},
		{"bulk above MaxBulk", "$11\r\n", Limits{MaxBulk: 10}, ErrInvalidBulkLength, ""},
		{"array length", "*-2\r\n", Limits{}, ErrInvalidMultibulkLength, ""},
		{"null map", "%-1\r\n", Limits{}, ErrInvalidMultibulkLength, ""},
		{"null push", ">-1\r\n", Limits{}, ErrInvalidMultibulkLength, ""},
		{"line above MaxBulk", "+" + strings.Repeat("a", 11) + "\r\n", Limits{MaxBulk: 10}, ErrTooBigLine, ""},
		{"unended line above MaxBulk", "+" + strings.Repeat("a", 20), Limits{MaxBulk: 10}, ErrTooBigLine, ""},
		{"too deep", nest(129), Limits{}, ErrTooDeep, ""},
		{"too deep for MaxDepth", nest(3), Limits{MaxDepth: 2}, ErrTooDeep, ""},
		{"attribute counts", "*1\r\n|1\r\n+a\r\n+b\r\n:1\r\n", Limits{MaxDepth: 1}, ErrTooDeep, ""},
		{"streamed string", "$?\r\n;4\r\nHell\r\n;0\r\n", Limits{}, ErrStreamed, ""},
		{"streamed array", "*?\r\n:1\r\n.\r\n", Limits{}, ErrStreamed, ""},
		{"streamed map", "%?\r\n", Limits{}, ErrStreamed, ""},
		{"chunk", ";4\r\nHell\r\n", Limits{}, ErrStreamed, ""},
		{"end", ".\r\n", Limits{}, ErrStreamed, ""},
		{"EOF in line", "+OK", Limits{}, io.ErrUnexpectedEOF, ""},
		{"EOF in bulk", "$5\r\nhel", Limits{}, io.ErrUnexpectedEOF, ""},
		{"EOF in array", "*2\r\n:1\r\n", Limits{}, io.ErrUnexpectedEOF, ""},
		{"EOF after attribute", "|1\r\n+a\r\n+b\r\n", Limits{}, io.ErrUnexpectedEOF, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.text
			if text == "" {
				text = tt.err.Error()
			}
			for _, m := range modes {
				for _, read := range []func(testing.TB, []byte, mode, Limits) ([]item, error){readReplies, copyReplies} {
					_, err := read(t, []byte(tt.in), m, tt.lim)
					if !errors.Is(err, tt.err) || err.Error() != text {
						t.Fatalf("%s: err %q, want %q", m.name, err, text)
					}
				}
			}
		})
	}
	// 128 levels are fine.
	if items, err := readReplies(t, []byte(nest(128)), modes[0], Limits{}); err != io.EOF || len(items) != 1 {
		t.Fatalf("128 levels: %v", err)
	}
}

func TestErrorFamilies(t *testing.T) {
	for _, tt := range []struct {
		err, target error
		want        bool
	}{
		{errExpectedDollar('x'), ErrExpectedDollar, true},
		{errExpectedDollar('x'), errExpectedDollar('x'), true},
		{errExpectedDollar('x'), errExpectedDollar('y'), false},
		{errWithByte(ErrUnknownType, 'x'), ErrUnknownType, true},
		{ErrInvalidBulkLength, ErrInvalidMultibulkLength, false},
		{ErrInvalidBulkLength, ErrInvalidBulkLength, true},
		{ErrInvalidBulkLength, io.EOF, false},
	} {
		if got := errors.Is(tt.err, tt.target); got != tt.want {
			t.Errorf("errors.Is(%q, %q) = %v", tt.err, tt.target, got)
		}
	}
}

// TestCopyReplyLarge streams a 50 MB bulk, in an array after an attribute,
// through CopyReply: the payload is generated as it is read and checked as
// it is written, and the Reader allocates next to nothing.
func TestCopyReplyLarge(t *testing.T) {
	const size = 50 << 20
	head := "|1\r\n+a\r\n+b\r\n*2\r\n:1\r\n$52428800\r\n"
	src := io.MultiReader(strings.NewReader(head), &pattern{n: size}, strings.NewReader("\r\n+OK\r\n"))
	r := NewReader(bufioReader(src), Limits{})
	w := &checkWriter{start: int64(len(head)), size: size}
	var kind Kind
	allocs := allocated(func() {
		var err error
		if kind, err = r.CopyReply(w); err != nil {
			t.Fatal(err)
		}
	})
	if kind != Array || w.n != int64(len(head))+size+2 || w.bad || w.head.String() != head || w.tail.String() != "\r\n" {
		t.Fatalf("kind %v, copied %d bytes, bad %v, head %q, tail %q", kind, w.n, w.bad, w.head.String(), w.tail.String())
	}
	if allocs > 1<<20 {
		t.Fatalf("allocated %d bytes", allocs)
	}
	if raw, err := r.ReadReply(); err != nil || string(raw) != "+OK\r\n" {
		t.Fatalf("next reply: %q %v", raw, err)
	}
}

// TestReadReplyLarge reads a large bulk whole, through a small buffer.
func TestReadReplyLarge(t *testing.T) {
	const size = 5 << 20
	head := "$5242880\r\n"
	src := io.MultiReader(strings.NewReader(head), &pattern{n: size}, strings.NewReader("\r\n"))
	r := NewReader(bufio.NewReaderSize(src, 16), Limits{})
	v, raw, err := r.ReadValue()
	if err != nil || len(raw) != len(head)+size+2 || len(v.Str) != size {
		t.Fatalf("%d bytes, %v", len(raw), err)
	}
	for i, c := range v.Str {
		if c != byte(i%251) {
			t.Fatalf("byte %d: %d", i, c)
		}
	}
}

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

// pattern generates n bytes: byte i is i%251.
type pattern struct{ i, n int }

func (p *pattern) Read(b []byte) (int, error) {
	if p.i == p.n {
		return 0, io.EOF
	}
	b = b[:min(len(b), p.n-p.i)]
	for k := range b {
		b[k] = byte((p.i + k) % 251)
	}
	p.i += len(b)
	return len(b), nil
}

// checkWriter counts what is written, checks that bytes [start,
// start+size) follow pattern and keeps those before and after.
type checkWriter struct {
	start, size int64
	n           int64
	bad         bool
	head, tail  strings.Builder
}

func (w *checkWriter) Write(b []byte) (int, error) {
	for _, c := range b {
		switch {
		case w.n < w.start:
			w.head.WriteByte(c)
		case w.n < w.start+w.size:
			if c != byte((w.n-w.start)%251) {
				w.bad = true
			}
		default:
			w.tail.WriteByte(c)
		}
		w.n++
	}
	return len(b), nil
}

// allocated is how many bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
