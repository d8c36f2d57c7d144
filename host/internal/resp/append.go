package resp

import (
	"math"
	"strconv"
)

// AppendCommand appends a command: an array of bulk strings.
func AppendCommand(b []byte, args ...[]byte) []byte {
	b = AppendArrayHeader(b, len(args))
	for _, a := range args {
		b = AppendBulk(b, a)
	}
	return b
}

// AppendArrayHeader appends "*<n>": n elements follow. A negative n is the
// null array of RESP2, "*-1"; see AppendNullArray.
func AppendArrayHeader(b []byte, n int) []byte {
	return appendHeader(b, '*', int64(max(n, -1)))
}

// AppendMapHeader appends the header of a map of n pairs: "%<n>", or in
// RESP2 "*<2n>". n keys and n values follow, alternating.
func AppendMapHeader(b []byte, n, proto int) []byte {
	if proto < 3 {
		return appendHeader(b, '*', 2*int64(n))
	}
	return appendHeader(b, '%', int64(n))
}

// AppendSetHeader appends "~<n>", or in RESP2 "*<n>".
func AppendSetHeader(b []byte, n, proto int) []byte {
	if proto < 3 {
		return appendHeader(b, '*', int64(n))
	}
	return appendHeader(b, '~', int64(n))
}

// AppendPushHeader appends "><n>", or in RESP2 "*<n>" (how redis-server
// sends pub/sub messages to a RESP2 client).
func AppendPushHeader(b []byte, n, proto int) []byte {
	if proto < 3 {
		return appendHeader(b, '*', int64(n))
	}
	return appendHeader(b, '>', int64(n))
}

// AppendAttributeHeader appends "|<n>" (RESP3 only): n key and value pairs
// follow, then the reply they annotate.
func AppendAttributeHeader(b []byte, n int) []byte {
	return appendHeader(b, '|', int64(n))
}

// AppendBulk appends p as a bulk string.
func AppendBulk(b, p []byte) []byte {
	b = appendHeader(b, '$', int64(len(p)))
	b = append(b, p...)
	return append(b, '\r', '\n')
}

// AppendBulkString appends s as a bulk string.
func AppendBulkString(b []byte, s string) []byte {
	b = appendHeader(b, '$', int64(len(s)))
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// AppendBulkError appends s as a bulk error, "!<len>" (RESP3 only).
func AppendBulkError(b []byte, s string) []byte {
	b = appendHeader(b, '!', int64(len(s)))
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// AppendVerbatim appends a verbatim string "=<len>\r\n<format>:<s>", or in
// RESP2 the bulk string s. format is three bytes, such as "txt" or "mkd".
func AppendVerbatim(b []byte, format, s string, proto int) []byte {
	if proto < 3 {
		return AppendBulkString(b, s)
	}
	b = appendHeader(b, '=', int64(len(format)+1+len(s)))
	b = append(b, format...)
	b = append(b, ':')
	b = append(b, s...)
	return append(b, '\r', '\n')
}

// AppendSimple appends s as a simple string, "+<s>". CR and LF in s become
// spaces: a simple string cannot hold them.
func AppendSimple(b []byte, s string) []byte {
	return appendLine(b, '+', s)
}

// AppendError appends s as a simple error, "-<s>". s starts with the error
// code, as in "ERR unknown command" (a ProtocolError's text does). CR and
// LF in s become spaces, as redis-server makes them.
func AppendError(b []byte, s string) []byte {
	return appendLine(b, '-', s)
}

// AppendInt appends the integer n, ":<n>".
func AppendInt(b []byte, n int64) []byte {
	return appendHeader(b, ':', n)
}

// AppendNull appends a null: "_" in RESP3, the null bulk string "$-1" in
// RESP2.
func AppendNull(b []byte, proto int) []byte {
	if proto < 3 {
		return append(b, "$-1\r\n"...)
	}
	return append(b, "_\r\n"...)
}

// AppendNullArray appends a null where an array is expected: "_" in RESP3,
// the null array "*-1" in RESP2.
func AppendNullArray(b []byte, proto int) []byte {
	if proto < 3 {
		return append(b, "*-1\r\n"...)
	}
	return append(b, "_\r\n"...)
}

// AppendBool appends "#t" or "#f", or in RESP2 the integer 1 or 0.
func AppendBool(b []byte, v bool, proto int) []byte {
	switch {
	case proto < 3 && v:
		return append(b, ":1\r\n"...)
	case proto < 3:
		return append(b, ":0\r\n"...)
	case v:
		return append(b, "#t\r\n"...)
	}
	return append(b, "#f\r\n"...)
}

// AppendDouble appends f as ",<f>", or in RESP2 as a bulk string: the
// shortest decimal that reads back as f, "inf", "-inf" or "nan".
func AppendDouble(b []byte, f float64, proto int) []byte {
	var tmp [32]byte
	d := appendFloat(tmp[:0], f)
	if proto < 3 {
		return AppendBulk(b, d)
	}
	b = append(b, ',')
	b = append(b, d...)
	return append(b, '\r', '\n')
}

// AppendBigNumber appends the decimal integer s as "(<s>", or in RESP2 as a
// bulk string.
func AppendBigNumber(b []byte, s string, proto int) []byte {
	if proto < 3 {
		return AppendBulkString(b, s)
	}
	return appendLine(b, '(', s)
}

func appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(b, "inf"...)
	case math.IsInf(f, -1):
		return append(b, "-inf"...)
	case math.IsNaN(f):
		return append(b, "nan"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

func appendHeader(b []byte, t byte, n int64) []byte {
	b = append(b, t)
	b = strconv.AppendInt(b, n, 10)
	return append(b, '\r', '\n')
}

func appendLine(b []byte, t byte, s string) []byte {
	b = append(b, t)
	start := len(b)
	b = append(b, s...)
	for i := start; i < len(b); i++ {
		if b[i] == '\r' || b[i] == '\n' {
			b[i] = ' '
		}
	}
	return append(b, '\r', '\n')
}
