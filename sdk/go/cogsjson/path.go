package cogsjson

import (
	"errors"
	"strconv"
)

// Path is a parsed path into a document: a subset of JSONPath that names
// one value.
//
//	$              the whole document
//	$.name         member "name" of an object ($.a.b: member b of member a)
//	$["any name"]  a member by a quoted name (JSON string syntax, or 'single quotes')
//	$[2]           element 2 of an array (from 0); $[-1] is the last element
//
// The leading "$" may be left out: "a.b[0]" is "$.a.b[0]". A name after a
// dot is any run of bytes other than '.', '[' and ']'. Wildcards, slices,
// filters and recursive descent are not supported.
type Path struct {
	text  string
	steps []step
}

type step struct {
	key     string
	index   int
	isIndex bool
}

// String returns the path as it was written.
func (p *Path) String() string { return p.text }

// IsRoot reports whether p names the whole document.
func (p *Path) IsRoot() bool { return len(p.steps) == 0 }

// Depth returns the number of steps of p.
func (p *Path) Depth() int { return len(p.steps) }

// ParsePath parses a path.
func ParsePath(s string) (Path, error) {
	p := Path{text: s}
	i := 0
	fail := func(at int, msg string) (Path, error) {
		return Path{}, errors.New("path " + strconv.Quote(s) + ": " + msg + " at offset " + strconv.Itoa(at))
	}
	if s == "" {
		return fail(0, "empty path")
	}
	if s[0] == '$' {
		i = 1
	} else if s[0] != '[' {
		q, err := ParsePath("$." + s) // "a.b" is "$.a.b"
		if err != nil {
			return Path{}, err
		}
		q.text = s
		return q, nil
	}
	for i < len(s) {
		switch s[i] {
		case '.':
			j := i + 1
			for j < len(s) && s[j] != '.' && s[j] != '[' && s[j] != ']' {
				j++
			}
			if j == i+1 {
				return fail(j, "a member name must follow '.'")
			}
			if s[i+1:j] == "*" {
				return fail(i+1, "wildcards are not supported")
			}
			p.steps = append(p.steps, step{key: s[i+1 : j]})
			i = j
		case '[':
			j := i + 1
			if j >= len(s) {
				return fail(j, "unterminated '['")
			}
			switch c := s[j]; {
			case c == '"':
				var d Doc
				end, _, _, err := (&Doc{src: s}).scanString(j)
				if err != nil {
					return fail(j, "bad quoted name")
				}
				if d.Parse(s[j:end]) != nil {
					return fail(j, "bad quoted name")
				}
				p.steps = append(p.steps, step{key: d.Str(0)})
				j = end
			case c == '\'':
				var name []byte
				k := j + 1
				for ; k < len(s) && s[k] != '\''; k++ {
					if s[k] == '\\' && k+1 < len(s) && (s[k+1] == '\'' || s[k+1] == '\\') {
						k++
					}
					name = append(name, s[k])
				}
				if k >= len(s) {
					return fail(j, "unterminated quoted name")
				}
				p.steps = append(p.steps, step{key: string(name)})
				j = k + 1
			case c == '-' || c >= '0' && c <= '9':
				k := j + 1
				for k < len(s) && s[k] >= '0' && s[k] <= '9' {
					k++
				}
				n, err := strconv.Atoi(s[j:k])
				if err != nil {
					return fail(j, "bad array index")
				}
				p.steps = append(p.steps, step{index: n, isIndex: true})
				j = k
			case c == '*':
				return fail(j, "wildcards are not supported")
			default:
				return fail(j, "want a number or a quoted name after '['")
			}
			if j >= len(s) || s[j] != ']' {
				return fail(j, "want ']'")
			}
			i = j + 1
		default:
			return fail(i, "want '.' or '['")
		}
	}
	return p, nil
}
