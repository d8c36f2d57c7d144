package resp

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestReadCommand(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want [][]string // arguments of each command
		raws []string   // raw bytes of each command; nil: the input
	}{
		{"multibulk", "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n", [][]string{{"GET", "key"}}, nil},
		{"empty bulk", "*2\r\n$3\r\nGET\r\n$0\r\n\r\n", [][]string{{"GET", ""}}, nil},
		{"binary bulk", "*2\r\n$4\r\nECHO\r\n$6\r\na\r\n\x00\xffb\r\n", [][]string{{"ECHO", "a\r\n\x00\xffb"}}, nil},
		{"empty multibulks skipped", "*0\r\n*-1\r\n*-10\r\n*1\r\n$4\r\nPING\r\n",
			[][]string{{"PING"}}, []string{"*1\r\n$4\r\nPING\r\n"}},
		// redis-server skips the byte after a header's CR and the two
		// after a bulk without looking at them.
		{"lenient terminators", "*1\rX$4\r\nPINGxy", [][]string{{"PING"}}, nil},
		{"inline", "PING\r\n", [][]string{{"PING"}}, nil},
		{"inline LF", "SET a b\n", [][]string{{"SET", "a", "b"}}, nil},
		{"blank inline lines skipped", "\r\n\n   \r\nPING\n",
			[][]string{{"PING"}}, []string{"PING\n"}},
		{"inline CR inside", "a\rb\r\n", [][]string{{"a", "b"}}, nil},
		{"inline CR CR LF", "PING\r\r\n", [][]string{{"PING"}}, nil},
		{"pipeline", "*1\r\n$4\r\nPING\r\nECHO x\r\n*2\r\n$4\r\nECHO\r\n$1\r\ny\r\n",
			[][]string{{"PING"}, {"ECHO", "x"}, {"ECHO", "y"}},
			[]string{"*1\r\n$4\r\nPING\r\n", "ECHO x\r\n", "*2\r\n$4\r\nECHO\r\n$1\r\ny\r\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raws := tt.raws
			if raws == nil {
				raws = []string{tt.in}
			}
			for _, m := range modes {
				items, err := readCommands(t, []byte(tt.in), m, Limits{})
				if err != io.EOF {
					t.Fatalf("%s: err %v, want io.EOF", m.name, err)
				}
				var got [][]string
				var gotRaws []string
				for _, it := range items {
					got = append(got, it.args)
					gotRaws = append(gotRaws, it.raw)
				}
				if !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(gotRaws, raws) {
					t.Fatalf("%s: got %q %q, want %q %q", m.name, got, gotRaws, tt.want, raws)
				}
				copied, err := copyCommands(t, []byte(tt.in), m, Limits{})
				if err != io.EOF || len(copied) != len(items) {
					t.Fatalf("%s: CopyCommand: %d commands, %v", m.name, len(copied), err)
				}
				for i, c := range copied {
					if c.raw != items[i].raw || len(c.args) != len(items[i].args) || c.end != items[i].end {
						t.Fatalf("%s: CopyCommand %d: %q (%d args, end %d), ReadCommand %q (%d args, end %d)",
							m.name, i, c.raw, len(c.args), c.end, items[i].raw, len(items[i].args), items[i].end)
					}
				}
			}
		})
	}
}

// TestInlineQuoting follows redis-server's sdssplitargs; the integration
// test checks the same lines against a real server.
func TestInlineQuoting(t *testing.T) {
	tests := []struct {
		line string
		want []string // nil: unbalanced quotes
	}{
		{`a b  c`, []string{"a", "b", "c"}},
		{"  \t a\tb \t", []string{"a", "b"}},
		{"\va\f b", []string{"a\f", "b"}},           // VT and FF are blanks between arguments...
		{"a\vb", []string{"a\vb"}},                  // ...but do not end one
		{`""`, []string{""}},                        // an empty argument
		{`"" ''`, []string{"", ""}},                 //
		{`"a b"`, []string{"a b"}},                  //
		{`'a b'`, []string{"a b"}},                  //
		{`"\x41\x7a\x7A\x00"`, []string{"Azz\x00"}}, // hex escapes, either case
		{`"\x4"`, []string{"x4"}},                   // not two hex digits: \x is x
		{`"\xZZ"`, []string{"xZZ"}},                 //
		{`"\n\r\t\b\a"`, []string{"\n\r\t\b\a"}},    // C escapes
		{`"\"\\\q\'"`, []string{`"\q'`}},            // any other byte after \ is itself
		{`'it\'s'`, []string{"it's"}},               // \' in single quotes
		{`'a\nb\"'`, []string{`a\nb\"`}},            // nothing else is an escape there
		{`"'"`, []string{"'"}},                      //
		{`'"'`, []string{`"`}},                      //
		{`ab"c d"`, []string{"abc d"}},              // a quote opens mid-argument
		{`ab'c d'`, []string{"abc d"}},              //
		{"\"a\"\tb", []string{"a", "b"}},            // a blank after a closing quote
		{"\"a\"\vb", []string{"a", "b"}},            // VT counts as one there
		{`"a"b`, nil},                               // but nothing else
		{`'a'b`, nil},                               //
		{`"a`, nil},                                 // unterminated
		{`'a`, nil},                                 //
		{`"a\"`, nil},                               // the quote is escaped
		{`"a\`, nil},                                // a backslash at the end
		{`'a\'`, nil},                               //
		{`a"`, nil},                                 //
		{"\xff\x80", []string{"\xff\x80"}},          // bytes above 0x7f are not blanks
	}
	for _, tt := range tests {
		in := "SET " + tt.line + "\r\n"
		for _, m := range modes {
			items, err := readCommands(t, []byte(in), m, Limits{})
			if tt.want == nil {
				if err != ErrUnbalancedQuotes || len(items) != 0 {
					t.Errorf("%s: %q: %+v, %v; want %v", m.name, tt.line, items, err, ErrUnbalancedQuotes)
				}
				continue
			}
			want := append([]string{"SET"}, tt.want...)
			if err != io.EOF || len(items) != 1 || !reflect.DeepEqual(items[0].args, want) {
				t.Errorf("%s: %q: %+v, %v; want %q", m.name, tt.line, items, err, want)
			}
		}
	}
}

func TestReadCommandErrors(t *testing.T) {
	big := strings.Repeat("1", DefaultMaxInline+1)
	tests := []struct {
		name string
		in   string
		lim  Limits
		err  error
		text string // the exact text, if not that of err
	}{
		{"count not a number", "*abc\r\n", Limits{}, ErrInvalidMultibulkLength, ""},
		{"count empty", "*\r\n", Limits{}, ErrInvalidMultibulkLength, ""},
		{"count leading zero", "*01\r\n", Limits{}, ErrInvalidMultibulkLength, ""},
		{"count -0", "*-0\r\n", Limits{}, ErrInvalidMultibulkLength, ""},
		{"count +1", "*+1\r\n", Limits{}, ErrInvalidMultibulkLength, ""},
		{"count trailing space", "*1 \r\n", Limits{}, ErrInvalidMultibulkLength, ""},
		{"count overflow", "*99999999999999999999\r\n", Limits{}, ErrInvalidMultibulkLength, ""},
		{"count above MaxArgs", "*1048577\r\n", Limits{}, ErrInvalidMultibulkLength, ""},
		{"count above small MaxArgs", "*3\r\n", Limits{MaxArgs: 2}, ErrInvalidMultibulkLength, ""},
		{"count line too long", "*" + big, Limits{}, ErrTooBigMbulkCount, ""},
		{"count line too long with CR", "*" + big + "\r\n", Limits{}, ErrTooBigMbulkCount, ""},
		{"count line with NUL", "*1\x00\r\n", Limits{}, ErrTooBigMbulkCount, ""},
		{"bulk length negative", "*1\r\n$-1\r\n", Limits{}, ErrInvalidBulkLength, ""},
		{"bulk length not a number", "*1\r\n$x\r\n", Limits{}, ErrInvalidBulkLength, ""},
		{"bulk length empty", "*1\r\n$\r\n", Limits{}, ErrInvalidBulkLength, ""},
		{"bulk length leading zero", "*1\r\n$01\r\nx\r\n", Limits{}, ErrInvalidBulkLength, ""},
		{"bulk above MaxBulk", "*1\r\n$536870913\r\n", Limits{}, ErrInvalidBulkLength, ""},
		{"bulk above small MaxBulk", "*1\r\n$4\r\nPING\r\n", Limits{MaxBulk: 3}, ErrInvalidBulkLength, ""},
		{"bulk line too long", "*1\r\n$" + big, Limits{}, ErrTooBigBulkCount, ""},
		{"bulk line with NUL", "*1\r\n$\x001\r\n", Limits{}, ErrTooBigBulkCount, ""},
		{"expected $", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", Limits{}, ErrExpectedDollar,
			"ERR Protocol error: expected '$', got 'f'"},
		{"expected $ got CR", "*1\r\n\r\n", Limits{}, ErrExpectedDollar,
			"ERR Protocol error: expected '$', got ' '"},
		{"expected $ got LF", "*1\r\n\nx\r\n", Limits{}, ErrExpectedDollar,
			"ERR Protocol error: expected '$', got ' '"},
		{"expected $ got *", "*1\r\n*1\r\n", Limits{}, ErrExpectedDollar,
			"ERR Protocol error: expected '$', got '*'"},
		{"inline too long", "GET " + big, Limits{}, ErrTooBigInline, ""},
		{"inline too long with LF", "GET " + big + "\n", Limits{}, ErrTooBigInline, ""},
		{"inline above small MaxInline", "GET abc\r\n", Limits{MaxInline: 6}, ErrTooBigInline, ""},
		{"inline with NUL", "GET a\x00b\r\n", Limits{}, ErrTooBigInline, ""},
		// testdata/fuzz/FuzzReadCommand/18cd4f3d8fe23ec2: the NUL must be
		// refused even when the input ends right after it.
		{"inline with NUL at EOF", "0\x00", Limits{}, ErrTooBigInline, ""},
		{"unbalanced quotes", "SET \"a b\r\n", Limits{}, ErrUnbalancedQuotes, ""},
		{"after a good command", "PING\r\nSET 'a\r\n", Limits{}, ErrUnbalancedQuotes, ""},
		{"EOF in count", "*1", Limits{}, io.ErrUnexpectedEOF, ""},
		{"EOF after CR", "*1\r", Limits{}, io.ErrUnexpectedEOF, ""},
		{"EOF in bulk", "*1\r\n$4\r\nPI", Limits{}, io.ErrUnexpectedEOF, ""},
		{"EOF before bulk end", "*1\r\n$4\r\nPING\r", Limits{}, io.ErrUnexpectedEOF, ""},
		{"EOF in inline", "PING", Limits{}, io.ErrUnexpectedEOF, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := tt.text
			if text == "" {
				text = tt.err.Error()
			}
			for _, m := range modes {
				for _, read := range []func(testing.TB, []byte, mode, Limits) ([]item, error){readCommands, copyCommands} {
					_, err := read(t, []byte(tt.in), m, tt.lim)
					if !errors.Is(err, tt.err) || err.Error() != text {
						t.Fatalf("%s: err %q, want %q", m.name, err, text)
					}
				}
			}
		})
	}
}

func TestReadCommandStickyError(t *testing.T) {
	s := newSource([]byte("*x\r\n*1\r\n$4\r\nPING\r\n"), modes[0], Limits{})
	for range 2 {
		if _, _, err := s.r.ReadCommand(); err != ErrInvalidMultibulkLength {
			t.Fatalf("err %v", err)
		}
	}
	if _, err := s.r.CopyCommand(io.Discard); err != ErrInvalidMultibulkLength {
		t.Fatalf("err %v", err)
	}
}

// TestPipeline reads thousands of commands, of every shape, from one
// buffer and from every split of it.
func TestPipeline(t *testing.T) {
	var in []byte
	var want [][]string
	for i := range 3000 {
		switch i % 4 {
		case 0:
			in = append(in, cmd("SET", "key:"+strings.Repeat("k", i%50), strings.Repeat("v", i%700))...)
			want = append(want, []string{"SET", "key:" + strings.Repeat("k", i%50), strings.Repeat("v", i%700)})
		case 1:
			in = append(in, "GET 'k y'\r\n"...)
			want = append(want, []string{"GET", "k y"})
		case 2:
			in = append(in, "*0\r\n"...)
		case 3:
			in = append(in, cmd("MSET", "a", "1", "b", "")...)
			want = append(want, []string{"MSET", "a", "1", "b", ""})
		}
	}
	for _, m := range modes {
		items, err := readCommands(t, in, m, Limits{})
		if err != io.EOF || len(items) != len(want) {
			t.Fatalf("%s: %d commands, %v", m.name, len(items), err)
		}
		for i := range items {
			if !reflect.DeepEqual(items[i].args, want[i]) {
				t.Fatalf("%s: command %d: %q, want %q", m.name, i, items[i].args, want[i])
			}
		}
		copied, err := copyCommands(t, in, m, Limits{})
		if err != io.EOF || len(copied) != len(items) {
			t.Fatalf("%s: CopyCommand: %d commands, %v", m.name, len(copied), err)
		}
		for i := range copied {
			if copied[i].raw != items[i].raw || len(copied[i].args) != len(want[i]) {
				t.Fatalf("%s: CopyCommand %d: %q, want %q", m.name, i, copied[i].raw, items[i].raw)
			}
		}
	}
}

// TestReadCommandInPlace: a buffered command is parsed in the bufio
// buffer, with no allocation.
func TestReadCommandInPlace(t *testing.T) {
	in := bytes.Repeat(cmd("SET", "key", "value"), 100)
	s := newSource(in, mode{"big", 1 << 16, false}, Limits{})
	s.r.ReadCommand() // the first fills the buffer
	allocs := testing.AllocsPerRun(50, func() {
		if _, _, err := s.r.ReadCommand(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per command", allocs)
	}
}

// TestCopyCommandLarge streams a 50 MB argument through CopyCommand with
// bounded memory.
func TestCopyCommandLarge(t *testing.T) {
	const size = 50 << 20
	head := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$52428800\r\n"
	src := io.MultiReader(strings.NewReader(head), &pattern{n: size}, strings.NewReader("\r\nPING\r\n"))
	r := NewReader(bufioReader(src), Limits{})
	w := &checkWriter{start: int64(len(head)), size: size}
	allocs := allocated(func() {
		argc, err := r.CopyCommand(w)
		if err != nil || argc != 3 {
			t.Fatalf("argc %d, err %v", argc, err)
		}
	})
	if w.n != int64(len(head))+size+2 || w.bad || w.head.String() != head || w.tail.String() != "\r\n" {
		t.Fatalf("copied %d bytes, bad %v, head %q, tail %q", w.n, w.bad, w.head.String(), w.tail.String())
	}
	if allocs > 1<<20 {
		t.Fatalf("allocated %d bytes", allocs)
	}
	if args, _, err := r.ReadCommand(); err != nil || string(args[0]) != "PING" {
		t.Fatalf("next command: %q %v", args, err)
	}
}

// scripted is an io.Reader that returns each of its steps in turn.
type scripted []struct {
	data string
	err  error
}

func (s *scripted) Read(b []byte) (int, error) {
	if len(*s) == 0 {
		return 0, io.EOF
	}
	st := (*s)[0]
	*s = (*s)[1:]
	return copy(b, st.data), st.err
}

var errTimeout = errors.New("i/o timeout")

// TestReadErrorBetweenCommands: a read error between two commands (a
// timeout) can be retried; one inside a command is sticky.
func TestReadErrorBetweenCommands(t *testing.T) {
	src := &scripted{
		{"*1\r\n$4\r\nPING\r\n", nil},
		{"", errTimeout},
		{"PING\r\n*1\r\n$4\r\nPI", nil},
		{"", errTimeout},
		{"NG\r\n", nil},
	}
	r := NewReader(bufioReader(src), Limits{})
	for i, want := range []error{nil, errTimeout, nil, errTimeout, errTimeout} {
		_, _, err := r.ReadCommand()
		if err != want {
			t.Fatalf("read %d: %v, want %v", i, err, want)
		}
	}
}
