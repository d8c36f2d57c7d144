package resp

import "bytes"

// cmdState is the progress through the command being read. The scanner
// stops only between units (a header line, a bulk with its two trailing
// bytes, an inline line), so it resumes where it stopped when more data
// arrives.
type cmdState struct {
	inline bool
	keep   bool // record the arguments' offsets (ReadCommand)
	done   bool
	argc   int // arguments announced; -1 until the "*<count>" line is read
	seen   int // arguments read
	bulk   int // length of the argument being read; -1 until its "$" line
}

func (r *Reader) resetCommand(inline, keep bool) {
	r.cmd = cmdState{inline: inline, keep: keep, argc: -1, bulk: -1}
	r.offs = shrink(r.offs)
}

// scanCommand scans the command in p from pos, the start of a unit,
// and returns the position after the last whole unit. If r.cmd.done is
// not set, the rest of p is an unfinished unit and r.need and r.delim say
// what it waits for.
//
// The framing is redis-server's (processMultibulkBuffer), so that the
// Reader and an upstream Redis always agree on where a command ends: a
// header line ends at its first CR, and the byte after that CR, like the
// two bytes after a bulk, is skipped unchecked.
func (r *Reader) scanCommand(p []byte, pos int) (int, error) {
	st := &r.cmd
	if st.inline {
		return r.scanInline(p, pos)
	}
	if st.argc < 0 {
		line, next, err := r.headerLine(p, pos, ErrTooBigMbulkCount)
		if err != nil || next < 0 {
			return pos, err
		}
		n, ok := string2ll(line[1:]) // line[0] is '*'
		if !ok || n > int64(r.lim.MaxArgs) {
			return pos, ErrInvalidMultibulkLength
		}
		pos = next
		if n <= 0 {
			st.argc, st.done = 0, true
			return pos, nil
		}
		st.argc = int(n)
	}
	for st.seen < st.argc {
		if st.bulk < 0 {
			line, next, err := r.headerLine(p, pos, ErrTooBigBulkCount)
			if err != nil || next < 0 {
				return pos, err
			}
			if len(line) == 0 {
				return pos, errExpectedDollar('\r')
			}
			if line[0] != '$' {
				return pos, errExpectedDollar(line[0])
			}
			n, ok := string2ll(line[1:])
			if !ok || n < 0 || n > int64(r.lim.MaxBulk) {
				return pos, ErrInvalidBulkLength
			}
			pos, st.bulk = next, int(n)
		}
		if len(p)-pos < st.bulk+2 {
			r.need = st.bulk + 2 - (len(p) - pos)
			return pos, nil
		}
		if st.keep {
			r.offs = append(r.offs, pos, pos+st.bulk)
		}
		pos += st.bulk + 2
		st.bulk = -1
		st.seen++
	}
	st.done = true
	return pos, nil
}

// headerLine finds the "*<count>" or "$<length>" line at p[pos:]: the
// bytes up to the first CR, which must be followed by one more byte. next
// is the position after that byte, or -1 if the line is not all there.
//
// redis-server looks for the CR with strchr, which stops at a NUL byte: a
// line with a NUL never ends, and redis-server refuses it once 64 KiB have
// piled up. The Reader refuses it at once, with the same error.
func (r *Reader) headerLine(p []byte, pos int, tooBig error) (line []byte, next int, err error) {
	q := p[pos:]
	// Lines are short ("$3"): a plain loop beats IndexByte.
	end := len(q)
	for k, c := range q {
		if c == '\r' || c == 0 {
			end = k
			break
		}
	}
	switch {
	case end > r.lim.MaxInline || end < len(q) && q[end] == 0:
		return nil, -1, tooBig
	case end == len(q):
		r.need, r.delim = 0, '\r'
		return nil, -1, nil
	case end+1 == len(q):
		r.need = 1
		return nil, -1, nil
	}
	return q[:end], pos + end + 2, nil
}

// scanInline scans an inline command: a line up to LF (a CR before the LF
// is dropped), split like redis-server's sdssplitargs. The arguments go to
// r.ibuf.
func (r *Reader) scanInline(p []byte, pos int) (int, error) {
	q := p[pos:]
	i := bytes.IndexByte(q, '\n')
	end := i
	if i < 0 {
		end = len(q)
	}
	// A NUL ends redis-server's search for the LF, as in headerLine.
	if bytes.IndexByte(q[:end], 0) >= 0 || end > r.lim.MaxInline {
		return pos, ErrTooBigInline
	}
	if i < 0 {
		r.need, r.delim = 0, '\n'
		return pos, nil
	}
	line := q[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	var ok bool
	r.ibuf, r.offs, ok = splitArgs(line, r.ibuf[:0], r.offs[:0])
	if !ok {
		return pos, ErrUnbalancedQuotes
	}
	r.cmd.argc, r.cmd.done = len(r.offs)/2, true
	return pos + i + 1, nil
}

// splitArgs splits an inline command line the way redis-server's
// sdssplitargs does, appending the arguments to buf and their start and
// end offsets in buf to offs. ok is false for unbalanced quotes.
//
// Outside quotes an argument ends at a space, tab, CR or LF; blanks (those
// and VT, FF) between arguments are skipped. In "double quotes" \xHH is a
// byte, \n \r \t \b \a are what they are in C and a backslash before any
// other byte is that byte. In 'single quotes' only \' is an escape. A
// quote opens anywhere in an argument, and a closing quote must be
// followed by a blank or the end of the line. The line holds no NUL (the
// scanner refuses it), so the end of line is where sdssplitargs sees '\0'.
func splitArgs(line, buf []byte, offs []int) ([]byte, []int, bool) {
	at := func(i int) byte { // C string semantics: 0 past the end
		if i < len(line) {
			return line[i]
		}
		return 0
	}
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) {
			return buf, offs, true
		}
		start := len(buf)
		inq, insq := false, false
		for done := false; !done; {
			c := at(i)
			switch {
			case inq:
				switch {
				case c == '\\' && at(i+1) == 'x' && isHex(at(i+2)) && isHex(at(i+3)):
					buf = append(buf, unhex(at(i+2))<<4|unhex(at(i+3)))
					i += 3
				case c == '\\' && at(i+1) != 0:
					i++
					switch c = line[i]; c {
					case 'n':
						c = '\n'
					case 'r':
						c = '\r'
					case 't':
						c = '\t'
					case 'b':
						c = '\b'
					case 'a':
						c = '\a'
					}
					buf = append(buf, c)
				case c == '"':
					if n := at(i + 1); n != 0 && !isSpace(n) {
						return buf, offs, false
					}
					done = true
				case c == 0:
					return buf, offs, false
				default:
					buf = append(buf, c)
				}
			case insq:
				switch {
				case c == '\\' && at(i+1) == '\'':
					i++
					buf = append(buf, '\'')
				case c == '\'':
					if n := at(i + 1); n != 0 && !isSpace(n) {
						return buf, offs, false
					}
					done = true
				case c == 0:
					return buf, offs, false
				default:
					buf = append(buf, c)
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					buf = append(buf, c)
				}
			}
			if i < len(line) {
				i++
			}
		}
		offs = append(offs, start, len(buf))
	}
}

// isSpace is C's isspace in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// string2ll parses a decimal int64 as redis-server's string2ll does: no
// sign but '-', no leading zero, no "-0", at most 20 bytes.
func string2ll(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) >= 21 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	if b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (1<<64-1)/10 {
			return 0, false
		}
		v *= 10
		if v > 1<<64-1-uint64(c-'0') {
			return 0, false
		}
		v += uint64(c - '0')
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}
