package cogsjson

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// Source returns the parsed document's text.
func (d *Doc) Source() string { return d.src }

// Len returns the number of nodes (0 when no document is parsed).
func (d *Doc) Len() int { return len(d.nodes) }

func (d *Doc) ok(n int) bool { return uint(n) < uint(len(d.nodes)) }

// Kind returns the kind of node n, Invalid when there is no such node.
func (d *Doc) Kind(n int) Kind {
	if !d.ok(n) {
		return Invalid
	}
	return d.nodes[n].kind
}

// Raw returns the JSON text of node n as it is in the document ("" when
// there is no such node).
func (d *Doc) Raw(n int) string {
	if !d.ok(n) {
		return ""
	}
	return d.src[d.nodes[n].start:d.nodes[n].end]
}

// Offset returns the byte offset of node n in the document (-1 when there
// is no such node).
func (d *Doc) Offset(n int) int {
	if !d.ok(n) {
		return -1
	}
	return int(d.nodes[n].start)
}

// Next returns the node after n and everything inside it.
func (d *Doc) Next(n int) int {
	if !d.ok(n) {
		return len(d.nodes)
	}
	return int(d.nodes[n].next)
}

// First returns the first element of array n or the first key of object
// n, or -1 when n is empty or not a container.
func (d *Doc) First(n int) int {
	if k := d.Kind(n); k != Array && k != Object || n+1 >= int(d.nodes[n].next) {
		return -1
	}
	return n + 1
}

// After returns the element of array n after element i, or the key of
// object n after key i, or -1 when i is the last.
func (d *Doc) After(n, i int) int {
	if !d.ok(n) || !d.ok(i) {
		return -1
	}
	if d.nodes[n].kind == Object {
		i++
	}
	j := d.Next(i)
	if j >= int(d.nodes[n].next) {
		return -1
	}
	return j
}

// Count returns the number of elements of array n or members of object n
// (0 for anything else).
func (d *Doc) Count(n int) int {
	c := 0
	for i := d.First(n); i >= 0; i = d.After(n, i) {
		c++
	}
	return c
}

// Member returns the value of the member of object n named name (the last
// one when the name is there twice), or -1.
func (d *Doc) Member(n int, name string) int {
	if d.Kind(n) != Object {
		return -1
	}
	found := -1
	end := int(d.nodes[n].next)
	for k := n + 1; k < end; k = int(d.nodes[k+1].next) {
		if d.keyIs(k, name) {
			found = k + 1
		}
	}
	return found
}

// keyIs reports whether string node k unquotes to name.
func (d *Doc) keyIs(k int, name string) bool {
	nd := &d.nodes[k]
	if !nd.esc && !nd.high {
		return d.src[nd.start+1:nd.end-1] == name
	}
	return d.Str(k) == name
}

// Index returns element i of array n (counted from the end when
// negative: -1 is the last), or -1.
func (d *Doc) Index(n int, i int) int {
	if d.Kind(n) != Array {
		return -1
	}
	if i < 0 {
		i += d.Count(n)
		if i < 0 {
			return -1
		}
	}
	e := d.First(n)
	for ; e >= 0 && i > 0; i-- {
		e = d.After(n, e)
	}
	return e
}

// Str returns the value of string node n, unescaped, or "" when n is not
// a string. A string without escapes is a substring of the document.
func (d *Doc) Str(n int) string {
	if d.Kind(n) != String {
		return ""
	}
	nd := &d.nodes[n]
	inner := d.src[nd.start+1 : nd.end-1]
	if !nd.esc && (!nd.high || utf8.ValidString(inner)) {
		return inner
	}
	return unquote(inner)
}

// Bool returns the value of bool node n and whether n is a bool.
func (d *Doc) Bool(n int) (bool, bool) {
	if d.Kind(n) != Bool {
		return false, false
	}
	return d.src[d.nodes[n].start] == 't', true
}

// Int returns number node n as an int64 and whether it is one: an
// integer in range, written with or without a fraction or an exponent
// (2, 2.0 and 2e0 all are 2; 2.5 is not an integer).
func (d *Doc) Int(n int) (int64, bool) {
	if d.Kind(n) != Number {
		return 0, false
	}
	return ParseInt(d.Raw(n))
}

// ParseInt parses s (a JSON number, or any text strconv.ParseFloat takes)
// as an int64 the way Doc.Int does.
func ParseInt(s string) (int64, bool) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// Float returns number node n as a float64 and whether it is a number
// that fits one (1e400 does not).
func (d *Doc) Float(n int) (float64, bool) {
	if d.Kind(n) != Number {
		return 0, false
	}
	f, err := strconv.ParseFloat(d.Raw(n), 64)
	return f, err == nil
}

// Lookup returns the node path p leads to in the document, or -1.
func (d *Doc) Lookup(p *Path) int {
	if len(d.nodes) == 0 {
		return -1
	}
	n := 0
	for i := range p.steps {
		s := &p.steps[i]
		if s.isIndex {
			n = d.Index(n, s.index)
		} else {
			n = d.Member(n, s.key)
		}
		if n < 0 {
			return -1
		}
	}
	return n
}
