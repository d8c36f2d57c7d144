package cogsjson

import (
	"strconv"
)

// Kind is the type of a JSON value.
type Kind uint8

// Kinds of values. Invalid is the kind of a node that does not exist.
const (
	Invalid Kind = iota
	Null
	Bool
	Number
	String
	Array
	Object
)

var kindNames = [...]string{"invalid", "null", "bool", "number", "string", "array", "object"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// MaxDepth is the deepest nesting of arrays and objects Parse accepts.
const MaxDepth = 1000

// MaxSize is the largest document Parse accepts, in bytes.
const MaxSize = 1<<31 - 1

// node is one value of the tape. For a container, next is the index of
// the node after its last descendant and end the offset after its closing
// bracket.
type node struct {
	start, end uint32 // the value's text is src[start:end]
	next       uint32
	kind       Kind
	esc        bool // a string with a backslash escape
	high       bool // a string with a byte >= 0x80
}

// Doc is a parsed JSON document. The zero Doc holds no document; Parse
// fills it, reusing the index of the previous document (whose nodes are
// then meaningless). Strings from Str and Raw are substrings of the source
// or, for strings with escapes, fresh copies: they stay valid as long as
// the source does, whatever the Doc parses next.
type Doc struct {
	src   string
	nodes []node
	stack []uint32
}

// SyntaxError is a document that is not JSON.
type SyntaxError struct {
	Offset int    // byte offset of the problem
	Msg    string // what is wrong
}

func (e *SyntaxError) Error() string {
	return "json: " + e.Msg + " at offset " + strconv.Itoa(e.Offset)
}

// TooDeepError is a document nested deeper than MaxDepth.
type TooDeepError struct{ Offset int }

func (e *TooDeepError) Error() string {
	return "json: nested deeper than " + strconv.Itoa(MaxDepth) + " at offset " + strconv.Itoa(e.Offset)
}

func (d *Doc) syntax(off int, msg string) error {
	d.nodes = d.nodes[:0]
	return &SyntaxError{Offset: off, Msg: msg}
}

func (d *Doc) unexpected(off int, what string) error {
	if off >= len(d.src) {
		return d.syntax(off, "unexpected end of input "+what)
	}
	return d.syntax(off, "invalid character "+quoteChar(d.src[off])+" "+what)
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.QuoteRune(rune(c))
	if c >= 0x80 {
		s = `'\x` + string("0123456789abcdef"[c>>4]) + string("0123456789abcdef"[c&15]) + `'`
	}
	return s
}

// Valid reports whether s is one JSON value (with surrounding white space),
// nested at most MaxDepth deep.
func Valid(s string) bool {
	var d Doc
	return d.Parse(s) == nil
}

// Parse parses src, which must hold exactly one JSON value, into d. On
// error d holds no document.
func (d *Doc) Parse(src string) error {
	d.src = src
	d.nodes = d.nodes[:0]
	d.stack = d.stack[:0]
	if len(src) > MaxSize {
		return d.syntax(0, "document larger than 2 GiB")
	}
	i := 0
	for {
		// A value is expected at i.
		i = skipSpace(src, i)
		if i >= len(src) {
			return d.unexpected(i, "looking for beginning of value")
		}
		c := src[i]
		open := false
		switch c {
		case '{', '[':
			if len(d.stack) >= MaxDepth {
				d.nodes = d.nodes[:0]
				return &TooDeepError{Offset: i}
			}
			k := Array
			if c == '{' {
				k = Object
			}
			d.stack = append(d.stack, uint32(len(d.nodes)))
			d.nodes = append(d.nodes, node{kind: k, start: uint32(i)})
			i = skipSpace(src, i+1)
			if i < len(src) && src[i] == c+2 { // '{'+2 is '}', '['+2 is ']'
				d.close(i)
				i++
				break
			}
			open = true
			if k == Object {
				var err error
				if i, err = d.key(i); err != nil {
					return err
				}
			}
		case '"':
			end, esc, high, err := d.scanString(i)
			if err != nil {
				return err
			}
			d.nodes = append(d.nodes, node{kind: String, start: uint32(i), end: uint32(end), next: uint32(len(d.nodes) + 1), esc: esc, high: high})
			i = end
		case 't', 'f', 'n':
			lit, k := "null", Null
			if c == 't' {
				lit, k = "true", Bool
			} else if c == 'f' {
				lit, k = "false", Bool
			}
			if len(src)-i < len(lit) || src[i:i+len(lit)] != lit {
				j := i + 1
				for j < len(src) && j < i+len(lit) && src[j] == lit[j-i] {
					j++
				}
				return d.unexpected(j, "in literal "+lit)
			}
			d.nodes = append(d.nodes, node{kind: k, start: uint32(i), end: uint32(i + len(lit)), next: uint32(len(d.nodes) + 1)})
			i += len(lit)
		default:
			if c != '-' && (c < '0' || c > '9') {
				return d.unexpected(i, "looking for beginning of value")
			}
			end, err := d.scanNumber(i)
			if err != nil {
				return err
			}
			d.nodes = append(d.nodes, node{kind: Number, start: uint32(i), end: uint32(end), next: uint32(len(d.nodes) + 1)})
			i = end
		}
		if open {
			continue
		}
		// After a value: close containers until one takes another value.
		for {
			if len(d.stack) == 0 {
				i = skipSpace(src, i)
				if i != len(src) {
					return d.unexpected(i, "after top-level value")
				}
				return nil
			}
			i = skipSpace(src, i)
			top := d.stack[len(d.stack)-1]
			obj := d.nodes[top].kind == Object
			if i < len(src) && src[i] == ',' {
				i++
				if obj {
					var err error
					if i, err = d.key(skipSpace(src, i)); err != nil {
						return err
					}
				}
				break
			}
			closer := byte(']')
			if obj {
				closer = '}'
			}
			if i >= len(src) || src[i] != closer {
				if obj {
					return d.unexpected(i, "after object member value")
				}
				return d.unexpected(i, "after array element")
			}
			d.close(i)
			i++
		}
	}
}

// close ends the innermost open container at its closing bracket at i.
func (d *Doc) close(i int) {
	top := d.stack[len(d.stack)-1]
	d.stack = d.stack[:len(d.stack)-1]
	n := &d.nodes[top]
	n.end = uint32(i + 1)
	n.next = uint32(len(d.nodes))
}

// key parses an object member's name at i and the colon after it, and
// returns the offset after the colon.
func (d *Doc) key(i int) (int, error) {
	if i >= len(d.src) || d.src[i] != '"' {
		return 0, d.unexpected(i, "looking for beginning of object key string")
	}
	end, esc, high, err := d.scanString(i)
	if err != nil {
		return 0, err
	}
	d.nodes = append(d.nodes, node{kind: String, start: uint32(i), end: uint32(end), next: uint32(len(d.nodes) + 1), esc: esc, high: high})
	j := skipSpace(d.src, end)
	if j >= len(d.src) || d.src[j] != ':' {
		return 0, d.unexpected(j, "after object key")
	}
	return j + 1, nil
}

func skipSpace(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString checks the string whose opening quote is at i and returns
// the offset after its closing quote, whether it has escapes and whether
// it has bytes >= 0x80.
func (d *Doc) scanString(i int) (end int, esc, high bool, err error) {
	s := d.src
	j := i + 1
	for {
		// The common bytes, in a tight loop.
		for j < len(s) && s[j] >= 0x20 && s[j] < 0x80 && s[j] != '"' && s[j] != '\\' {
			j++
		}
		if j >= len(s) {
			return 0, false, false, d.unexpected(j, "in string literal")
		}
		switch c := s[j]; {
		case c == '"':
			return j + 1, esc, high, nil
		case c == '\\':
			esc = true
			if j+1 >= len(s) {
				return 0, false, false, d.unexpected(j+1, "in string escape code")
			}
			switch s[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				for k := 2; k < 6; k++ {
					if j+k >= len(s) || unhex(s[j+k]) < 0 {
						return 0, false, false, d.unexpected(j+k, "in \\u hexadecimal character escape")
					}
				}
				j += 6
			default:
				return 0, false, false, d.unexpected(j+1, "in string escape code")
			}
		case c < 0x20:
			return 0, false, false, d.unexpected(j, "in string literal")
		default:
			high = true
			j++
		}
	}
}

// scanNumber checks the number starting at i and returns the offset after
// it.
func (d *Doc) scanNumber(i int) (int, error) {
	s := d.src
	j := i
	if s[j] == '-' {
		j++
	}
	if j >= len(s) || s[j] < '0' || s[j] > '9' {
		return 0, d.unexpected(j, "in numeric literal")
	}
	if s[j] == '0' {
		j++
	} else {
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
	}
	if j < len(s) && s[j] == '.' {
		j++
		if j >= len(s) || s[j] < '0' || s[j] > '9' {
			return 0, d.unexpected(j, "after decimal point in numeric literal")
		}
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		j++
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j >= len(s) || s[j] < '0' || s[j] > '9' {
			return 0, d.unexpected(j, "in exponent of numeric literal")
		}
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
	}
	return j, nil
}

func unhex(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}
