package resp

import (
	"bytes"
	"strconv"
)

// Kind is the type of a reply: its first byte on the wire.
type Kind byte

// The RESP2 and RESP3 types.
const (
	SimpleString   Kind = '+'
	SimpleError    Kind = '-'
	Integer        Kind = ':'
	BulkString     Kind = '$'
	Array          Kind = '*'
	Null           Kind = '_' // RESP3
	Boolean        Kind = '#' // RESP3
	Double         Kind = ',' // RESP3
	BigNumber      Kind = '(' // RESP3
	BulkError      Kind = '!' // RESP3
	VerbatimString Kind = '=' // RESP3
	Map            Kind = '%' // RESP3
	Set            Kind = '~' // RESP3
	Attribute      Kind = '|' // RESP3
	Push           Kind = '>' // RESP3
)

func (k Kind) String() string {
	switch k {
	case SimpleString:
		return "simple string"
	case SimpleError:
		return "simple error"
	case Integer:
		return "integer"
	case BulkString:
		return "bulk string"
	case Array:
		return "array"
	case Null:
		return "null"
	case Boolean:
		return "boolean"
	case Double:
		return "double"
	case BigNumber:
		return "big number"
	case BulkError:
		return "bulk error"
	case VerbatimString:
		return "verbatim string"
	case Map:
		return "map"
	case Set:
		return "set"
	case Attribute:
		return "attribute"
	case Push:
		return "push"
	}
	return "kind " + strconv.Quote(string(rune(k)))
}

// Value is a parsed reply.
type Value struct {
	Kind Kind
	// Null is set for the null of RESP3 (Kind Null) and those of RESP2:
	// "$-1" (Kind BulkString) and "*-1" (Kind Array).
	Null bool
	// Int is an Integer, or a Boolean: 1 for true, 0 for false.
	Int int64
	// Str is the payload of a SimpleString, SimpleError, BulkString,
	// BulkError or VerbatimString (with its "txt:" prefix), or the text of
	// a Double or BigNumber.
	Str []byte
	// Elems are the elements of an Array, Set or Push; of a Map, its keys
	// and values alternating.
	Elems []Value
	// Attr is the attribute sent before the reply, if any: its keys and
	// values alternating.
	Attr []Value
}

// Float returns the value of a Double, or of a string holding one (a RESP2
// server sends doubles as bulk strings).
func (v Value) Float() (float64, error) {
	return strconv.ParseFloat(string(v.Str), 64)
}

// frame is an aggregate being read: left elements to go.
type frame struct {
	left int
	attr bool // an attribute: it does not count as an element of its parent
}

// replyState is the progress through the reply being read. The scanner
// stops only between units (a line, a bulk payload with its CRLF).
type replyState struct {
	stack []frame
	bulk  int // length of the payload to read next; -1 if none
	kind  Kind
	done  bool
}

func (s *replyState) reset() {
	s.stack, s.bulk, s.kind, s.done = s.stack[:0], -1, 0, false
}

// begin notes the type of a value starting: at the top level, unless it is
// an attribute, the kind of the reply.
func (s *replyState) begin(t byte) {
	if len(s.stack) == 0 && t != '|' {
		s.kind = Kind(t)
	}
}

// complete notes that a value ended, and with it, perhaps, the aggregates
// it closes. An attribute does not count: the value it annotates follows.
func (s *replyState) complete(attr bool) {
	for !attr {
		if len(s.stack) == 0 {
			s.done = true
			return
		}
		f := &s.stack[len(s.stack)-1]
		if f.left--; f.left > 0 {
			return
		}
		attr = f.attr
		s.stack = s.stack[:len(s.stack)-1]
	}
}

// scanReply scans the reply in p from pos, the start of a unit, and
// returns the position after the last whole unit. If r.reply.done is not
// set, the rest of p is an unfinished unit and r.need and r.delim say what
// it waits for. Unlike commands, replies are checked strictly: every line
// and every payload ends with CRLF.
func (r *Reader) scanReply(p []byte, pos int) (int, error) {
	s := &r.reply
	for !s.done {
		if s.bulk >= 0 {
			if len(p)-pos < s.bulk+2 {
				r.need = s.bulk + 2 - (len(p) - pos)
				return pos, nil
			}
			if p[pos+s.bulk] != '\r' || p[pos+s.bulk+1] != '\n' {
				return pos, ErrExpectedCRLF
			}
			pos += s.bulk + 2
			s.bulk = -1
			s.complete(false)
			continue
		}
		q := p[pos:]
		i := bytes.IndexByte(q, '\n')
		if i < 0 {
			if len(q) > r.lim.MaxBulk+1 {
				return pos, ErrTooBigLine
			}
			r.need, r.delim = 0, '\n'
			return pos, nil
		}
		if i-1 > r.lim.MaxBulk {
			return pos, ErrTooBigLine
		}
		switch {
		case i == 0: // "\n"
			return pos, errWithByte(ErrUnknownType, '\n')
		case q[i-1] != '\r':
			return pos, ErrExpectedCRLF
		case i == 1: // "\r\n"
			return pos, errWithByte(ErrUnknownType, '\r')
		}
		t, body := q[0], q[1:i-1]
		switch t {
		case '+', '-':
			s.begin(t)
			s.complete(false)
		case ':', ',', '(', '#', '_':
			if !validScalar(t, body) {
				return pos, errWithByte(ErrInvalidValue+" for type", t)
			}
			s.begin(t)
			s.complete(false)
		case '$', '!', '=':
			if len(body) == 1 && body[0] == '?' {
				return pos, ErrStreamed
			}
			n, ok := string2ll(body)
			s.begin(t)
			if ok && n == -1 && t == '$' {
				s.complete(false)
				break
			}
			if !ok || n < 0 || n > int64(r.lim.MaxBulk) {
				return pos, ErrInvalidBulkLength
			}
			s.bulk = int(n)
		case '*', '%', '~', '>', '|':
			if len(body) == 1 && body[0] == '?' {
				return pos, ErrStreamed
			}
			n, ok := string2ll(body)
			s.begin(t)
			if ok && n == -1 && t == '*' {
				s.complete(false)
				break
			}
			if !ok || n < 0 || n > 1<<40 {
				return pos, ErrInvalidMultibulkLength
			}
			if t == '%' || t == '|' {
				n *= 2
			}
			if n == 0 {
				s.complete(t == '|')
				break
			}
			if len(s.stack) >= r.lim.MaxDepth {
				return pos, ErrTooDeep
			}
			s.stack = append(s.stack, frame{left: int(n), attr: t == '|'})
		case ';', '.':
			return pos, ErrStreamed
		default:
			return pos, errWithByte(ErrUnknownType, t)
		}
		pos += i + 1
	}
	return pos, nil
}

// validScalar checks the line of an integer, double, big number, boolean
// or null.
func validScalar(t byte, b []byte) bool {
	switch t {
	case ':':
		_, ok := string2ll(b)
		return ok
	case ',':
		_, err := strconv.ParseFloat(string(b), 64)
		return err == nil
	case '(':
		if len(b) > 0 && b[0] == '-' {
			b = b[1:]
		}
		if len(b) == 0 {
			return false
		}
		for _, c := range b {
			if c < '0' || c > '9' {
				return false
			}
		}
		return true
	case '#':
		return len(b) == 1 && (b[0] == 't' || b[0] == 'f')
	}
	return len(b) == 0 // '_'
}

// parseValue parses the reply at p[pos:], which scanReply accepted, and
// returns it with the position after it.
func parseValue(p []byte, pos int) (Value, int) {
	var attr []Value
	for p[pos] == '|' {
		var n int
		n, pos = parseCount(p, pos)
		for range 2 * n {
			var e Value
			e, pos = parseValue(p, pos)
			attr = append(attr, e)
		}
	}
	t := p[pos]
	i := bytes.IndexByte(p[pos:], '\n')
	body := p[pos+1 : pos+i-1]
	pos += i + 1
	v := Value{Kind: Kind(t), Attr: attr}
	switch t {
	case '+', '-', ',', '(':
		v.Str = body
	case ':':
		v.Int, _ = string2ll(body)
	case '#':
		if body[0] == 't' {
			v.Int = 1
		}
	case '_':
		v.Null = true
	case '$', '!', '=':
		n, _ := string2ll(body)
		if n < 0 {
			v.Null = true
			break
		}
		v.Str = p[pos : pos+int(n) : pos+int(n)]
		pos += int(n) + 2
	case '*', '%', '~', '>':
		n, _ := string2ll(body)
		if n < 0 {
			v.Null = true
			break
		}
		if t == '%' {
			n *= 2
		}
		v.Elems = make([]Value, 0, min(n, 1024))
		for range n {
			var e Value
			e, pos = parseValue(p, pos)
			v.Elems = append(v.Elems, e)
		}
	}
	return v, pos
}

// parseCount parses the count of the aggregate header at p[pos:].
func parseCount(p []byte, pos int) (int, int) {
	i := bytes.IndexByte(p[pos:], '\n')
	n, _ := string2ll(p[pos+1 : pos+i-1])
	return int(n), pos + i + 1
}
