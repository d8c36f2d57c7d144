package frontend

import (
	"bufio"
)

// streamMin is the shortest bulk argument for which a command is streamed
// to the upstream (CopyCommand) rather than gathered whole (ReadCommand).
const streamMin = 64 << 10

// peekBig looks at the multibulk command at the front of p, the bytes
// buffered so far, and reports whether it announces a bulk argument of
// streamMin bytes or more after its first two arguments (its name and,
// for the commands that are streamed, its key), which are then complete in
// p. It reads only the canonical form ("*<n>\r\n" then "$<len>\r\n<bytes>\r\n"
// each); anything else is left to ReadCommand, and so is a command that is
// all in p.
func peekBig(p []byte) (name, key []byte, big bool) {
	if len(p) == 0 || p[0] != '*' {
		return nil, nil, false
	}
	n, i, ok := peekNumber(p, 1)
	if !ok || n < 1 {
		return nil, nil, false
	}
	for a := 0; a < n; a++ {
		if i >= len(p) || p[i] != '$' {
			return nil, nil, false
		}
		l, j, ok := peekNumber(p, i+1)
		if !ok {
			return nil, nil, false
		}
		if l >= streamMin {
			if a < 2 {
				return nil, nil, false
			}
			return name, key, true
		}
		if j+l+2 > len(p) || p[j+l] != '\r' || p[j+l+1] != '\n' {
			return nil, nil, false
		}
		switch a {
		case 0:
			name = p[j : j+l]
		case 1:
			key = p[j : j+l]
		}
		i = j + l + 2
	}
	return nil, nil, false
}

// peekNumber reads the decimal number at p[i:] up to its CRLF and returns
// it with the position after the LF.
func peekNumber(p []byte, i int) (int, int, bool) {
	n, start := 0, i
	for ; i < len(p) && p[i] >= '0' && p[i] <= '9'; i++ {
		if i-start >= 18 {
			return 0, 0, false
		}
		n = n*10 + int(p[i]-'0')
	}
	if i == start || i+1 >= len(p) || p[i] != '\r' || p[i+1] != '\n' {
		return 0, 0, false
	}
	return n, i + 2, true
}

// streamable reports whether the command named name with the key key can
// pass through without being looked at further: it is not one the command
// pump follows, and it is not a write that may touch a watched key.
func (s *session) streamable(name, key []byte) bool {
	for _, n := range []string{"multi", "exec", "discard", "reset", "script"} {
		if equalFold(name, n) {
			return false
		}
	}
	if s.srv.adminOn && (s.srv.adminCommand(name) || equalFold(name, "auth") || equalFold(name, "hello")) {
		return false // answered by cogs, up to MaxBulk per argument
	}
	w := s.srv.cfg.Watcher
	if w == nil {
		return true
	}
	spec := lookup(name)
	if spec == nil {
		return true
	}
	if spec.pol == refuseAny || spec.keys != nil || spec.first != 1 || spec.last != 1 {
		return false
	}
	_, watched := w.Match(key)
	return !watched
}

// countingWriter counts what is written through it.
type countingWriter struct {
	w *bufio.Writer
	n int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += n
	return n, err
}
