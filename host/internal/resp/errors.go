package resp

import "strings"

// ProtocolError is a breach of RESP by the peer. Its text is an error reply
// ready to send: for a command it is, byte for byte, what redis-server 7
// replies before it closes the connection (networking.c); a front end sends
// "-" + text + "\r\n" (AppendError) and closes. After a ProtocolError the
// stream is out of step and the Reader returns the same error forever.
//
// Match one with errors.Is against the constants below, or any of them with
// errors.As into a ProtocolError.
type ProtocolError string

func (e ProtocolError) Error() string { return string(e) }

// Is makes the families with a variable part (ErrExpectedDollar,
// ErrUnknownType, ErrInvalidValue) match every member.
func (e ProtocolError) Is(target error) bool {
	t, ok := target.(ProtocolError)
	if !ok {
		return false
	}
	switch t {
	case ErrExpectedDollar, ErrUnknownType, ErrInvalidValue:
		return strings.HasPrefix(string(e), string(t))
	}
	return e == t
}

// Errors in commands: the texts of redis-server 7.
const (
	// ErrInvalidMultibulkLength: the count of "*<count>" is not a number or
	// is above Limits.MaxArgs.
	ErrInvalidMultibulkLength ProtocolError = "ERR Protocol error: invalid multibulk length"
	// ErrInvalidBulkLength: the length of "$<length>" is not a number, is
	// negative or is above Limits.MaxBulk.
	ErrInvalidBulkLength ProtocolError = "ERR Protocol error: invalid bulk length"
	// ErrExpectedDollar: an argument of a multibulk command does not start
	// with '$'. The actual error names the byte found instead, as in
	// "ERR Protocol error: expected '$', got 'x'" (CR and LF are shown as a
	// space, as redis-server does).
	ErrExpectedDollar ProtocolError = "ERR Protocol error: expected '$', got"
	// ErrTooBigMbulkCount: the "*<count>" line is longer than
	// Limits.MaxInline, or holds a NUL byte.
	ErrTooBigMbulkCount ProtocolError = "ERR Protocol error: too big mbulk count string"
	// ErrTooBigBulkCount: a "$<length>" line is longer than
	// Limits.MaxInline, or holds a NUL byte.
	ErrTooBigBulkCount ProtocolError = "ERR Protocol error: too big bulk count string"
	// ErrTooBigInline: an inline command line is longer than
	// Limits.MaxInline, or holds a NUL byte.
	ErrTooBigInline ProtocolError = "ERR Protocol error: too big inline request"
	// ErrUnbalancedQuotes: an inline command has an unterminated quote, or
	// a closing quote followed by something other than a space.
	ErrUnbalancedQuotes ProtocolError = "ERR Protocol error: unbalanced quotes in request"
)

// Errors in replies. Lengths use ErrInvalidBulkLength and
// ErrInvalidMultibulkLength as commands do.
const (
	// ErrUnknownType: a reply starts with a byte that is no RESP2 or RESP3
	// type. The actual error names the byte: "... unknown reply type 'x'".
	ErrUnknownType ProtocolError = "ERR Protocol error: unknown reply type"
	// ErrInvalidValue: the line of an integer, double, big number, boolean
	// or null does not hold one. The actual error names the type byte:
	// "... invalid value for type ':'".
	ErrInvalidValue ProtocolError = "ERR Protocol error: invalid value"
	// ErrExpectedCRLF: a reply line ends with a bare LF, or a bulk payload
	// is not followed by CRLF.
	ErrExpectedCRLF ProtocolError = "ERR Protocol error: expected CRLF"
	// ErrTooBigLine: a reply line is longer than Limits.MaxBulk.
	ErrTooBigLine ProtocolError = "ERR Protocol error: too big reply line"
	// ErrTooDeep: aggregates are nested deeper than Limits.MaxDepth.
	ErrTooDeep ProtocolError = "ERR Protocol error: reply nested too deep"
	// ErrStreamed: a streamed RESP3 string or aggregate ("$?", "*?", ...,
	// with ';' chunks and a '.' end). redis-server never sends one.
	ErrStreamed ProtocolError = "ERR Protocol error: streamed RESP3 types are not supported"
)

// errWithByte is a family member: prefix + " 'c'".
func errWithByte(prefix ProtocolError, c byte) error {
	b := make([]byte, 0, len(prefix)+4)
	b = append(b, prefix...)
	b = append(b, ' ', '\'', c, '\'')
	return ProtocolError(b)
}

// errExpectedDollar is redis-server's addReplyErrorFormat("Protocol error:
// expected '$', got '%c'"), which maps CR and LF to spaces.
func errExpectedDollar(c byte) error {
	if c == '\r' || c == '\n' {
		c = ' '
	}
	return errWithByte(ErrExpectedDollar, c)
}
