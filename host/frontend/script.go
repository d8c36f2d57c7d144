package frontend

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"

	"github.com/cogs-dev/cogs/host/frontend/internal/capturescript"
)

// captureScript runs one command that changes watched keys and records the
// change of each in its recipe's stream, in one atomic unit.
//
// It is called as
//
//	EVALSHA <sha> <2m> <key1> <stream1> ... <keym> <streamm>
//	        <m> <db> <mode> <kind1> ... <kindm> <command> <arg>...
//
// KEYS pairs each watched key the command touches with the stream it is
// recorded in; kind is the name of the watch's abi.DataKind ("hash",
// "json", "string"); db is the database the streams live in ("" for the
// one the client has selected); mode says when a key counts as changed:
//
//	always   whenever the command succeeds
//	nonzero  when the command succeeds and does not reply the integer 0
//	         (HDEL, HSETNX, SETNX: 0 means nothing changed)
//	existed  for the keys that existed before the command (DEL, UNLINK,
//	         GETDEL: a key that was not there was not deleted)
//	notnil   when the command succeeds and does not reply nil (SET with NX
//	         or XX: nil means it did not set; SET XX GET: nil means there
//	         was nothing to replace)
//	nil      when the command succeeds and replies nil (SET NX GET: the
//	         old value, when there is one, means it did not set)
//
// The command runs with redis.pcall. If it fails (WRONGTYPE, OOM, a syntax
// error) its error is returned unchanged and nothing is recorded.
// Otherwise the script reads the post-image of each changed key, switches
// to db (which, since Redis 7, does not change the client's database),
// XADDs one entry per key, and returns the command's own reply, which
// Redis converts back to what the command would have replied (integers,
// bulk strings, status replies and nulls survive the round trip through
// Lua in RESP2 and RESP3 alike).
//
// A mode that starts with "#" is rgsync's "#" field on HSET or HMSET of
// one watched hash key (m is 1): the rest of the mode is the field's value
// (an operation character, "=", "+", "-" or "~", and an optional uuid), and
// the command comes without its "#" field and value, and may have no
// fields left. The script refuses a key of another type with Redis's
// WRONGTYPE error, runs the command if it has fields (its reply is the
// script's; without fields, 0 for HSET and OK for HMSET), deletes the key
// for "-" and "~", and records the change for "=" and "~" only, with the
// field "ack" ({<key>}<uuid>) when there is a uuid. For "+" and "-" with a
// uuid, which record nothing, it writes the acknowledgement itself, as
// rgsync does: XADD {<key>}<uuid> * status done, with a TTL of one hour,
// in the key's database.
//
// The entries it writes are described in the package documentation
// ("Stream entries").
const captureScript = capturescript.Script

// captureSHA is the SHA1 of captureScript, as SCRIPT LOAD returns it.
var captureSHA = scriptSHA(captureScript)

// scriptSHA returns the SHA1 of a script, as SCRIPT LOAD returns it and
// EVALSHA takes it.
func scriptSHA(script string) string {
	h := sha1.Sum([]byte(script))
	return hex.EncodeToString(h[:])
}

// isNoScript reports whether the raw reply is Redis's NOSCRIPT error: the
// script an EVALSHA named is not loaded.
func isNoScript(raw []byte) bool { return bytes.HasPrefix(raw, []byte("-NOSCRIPT")) }

// maxCaptureArgs bounds the arguments of a captured command: the script
// unpacks them into one Lua call, and Lua's C stack holds 8000 values.
const maxCaptureArgs = 7000
