package frontend

import (
	"strconv"

	"github.com/cogs-dev/cogs/abi"
)

// Watch is what a Watcher says about a watched key.
type Watch struct {
	Recipe string       // the recipe that watches the key
	Stream string       // the stream its changes are XADDed to
	Data   abi.DataKind // what the key holds: a hash, a JSON document, a string
	// Mode is how the key's changes reach the target: written behind
	// from the stream (the default), or written through (WriteThrough).
	Mode abi.Mode
	// HighWater, if above 0, is the stream length from which writes to the
	// recipe's keys are refused with a "-COGSBACKPRESSURE ..." error, until
	// the applier has trimmed the stream below it. Lengths are polled (see
	// Config.PollInterval), so the stream may overshoot it a little.
	HighWater int64
}

// Watcher says which keys are watched. The host implements it from the
// triggers of the loaded recipes. Match is called for the keys of every
// write command, from many goroutines at once, and must not keep key.
type Watcher interface {
	Match(key []byte) (w Watch, ok bool)
}

// watching reports whether the Watcher watches anything: FLUSHDB,
// FLUSHALL and SWAPDB are refused while it does. A Watcher with a method
// Len() int watches nothing while Len returns 0; any other always
// watches something.
func (s *Server) watching() bool {
	if l, ok := s.cfg.Watcher.(interface{ Len() int }); ok {
		return l.Len() > 0
	}
	return true
}

// StreamGuard is implemented by a Watcher that also names the keys cogs
// owns (the recipes' change streams): every write the front end knows to
// a key it reports is refused, so no client can drop or forge pending
// changes through cogs. Reads (XRANGE, XLEN, XINFO, ...) pass.
type StreamGuard interface {
	Owned(key []byte) (recipe string, ok bool)
}

// policy is what the front end does with a write to a watched key.
type policy uint8

const (
	// capture: rewrite the command into the capture script.
	capture policy = iota + 1
	// refuseWatched: refuse the command if one of its keys is watched.
	refuseWatched
	// refuseAny: refuse the command while the Watcher watches anything: it
	// touches every key (FLUSHDB, FLUSHALL, SWAPDB).
	refuseAny
)

// kinds is a set of abi.DataKind, as bits.
type kinds uint8

const (
	kindHash   kinds = 1 << abi.DataHash
	kindJSON   kinds = 1 << abi.DataJSON
	kindString kinds = 1 << abi.DataString
	kindAny          = kindHash | kindJSON | kindString
)

func (k kinds) has(d abi.DataKind) bool { return d < 8 && k&(1<<d) != 0 }

// cmdSpec describes one command that writes keys.
type cmdSpec struct {
	name  string // lower case
	arity int    // as redis-server's: n exactly, or -n at least n arguments
	// first, last, step: the positions of the keys, as in COMMAND INFO
	// (last -1 is the last argument, -2 the one before). first 0: keys
	// finds them.
	first, last, step int
	keys              func(args [][]byte, dst []int) []int
	// modeOf, if set, picks the capture mode from the arguments.
	modeOf func(args [][]byte) string
	pol    policy
	mode   string // capture: the script's mode
	kinds  kinds  // capture: the data kinds it may capture
}

// commands is the command table: every command that can change a key,
// with what is done when it touches a watched key. A command not in it
// does not change keys (reads, EXPIRE and friends: expiry is not a
// delete) and passes through.
var commands = map[string]*cmdSpec{}

func init() {
	add := func(pol policy, mode string, k kinds, arity, first, last, step int, names ...string) {
		for _, n := range names {
			commands[n] = &cmdSpec{name: n, arity: arity, first: first, last: last, step: step, pol: pol, mode: mode, kinds: k}
		}
	}
	// Captured.
	add(capture, "always", kindHash, -4, 1, 1, 1, "hset", "hmset")
	add(capture, "always", kindHash, 4, 1, 1, 1, "hincrby", "hincrbyfloat")
	add(capture, "nonzero", kindHash, 4, 1, 1, 1, "hsetnx")
	add(capture, "nonzero", kindHash, -3, 1, 1, 1, "hdel")
	add(capture, "always", kindString|kindJSON, -3, 1, 1, 1, "set")
	commands["set"].modeOf = setMode
	add(capture, "nonzero", kindString|kindJSON, 3, 1, 1, 1, "setnx")
	add(capture, "always", kindString|kindJSON, 4, 1, 1, 1, "setex", "psetex", "setrange")
	add(capture, "always", kindString|kindJSON, 3, 1, 1, 1, "getset", "append", "incrby", "decrby", "incrbyfloat")
	add(capture, "always", kindString|kindJSON, 2, 1, 1, 1, "incr", "decr")
	add(capture, "always", kindString|kindJSON, 4, 1, 1, 1, "setbit")
	add(capture, "always", kindString|kindJSON, -2, 1, 1, 1, "bitfield")
	add(capture, "existed", kindString|kindJSON, 2, 1, 1, 1, "getdel")
	add(capture, "existed", kindAny, -2, 1, -1, 1, "del", "unlink")

	// Refused when a key they change is watched.
	r := func(arity, first, last, step int, names ...string) {
		add(refuseWatched, "", 0, arity, first, last, step, names...)
	}
	r(3, 1, 2, 1, "rename", "renamenx", "rpoplpush", "smove", "brpoplpush")
	r(-3, 2, 2, 1, "copy") // only the destination changes
	r(3, 1, 1, 1, "move")
	r(-4, 1, 1, 1, "restore", "restore-asking")
	r(-3, 1, 1, 1, "lpush", "rpush", "lpushx", "rpushx", "sadd", "srem", "pfadd", "xdel",
		"hsetex", "hgetdel") // the last two are Redis 8 hash commands
	r(5, 1, 1, 1, "linsert")
	r(4, 1, 1, 1, "lset", "lrem", "ltrim", "zincrby", "zremrangebyscore", "zremrangebyrank", "zremrangebylex")
	r(-2, 1, 1, 1, "lpop", "rpop", "spop", "zpopmin", "zpopmax", "xtrim")
	// RedisJSON, on keys watched as JSON documents; the post-image is the
	// whole document (JSON.GET). Arity -2 (a key), as the module checks
	// its own: a stricter one here would let a valid command pass
	// uncaptured. JSON.SET is captured unless it replies nil (NX or XX
	// stopped it); JSON.DEL and JSON.FORGET when the key existed (their
	// reply does not tell: JSON.DEL of a whole document replies 0 on
	// RedisJSON 1.x, although it deleted it); every other command whenever
	// it succeeds.
	add(capture, "notnil", kindJSON, -2, 1, 1, 1, "json.set")
	add(capture, "existed", kindJSON, -2, 1, 1, 1, "json.del", "json.forget")
	add(capture, "always", kindJSON, -2, 1, 1, 1, "json.merge", "json.numincrby", "json.nummultby",
		"json.numpowby", "json.strappend", "json.arrappend", "json.arrinsert", "json.arrpop",
		"json.arrtrim", "json.clear", "json.toggle")
	add(capture, "always", kindJSON, -4, 1, -1, 3, "json.mset")
	r(-4, 1, 1, 1, "zadd", "geoadd")
	r(-3, 1, 1, 1, "zrem", "xadd", "xsetid")
	r(-3, 1, -2, 1, "blpop", "brpop", "bzpopmin", "bzpopmax")
	r(5, 1, 2, 1, "lmove")
	r(6, 1, 2, 1, "blmove")
	r(-2, 1, -1, 1, "sinterstore", "sunionstore", "sdiffstore", "pfmerge")
	r(-3, 1, -1, 2, "mset", "msetnx")
	r(-4, 2, -1, 1, "bitop")
	r(-5, 1, 2, 1, "zrangestore", "geosearchstore")
	commands["sort"] = &cmdSpec{name: "sort", arity: -2, keys: sortKeys, pol: refuseWatched}
	commands["georadius"] = &cmdSpec{name: "georadius", arity: -6, keys: storeKeys(6), pol: refuseWatched}
	commands["georadiusbymember"] = &cmdSpec{name: "georadiusbymember", arity: -5, keys: storeKeys(5), pol: refuseWatched}
	commands["migrate"] = &cmdSpec{name: "migrate", arity: -6, keys: migrateKeys, pol: refuseWatched}
	for _, n := range []string{"zunionstore", "zinterstore", "zdiffstore"} {
		commands[n] = &cmdSpec{name: n, arity: -4, keys: numkeysKeys(2, 1), pol: refuseWatched}
	}
	for _, n := range []string{"eval", "evalsha", "fcall"} {
		commands[n] = &cmdSpec{name: n, arity: -3, keys: numkeysKeys(2, 0), pol: refuseWatched}
	}
	commands["lmpop"] = &cmdSpec{name: "lmpop", arity: -4, keys: numkeysKeys(1, 0), pol: refuseWatched}
	commands["zmpop"] = &cmdSpec{name: "zmpop", arity: -4, keys: numkeysKeys(1, 0), pol: refuseWatched}
	commands["blmpop"] = &cmdSpec{name: "blmpop", arity: -5, keys: numkeysKeys(2, 0), pol: refuseWatched}
	commands["bzmpop"] = &cmdSpec{name: "bzmpop", arity: -5, keys: numkeysKeys(2, 0), pol: refuseWatched}

	// Refused whenever anything is watched.
	add(refuseAny, "", 0, -1, 0, 0, 0, "flushdb", "flushall", "swapdb")
}

// keyPositions appends to dst the positions of the keys in args, which
// passed the arity check.
func (c *cmdSpec) keyPositions(args [][]byte, dst []int) []int {
	if c.keys != nil {
		return c.keys(args, dst)
	}
	last := c.last
	if last < 0 {
		last += len(args)
	}
	for i := c.first; i > 0 && i <= last && i < len(args); i += c.step {
		dst = append(dst, i)
	}
	return dst
}

// arityOK reports whether args has as many arguments as the command takes.
func (c *cmdSpec) arityOK(args [][]byte) bool {
	if c.arity >= 0 {
		return len(args) == c.arity
	}
	return len(args) >= -c.arity
}

// setMode picks the capture mode of SET from its options.
func setMode(args [][]byte) string {
	var nx, xx, get bool
	for _, a := range args[3:] {
		switch {
		case equalFold(a, "nx"):
			nx = true
		case equalFold(a, "xx"):
			xx = true
		case equalFold(a, "get"):
			get = true
		}
	}
	switch {
	case nx && get:
		return "nil"
	case nx || xx:
		return "notnil"
	}
	return "always"
}

// captureMode returns the capture mode of the command args.
func (c *cmdSpec) captureMode(args [][]byte) string {
	if c.modeOf != nil {
		return c.modeOf(args)
	}
	return c.mode
}

// numkeysKeys finds the keys of a command with a numkeys argument at
// position at, followed by that many keys, and with extra keys at
// positions 1..extra before it (the destination of ZUNIONSTORE).
func numkeysKeys(at, extra int) func([][]byte, []int) []int {
	return func(args [][]byte, dst []int) []int {
		for i := 1; i <= extra && i < len(args); i++ {
			dst = append(dst, i)
		}
		if at >= len(args) {
			return dst
		}
		n, err := strconv.Atoi(string(args[at]))
		if err != nil || n < 0 {
			return dst
		}
		for i := at + 1; i <= at+n && i < len(args); i++ {
			dst = append(dst, i)
		}
		return dst
	}
}

// sortKeys finds what SORT changes: the key after STORE.
func sortKeys(args [][]byte, dst []int) []int {
	for i := 2; i+1 < len(args); i++ {
		if equalFold(args[i], "store") {
			dst = append(dst, i+1)
		}
	}
	return dst
}

// storeKeys finds what GEORADIUS[BYMEMBER] changes: the keys after STORE
// and STOREDIST, from position from on.
func storeKeys(from int) func([][]byte, []int) []int {
	return func(args [][]byte, dst []int) []int {
		for i := from; i+1 < len(args); i++ {
			if equalFold(args[i], "store") || equalFold(args[i], "storedist") {
				dst = append(dst, i+1)
			}
		}
		return dst
	}
}

// migrateKeys finds the keys MIGRATE moves away: the one at position 3,
// or those after KEYS.
func migrateKeys(args [][]byte, dst []int) []int {
	if len(args[3]) > 0 {
		dst = append(dst, 3)
	}
	for i := 6; i < len(args); i++ {
		if equalFold(args[i], "keys") {
			for j := i + 1; j < len(args); j++ {
				dst = append(dst, j)
			}
			break
		}
	}
	return dst
}

// equalFold reports whether b is s (lower case) in any case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// lookup returns the spec of the command named name, in any case, or nil.
func lookup(name []byte) *cmdSpec {
	var buf [24]byte
	if len(name) > len(buf) {
		return nil
	}
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return commands[string(buf[:len(name)])]
}
