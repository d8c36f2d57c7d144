package resp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// A mode is a way of feeding the same input to a Reader: the results must
// not depend on it.
type mode struct {
	name    string
	bufSize int
	oneByte bool // the underlying reader returns one byte per Read
}

var modes = []mode{
	{"whole", 4096, false},
	{"small-buffer", 16, false},
	{"one-byte", 4096, true},
	{"one-byte-small-buffer", 16, true},
}

// source is a Reader over input fed in a mode, with what it needs to tell
// how far into input it has read.
type source struct {
	in  []byte
	src *bytes.Reader
	br  *bufio.Reader
	r   *Reader
}

func newSource(in []byte, m mode, lim Limits) *source {
	s := &source{in: in, src: bytes.NewReader(in)}
	var rd io.Reader = s.src
	if m.oneByte {
		rd = iotest.OneByteReader(rd)
	}
	s.br = bufio.NewReaderSize(rd, m.bufSize)
	s.r = NewReader(s.br, lim)
	return s
}

// consumed is how many bytes of input the Reader has taken.
func (s *source) consumed() int { return len(s.in) - s.src.Len() - s.br.Buffered() }

// item is one command or reply read, copied out of the Reader's buffers.
type item struct {
	args []string // a command's arguments
	val  string   // a reply's rendered Value
	kind Kind
	raw  string
	end  int // input offset after it
}

// readCommands reads commands until an error, checking that each raw is
// the input right before where the Reader stopped: nothing was read past a
// command.
func readCommands(t testing.TB, in []byte, m mode, lim Limits) ([]item, error) {
	s := newSource(in, m, lim)
	var items []item
	for {
		args, raw, err := s.r.ReadCommand()
		if err != nil {
			return items, err
		}
		it := item{raw: string(raw), end: s.consumed()}
		for _, a := range args {
			it.args = append(it.args, string(a))
		}
		if it.end < len(raw) || string(in[it.end-len(raw):it.end]) != it.raw {
			t.Fatalf("%s: raw %q is not the input before offset %d", m.name, raw, it.end)
		}
		items = append(items, it)
	}
}

// copyCommands copies commands with CopyCommand until an error.
func copyCommands(t testing.TB, in []byte, m mode, lim Limits) ([]item, error) {
	s := newSource(in, m, lim)
	var items []item
	for {
		var buf bytes.Buffer
		argc, err := s.r.CopyCommand(&buf)
		if err != nil {
			return items, err
		}
		it := item{raw: buf.String(), end: s.consumed(), args: make([]string, argc)}
		if string(in[it.end-len(it.raw):it.end]) != it.raw {
			t.Fatalf("%s: copied %q is not the input before offset %d", m.name, it.raw, it.end)
		}
		items = append(items, it)
	}
}

// readReplies reads replies with ReadValue until an error.
func readReplies(t testing.TB, in []byte, m mode, lim Limits) ([]item, error) {
	s := newSource(in, m, lim)
	var items []item
	for {
		v, raw, err := s.r.ReadValue()
		if err != nil {
			return items, err
		}
		it := item{val: render(v), kind: v.Kind, raw: string(raw), end: s.consumed()}
		if it.end < len(raw) || string(in[it.end-len(raw):it.end]) != it.raw {
			t.Fatalf("%s: raw %q is not the input before offset %d", m.name, raw, it.end)
		}
		items = append(items, it)
	}
}

// copyReplies copies replies with CopyReply until an error.
func copyReplies(t testing.TB, in []byte, m mode, lim Limits) ([]item, error) {
	s := newSource(in, m, lim)
	var items []item
	for {
		var buf bytes.Buffer
		k, err := s.r.CopyReply(&buf)
		if err != nil {
			return items, err
		}
		it := item{kind: k, raw: buf.String(), end: s.consumed()}
		if string(in[it.end-len(it.raw):it.end]) != it.raw {
			t.Fatalf("%s: copied %q is not the input before offset %d", m.name, it.raw, it.end)
		}
		items = append(items, it)
	}
}

// render writes v compactly: +OK -ERR :1 $"a" $nil *[...] *nil _ #t ,1.5
// (12 !"e" ="txt:a" %[k v] ~[...] >[...], with |[k v] before a value that
// carries an attribute.
func render(v Value) string {
	var b strings.Builder
	renderTo(&b, v)
	return b.String()
}

func renderTo(b *strings.Builder, v Value) {
	if v.Attr != nil {
		b.WriteString("|")
		renderList(b, v.Attr)
		b.WriteString(" ")
	}
	b.WriteByte(byte(v.Kind))
	switch {
	case v.Kind == Null:
	case v.Null:
		b.WriteString("nil")
	case v.Kind == SimpleString || v.Kind == SimpleError || v.Kind == Double || v.Kind == BigNumber:
		b.Write(v.Str)
	case v.Kind == Integer:
		b.WriteString(strconv.FormatInt(v.Int, 10))
	case v.Kind == Boolean:
		b.WriteString(map[int64]string{0: "f", 1: "t"}[v.Int])
	case v.Elems != nil:
		renderList(b, v.Elems)
	case v.Kind == Array || v.Kind == Map || v.Kind == Set || v.Kind == Push:
		b.WriteString("[]")
	default:
		b.WriteString(strconv.Quote(string(v.Str)))
	}
}

func renderList(b *strings.Builder, vs []Value) {
	b.WriteString("[")
	for i, e := range vs {
		if i > 0 {
			b.WriteString(" ")
		}
		renderTo(b, e)
	}
	b.WriteString("]")
}

// isReadError says whether err is one a Reader may return for bad or
// short input.
func isReadError(err error) bool {
	var pe ProtocolError
	return errors.As(err, &pe) || err == io.EOF || err == io.ErrUnexpectedEOF
}

func cmd(args ...string) []byte {
	var bs [][]byte
	for _, a := range args {
		bs = append(bs, []byte(a))
	}
	return AppendCommand(nil, bs...)
}
