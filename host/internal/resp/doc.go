// Package resp reads and writes RESP, the Redis protocol, for the cogs
// front end: commands from clients (multibulk and inline), replies from an
// upstream Redis (every RESP2 and RESP3 type), and the raw bytes of each, so
// that what is not changed is forwarded byte for byte.
//
// # Reading
//
// A Reader wraps a bufio.Reader. ReadCommand returns the arguments of the
// next command and its raw bytes; ReadReply the raw bytes of the next reply
// and ReadValue also its parsed Value. A command or reply that is already
// wholly buffered (the common case, and every command of a pipeline but
// perhaps the last) is parsed in place, in the bufio.Reader's buffer,
// without a copy; one that is not is gathered in the Reader's own buffer,
// read exactly as far as its end, never beyond. CopyCommand and CopyReply
// copy the next command or reply to an io.Writer instead, streaming bulk
// payloads in bounded pieces: a 100 MB value passes through in the memory
// of one buffer.
//
// # Lifetimes
//
// Every slice a Reader returns (arguments, raw bytes, the byte slices in a
// Value) aliases its buffers or the bufio.Reader's and is valid only until
// the next call on the Reader. Copy what must outlive it. Nothing else may
// read from the bufio.Reader while a Reader uses it.
//
// # Errors
//
// A breach of the protocol is a ProtocolError whose text is the error reply
// to send: for commands, redis-server 7's own text. An error inside a
// command or reply is sticky: the stream is out of step, and the Reader
// returns the same error from then on. An error between two (io.EOF at the
// end of the stream, a read timeout) is not: the next call reads on.
// io.ErrUnexpectedEOF means the stream ended inside a command or reply.
//
// # What is refused
//
// Commands are framed exactly as redis-server frames them, so that the
// Reader and the upstream always agree on where a command ends: the byte
// after the CR of a "*" or "$" line and the two bytes after a bulk payload
// are skipped unchecked, as redis-server skips them. Limits (see Limits)
// replace redis-server's: a count above MaxArgs, a bulk longer than MaxBulk,
// a line longer than MaxInline. Where redis-server would wait forever for
// the end of a line holding a NUL byte (its search for CR or LF stops at the
// NUL) and then refuse it once 64 KiB have piled up, the Reader refuses it
// at once with the same error. An inline line longer than MaxInline is
// refused even if it arrived in one piece (redis-server then accepts it).
//
// Replies are checked strictly (lines and payloads end with CRLF; numbers,
// booleans and nulls are well formed), nested at most MaxDepth deep.
// Streamed RESP3 strings and aggregates ("$?", "*?" with ";" chunks and a
// "." end) are refused with ErrStreamed: redis-server never sends them.
//
// # Writing
//
// The Append functions append one RESP element to a byte slice and return
// the extended slice, as strconv.Append* do, without fmt or reflection. An
// aggregate is a header followed by its elements, appended by further
// calls. Functions for a RESP3 type whose value redis-server also sends to
// RESP2 clients take the protocol version (2 or 3; below 3 is RESP2) and
// write what redis-server writes to such a client: "$-1" for a null, ":1"
// for true, a bulk string for a double, a flat array for a map.
// AppendBulkError and AppendAttributeHeader write RESP3 only.
package resp
