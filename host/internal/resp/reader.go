package resp

import (
	"bufio"
	"io"
	"slices"
)

// Defaults of Limits.
const (
	DefaultMaxBulk   = 512 << 20 // redis-server's proto-max-bulk-len
	DefaultMaxArgs   = 1 << 20
	DefaultMaxInline = 64 << 10 // redis-server's PROTO_INLINE_MAX_SIZE
	DefaultMaxDepth  = 128
)

// Limits bound what a Reader accepts. A zero or negative field takes its
// default.
type Limits struct {
	// MaxBulk is the longest bulk string (in commands and replies) and the
	// longest reply line, in bytes. Default 512 MiB.
	MaxBulk int
	// MaxArgs is the most arguments a multibulk command may announce.
	// Default 1<<20.
	MaxArgs int
	// MaxInline is the longest inline command line (without its LF) and the
	// longest "*<count>" or "$<length>" line of a command. Default 64 KiB.
	MaxInline int
	// MaxDepth is how deeply reply aggregates may nest (an attribute counts
	// as a level). Default 128.
	MaxDepth int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBulk <= 0 {
		l.MaxBulk = DefaultMaxBulk
	}
	if l.MaxArgs <= 0 {
		l.MaxArgs = DefaultMaxArgs
	}
	if l.MaxInline <= 0 {
		l.MaxInline = DefaultMaxInline
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	return l
}

// Reader reads commands or replies from a bufio.Reader. It is not safe for
// concurrent use, and while it is in use nothing else may read from the
// bufio.Reader.
type Reader struct {
	br  *bufio.Reader
	lim Limits
	err error // sticky

	// buf holds a command or reply that was not wholly buffered in br.
	buf []byte
	// ibuf holds the unquoted arguments of an inline command.
	ibuf []byte
	offs []int // start, end of each argument, in the command or in ibuf
	args [][]byte

	// What the scanner waits for when it stops short of the end: exactly
	// need more bytes if need > 0, else a line ending with delim.
	need  int
	delim byte

	cmd   cmdState
	reply replyState
}

// NewReader returns a Reader of br with the limits lim.
func NewReader(br *bufio.Reader, lim Limits) *Reader {
	return &Reader{br: br, lim: lim.withDefaults()}
}

// Reset makes r read from br, as new, keeping its buffers and limits.
func (r *Reader) Reset(br *bufio.Reader) {
	r.br, r.err = br, nil
}

// fail returns err. If it struck inside a command or reply (started), the
// stream is out of step: err becomes sticky, and an io.EOF becomes
// io.ErrUnexpectedEOF. Between two, nothing is lost: a read timeout, say,
// may be retried.
func (r *Reader) fail(err error, started bool) error {
	if !started {
		return err
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	r.err = err
	return err
}

// keep is the most of each buffer a Reader keeps between calls: one that
// grew larger for a big command or reply is dropped.
const keep = 1 << 20

// emptyBuf returns r.buf emptied, or dropped if it grew too big.
func (r *Reader) emptyBuf() []byte {
	if cap(r.buf) > keep {
		return nil
	}
	return r.buf[:0]
}

// shrink empties s, or drops it if it grew too big.
func shrink[T any](s []T) []T {
	if cap(s) > keep/8 {
		return nil
	}
	return s[:0]
}

// peek waits for at least one byte and returns all that is buffered.
func (r *Reader) peek() ([]byte, error) {
	if r.br.Buffered() == 0 {
		if _, err := r.br.Peek(1); err != nil {
			return nil, err
		}
	}
	p, _ := r.br.Peek(r.br.Buffered())
	return p, nil
}

// more appends to r.buf what the scanner waits for, without reading past
// it. partial is the length of the unfinished unit at the end of r.buf and
// limit the longest line the scanner accepts: more stops early once a line
// is longer, for the scanner to refuse it.
func (r *Reader) more(partial, limit int) error {
	if r.need > 0 {
		return r.readN(r.need)
	}
	for {
		chunk, err := r.br.ReadSlice(r.delim)
		r.buf = append(r.buf, chunk...)
		partial += len(chunk)
		if partial > limit {
			return nil // the scanner refuses it, even at the end of input
		}
		if err != bufio.ErrBufferFull {
			return err
		}
	}
}

// readN appends exactly n bytes to r.buf, growing it with the data that
// arrives rather than at once: a length is a claim, not a fact.
func (r *Reader) readN(n int) error {
	for n > 0 {
		if len(r.buf) == cap(r.buf) {
			r.buf = slices.Grow(r.buf, min(n, max(len(r.buf), 4096)))
		}
		k, err := r.br.Read(r.buf[len(r.buf):min(cap(r.buf), len(r.buf)+n)])
		r.buf = r.buf[:len(r.buf)+k]
		n -= k
		if err != nil {
			return err
		}
	}
	return nil
}

// copyN copies n bytes from br to dst, a buffer at a time, straight out of
// br's buffer.
func (r *Reader) copyN(dst io.Writer, n int) error {
	for n > 0 {
		p, err := r.peek()
		if err != nil {
			return err
		}
		p = p[:min(n, len(p))]
		if _, err := dst.Write(p); err != nil {
			return err
		}
		r.br.Discard(len(p))
		n -= len(p)
	}
	return nil
}

// ReadCommand reads the next command: its arguments and its raw bytes as
// received. Both alias the Reader's buffers and are valid until the next
// call on r; args[i] has no spare capacity, so appending to it copies.
// Empty commands ("*0", "*-1", blank inline lines) are skipped, as
// redis-server skips them. At the end of the stream between two commands
// it returns io.EOF; inside one, io.ErrUnexpectedEOF.
func (r *Reader) ReadCommand() (args [][]byte, raw []byte, err error) {
	for r.err == nil {
		p, err := r.peek()
		if err != nil {
			return nil, nil, r.fail(err, false)
		}
		r.resetCommand(p[0] != '*', true)
		n, err := r.scanCommand(p, 0)
		if err != nil {
			return nil, nil, r.fail(err, true)
		}
		if r.cmd.done {
			r.br.Discard(n)
		} else {
			// All of p belongs to this command: go on in r.buf.
			r.buf = append(r.emptyBuf(), p...)
			r.br.Discard(len(p))
			for !r.cmd.done {
				merr := r.more(len(r.buf)-n, r.lim.MaxInline)
				if n, err = r.scanCommand(r.buf, n); err == nil {
					err = merr // what was read is refused before an EOF
				}
				if err != nil {
					return nil, nil, r.fail(err, true)
				}
			}
			p = r.buf
		}
		if r.cmd.argc > 0 {
			return r.cmdArgs(p), p[:n:n], nil
		}
	}
	return nil, nil, r.err
}

// cmdArgs slices the arguments of the command just scanned out of raw (a
// multibulk command) or ibuf (an inline one).
func (r *Reader) cmdArgs(raw []byte) [][]byte {
	src := raw
	if r.cmd.inline {
		src = r.ibuf
	}
	r.args = shrink(r.args)
	for i := 0; i+1 < len(r.offs); i += 2 {
		s, e := r.offs[i], r.offs[i+1]
		r.args = append(r.args, src[s:e:e])
	}
	return r.args
}

// CopyCommand copies the next command to dst as received and returns its
// number of arguments. It holds no more than one line or one buffer of the
// command at a time: bulk arguments are streamed. Empty
// commands are skipped. It is for passing through a command whose
// arguments are not needed. On an error dst may have received part of the
// command. Wrap dst in a bufio.Writer: a command that is not wholly
// buffered is written in pieces.
func (r *Reader) CopyCommand(dst io.Writer) (int, error) {
	for r.err == nil {
		p, err := r.peek()
		if err != nil {
			return 0, r.fail(err, false)
		}
		r.resetCommand(p[0] != '*', false)
		for {
			n, err := r.scanCommand(p, 0)
			if err == nil {
				err = r.emitCommand(dst, p[:n])
			}
			if err != nil {
				return 0, r.fail(err, true)
			}
			r.br.Discard(n)
			if r.cmd.done {
				break
			}
			if r.cmd.bulk > 0 {
				// Stream the payload; its two trailing bytes are then
				// scanned as those of an empty one.
				if err := r.copyN(dst, r.cmd.bulk); err != nil {
					return 0, r.fail(err, true)
				}
				r.cmd.bulk = 0
			} else {
				n, err := r.gather(false)
				if err == nil {
					err = r.emitCommand(dst, r.buf[:n])
				}
				if err != nil {
					return 0, r.fail(err, true)
				}
				if r.cmd.done {
					break
				}
			}
			if p, err = r.peek(); err != nil {
				return 0, r.fail(err, true)
			}
		}
		if r.cmd.argc > 0 {
			return r.cmd.argc, nil
		}
	}
	return 0, r.err
}

// emitCommand writes b, part of the command being copied, unless the
// command is an empty one (which is all in one unit).
func (r *Reader) emitCommand(dst io.Writer, b []byte) error {
	if len(b) == 0 || r.cmd.done && r.cmd.argc == 0 {
		return nil
	}
	_, err := dst.Write(b)
	return err
}

// gather reads into r.buf the unit the reply (or command) scanner waits
// for at the front of br, which is not wholly buffered, and scans it. It
// returns the length scanned, all of r.buf.
func (r *Reader) gather(reply bool) (int, error) {
	scan, limit := r.scanCommand, r.lim.MaxInline
	if reply {
		scan, limit = r.scanReply, r.lim.MaxBulk+1
	}
	r.buf = r.emptyBuf()
	if _, err := scan(r.buf, 0); err != nil { // sets what to wait for
		return 0, err
	}
	for {
		merr := r.more(len(r.buf), limit)
		n, err := scan(r.buf, 0)
		if err == nil {
			err = merr // what was read is refused before an EOF
		}
		if err != nil || n > 0 {
			return n, err
		}
	}
}

// ReadReply reads the next reply, with the attributes that precede it, and
// returns its raw bytes. They alias the Reader's buffers and are valid
// until the next call on r. A push message (Kind Push) is a reply of its
// own. At the end of the stream between two replies it returns io.EOF;
// inside one, io.ErrUnexpectedEOF.
func (r *Reader) ReadReply() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	p, err := r.peek()
	if err != nil {
		return nil, r.fail(err, false)
	}
	r.reply.reset()
	n, err := r.scanReply(p, 0)
	if err != nil {
		return nil, r.fail(err, true)
	}
	if r.reply.done {
		r.br.Discard(n)
		return p[:n:n], nil
	}
	r.buf = append(r.emptyBuf(), p...)
	r.br.Discard(len(p))
	for !r.reply.done {
		merr := r.more(len(r.buf)-n, r.lim.MaxBulk+1)
		if n, err = r.scanReply(r.buf, n); err == nil {
			err = merr // what was read is refused before an EOF
		}
		if err != nil {
			return nil, r.fail(err, true)
		}
	}
	return r.buf[:n:n], nil
}

// ReadValue reads the next reply like ReadReply and also parses it. The
// byte slices in v alias raw; v's slices of Values are its own.
func (r *Reader) ReadValue() (v Value, raw []byte, err error) {
	raw, err = r.ReadReply()
	if err != nil {
		return Value{}, nil, err
	}
	v, _ = parseValue(raw, 0)
	return v, raw, nil
}

// CopyReply copies the next reply, with the attributes that precede it, to
// dst as received and returns its kind (that of the reply, not of an
// attribute). It holds no more than one line or one buffer of the reply at
// a time: bulk payloads are streamed, so a reply far larger
// than memory passes through; lines (simple strings, errors, numbers) are
// held whole. On an error dst may have received part of the reply. Wrap
// dst in a bufio.Writer: a reply that is not wholly buffered is written in
// pieces.
func (r *Reader) CopyReply(dst io.Writer) (Kind, error) {
	if r.err != nil {
		return 0, r.err
	}
	p, err := r.peek()
	if err != nil {
		return 0, r.fail(err, false)
	}
	r.reply.reset()
	for {
		n, err := r.scanReply(p, 0)
		if err == nil && n > 0 {
			_, err = dst.Write(p[:n])
		}
		if err != nil {
			return 0, r.fail(err, true)
		}
		r.br.Discard(n)
		if r.reply.done {
			return r.reply.kind, nil
		}
		if r.reply.bulk > 0 {
			// Stream the payload; its CRLF is then scanned as that of an
			// empty one.
			if err := r.copyN(dst, r.reply.bulk); err != nil {
				return 0, r.fail(err, true)
			}
			r.reply.bulk = 0
		} else {
			n, err := r.gather(true)
			if err == nil {
				_, err = dst.Write(r.buf[:n])
			}
			if err != nil {
				return 0, r.fail(err, true)
			}
			if r.reply.done {
				return r.reply.kind, nil
			}
		}
		if p, err = r.peek(); err != nil {
			return 0, r.fail(err, true)
		}
	}
}
