package frontend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/internal/resp"
)

// WriteThrough applies one change of a write-through key to its target
// synchronously (the host's recipe registry implements it). A non-nil
// error leaves Redis unchanged and is sent to the client as
// "-COGSWRITETHROUGH <error>".
type WriteThrough interface {
	WriteThrough(ctx context.Context, recipe string, c abi.Change) error
}

// dryRunScript runs a command on a copy of its key and returns the copy's
// post-image, changing nothing else: KEYS[1] is the key, KEYS[2] the
// temporary copy, ARGV the command with KEYS[2] in place of the key. It
// replies with the command's error, or with {type, image}: the copy's
// type ("none" when the command deleted it) and its HGETALL, GET or
// JSON.GET. A RedisJSON document is copied with JSON.GET and JSON.SET, as
// RedisJSON 1.x cannot COPY.
const dryRunScript = `
redis.call('DEL', KEYS[2])
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'ReJSON-RL' then
	redis.call('JSON.SET', KEYS[2], '.', redis.call('JSON.GET', KEYS[1]))
elseif t ~= 'none' then
	redis.call('COPY', KEYS[1], KEYS[2])
end
local r = redis.pcall(unpack(ARGV))
if type(r) == 'table' and r.err then
	redis.call('DEL', KEYS[2])
	return r
end
t = redis.call('TYPE', KEYS[2])['ok']
local img = false
if t == 'hash' then img = redis.call('HGETALL', KEYS[2])
elseif t == 'string' then img = redis.call('GET', KEYS[2])
elseif t == 'ReJSON-RL' then img = redis.call('JSON.GET', KEYS[2]) end
redis.call('DEL', KEYS[2])
return {t, img}`

// dryRunSHA is the SHA1 of dryRunScript.
var dryRunSHA = scriptSHA(dryRunScript)

// keyLocks serialises the writes to each write-through key across the
// connections of a Server, so that Redis and the target see them in the
// same order.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	mu sync.Mutex
	n  int
}

func (k *keyLocks) lock(key string) func() {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{}
		k.locks[key] = l
	}
	l.n++
	k.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		k.mu.Lock()
		if l.n--; l.n == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}

// writeThroughKey reports whether args is a write to a write-through key
// (so that a client on a shared connection moves to its own first). A
// Watcher with a method WriteThroughs() int watches no key written
// through while it returns 0, which spares this check for every command.
func (s *session) writeThroughKey(args [][]byte) bool {
	w := s.srv.cfg.Watcher
	if w == nil || s.srv.cfg.WriteThrough == nil || len(args) == 0 {
		return false
	}
	if n, ok := w.(interface{ WriteThroughs() int }); ok && n.WriteThroughs() == 0 {
		return false
	}
	spec := lookup(args[0])
	if spec == nil || !spec.arityOK(args) {
		return false
	}
	if _, ok := s.rgsyncWriteThrough(spec, args); ok {
		return true
	}
	s.wtPos = spec.keyPositions(args, s.wtPos[:0])
	for _, p := range s.wtPos {
		if wt, ok := w.Match(args[p]); ok && wt.Mode == abi.ModeWriteThrough {
			return true
		}
	}
	return false
}

// writeThrough performs a write to the write-through key args[t.pos]: once
// the replies to everything before it are sent, and holding the key's
// lock, it computes the key's post-image on a copy (dryRunScript), has the
// target apply it (Config.WriteThrough), and only then sends the command
// itself upstream; its reply, or the target's refusal, is the client's.
func (s *session) writeThrough(spec *cmdSpec, args [][]byte, raw []byte, t target) error {
	name := upper(spec.name)
	switch {
	case s.inMulti:
		return s.refuse(fmt.Sprintf("COGS %s refused: key %s is written through to its target by recipe %q, which cannot happen inside MULTI", name, quoteKey(args[t.pos]), t.w.Recipe), false)
	case len(s.keyPos) != 1:
		return s.refuse(fmt.Sprintf("COGS %s refused: key %s is written through to its target by recipe %q; a write to it must name no other key", name, quoteKey(args[t.pos]), t.w.Recipe), false)
	case s.srv.cfg.WriteThrough == nil:
		return s.refuse(fmt.Sprintf("COGS %s refused: key %s is write-through, and this host applies no write-through changes", name, quoteKey(args[t.pos])), false)
	case spec.kinds == kindHash && hashOpField(spec, args) > 0:
		return s.refuse(fmt.Sprintf("COGS %s refused: rgsync's \"#\" field is not supported on write-through key %s (write to __{%s} for rgsync's write-through)", name, quoteKey(args[t.pos]), args[t.pos]), false)
	}
	key := string(args[t.pos])
	dry := dryRunCommand(args, t.pos, key)
	return s.exclusive(key, dry, func(u *upstreamCall, v resp.Value, r []byte) ([]byte, error) {
		c, refusal, err := u.postImage(dry, v, r, t.w, key)
		if err != nil || refusal != nil {
			return refusal, err
		}
		if err := s.srv.cfg.WriteThrough.WriteThrough(s.ctx, t.w.Recipe, c); err != nil {
			return resp.AppendError(nil, "COGSWRITETHROUGH "+err.Error()), nil
		}
		// The target has it: now Redis.
		_, r, err = u.do(raw)
		return r, err
	})
}

// barrierHold bounds how long a write-through write holds its key's lock
// while the replies to the client's earlier commands are still being
// sent: a client that does not read its replies must not hold up the
// other writers of the key for longer.
const barrierHold = 10 * time.Millisecond

// exclusive runs work once the replies to everything the client sent
// before are on their way, holding the write-through lock of key, and
// sends the client the reply work returns, after the push messages that
// arrived meanwhile. work has the upstream connection to itself. first,
// when not nil, is a command that changes nothing but must run under the
// lock (the dry run): it is sent right behind the barrier, saving a round
// trip, and work gets its reply.
func (s *session) exclusive(key string, first [][]byte, work func(u *upstreamCall, v resp.Value, r []byte) ([]byte, error)) error {
	unlock := s.srv.wtLocks.lock(key)
	locked := true
	defer func() {
		if locked {
			unlock()
		}
	}()
	// The reply pump then waits for this command's reply on handoff, and
	// reads nothing from the upstream until it has it.
	if err := s.sendLocal(local{admin: true}); err != nil {
		return err
	}
	var firstRaw []byte
	if first != nil {
		firstRaw = resp.AppendCommand(nil, first...)
		if _, err := s.uw.Write(firstRaw); err != nil {
			return err
		}
	}
	if err := s.uw.Flush(); err != nil {
		return err
	}
	u := &upstreamCall{s: s}
	timer := time.NewTimer(barrierHold)
	select {
	case <-s.reached:
		timer.Stop()
	case <-timer.C:
		// The earlier replies are slow to go: wait for them without the
		// lock, and send first again once it is held, as its reply may
		// predate another connection's write.
		unlock()
		locked = false
		select {
		case <-s.reached:
		case <-s.replyDone:
			return net.ErrClosed
		}
		if first != nil {
			if _, _, err := u.read(); err != nil {
				return err
			}
		}
		unlock = s.srv.wtLocks.lock(key)
		locked = true
		if first != nil {
			if _, err := s.uw.Write(firstRaw); err != nil {
				return err
			}
			if err := s.uw.Flush(); err != nil {
				return err
			}
		}
	case <-s.replyDone:
		timer.Stop()
		return net.ErrClosed
	}
	var v resp.Value
	var r []byte
	if first != nil {
		var err error
		if v, r, err = u.read(); err != nil {
			return err
		}
	}
	reply, err := work(u, v, r)
	unlock()
	locked = false
	if err != nil {
		return err
	}
	s.handoff <- append(u.pushes, reply...)
	return nil
}

// upstreamCall sends commands on the session's upstream connection and
// reads their replies, while the reply pump waits (see exclusive).
type upstreamCall struct {
	s      *session
	pushes []byte // push messages read meanwhile, for the client
}

// read reads the next reply that is not a push message, and returns it
// with a copy of its bytes.
func (u *upstreamCall) read() (resp.Value, []byte, error) {
	for {
		v, r, err := u.s.ur.ReadValue()
		if err != nil {
			return v, nil, err
		}
		if v.Kind != resp.Push {
			return v, append([]byte(nil), r...), nil
		}
		u.pushes = append(u.pushes, r...)
	}
}

// do sends the encoded command raw and reads its reply.
func (u *upstreamCall) do(raw []byte) (resp.Value, []byte, error) {
	if _, err := u.s.uw.Write(raw); err != nil {
		return resp.Value{}, nil, err
	}
	if err := u.s.uw.Flush(); err != nil {
		return resp.Value{}, nil, err
	}
	return u.read()
}

// evalSHA returns the command EVALSHA sha, with keys and args.
func evalSHA(sha string, keys [][]byte, args ...[]byte) [][]byte {
	cmd := make([][]byte, 0, 3+len(keys)+len(args))
	cmd = append(cmd, []byte("EVALSHA"), []byte(sha), strconv.AppendInt(nil, int64(len(keys)), 10))
	return append(append(cmd, keys...), args...)
}

// evalAgain completes the EVALSHA cmd of script, whose reply was v, r:
// when the upstream did not have the script, it sends EVAL and returns its
// reply instead.
func (u *upstreamCall) evalAgain(script string, cmd [][]byte, v resp.Value, r []byte) (resp.Value, []byte, error) {
	if !isNoScript(r) {
		return v, r, nil
	}
	cmd = append([][]byte{[]byte("EVAL"), []byte(script)}, cmd[2:]...)
	return u.do(resp.AppendCommand(nil, cmd...))
}

// eval runs the script whose SHA1 is sha with keys and args: EVALSHA, and
// EVAL if the upstream does not have the script.
func (u *upstreamCall) eval(script, sha string, keys [][]byte, args ...[]byte) (resp.Value, []byte, error) {
	cmd := evalSHA(sha, keys, args...)
	v, r, err := u.do(resp.AppendCommand(nil, cmd...))
	if err != nil {
		return v, r, err
	}
	return u.evalAgain(script, cmd, v, r)
}

// dryRunCommand returns the EVALSHA of dryRunScript that runs the command
// args on a copy of its key args[pos], key.
func dryRunCommand(args [][]byte, pos int, key string) [][]byte {
	tmp := []byte("__cogs_write_through__:" + key)
	cmd := make([][]byte, len(args))
	copy(cmd, args)
	cmd[pos] = tmp
	return evalSHA(dryRunSHA, [][]byte{args[pos], tmp}, cmd...)
}

// postImage takes the reply v, r to the dry run dry (dryRunCommand) and
// returns the change it would make to key, watched by w; or the client's
// reply when Redis refuses the command (WRONGTYPE) or the key holds what w
// does not expect.
func (u *upstreamCall) postImage(dry [][]byte, v resp.Value, r []byte, w Watch, key string) (c abi.Change, refusal []byte, err error) {
	if v, r, err = u.evalAgain(dryRunScript, dry, v, r); err != nil {
		return c, nil, err
	}
	if v.Kind == resp.SimpleError || v.Kind == resp.BulkError {
		// The command's own error (WRONGTYPE, ...): nothing written.
		return c, r, nil
	}
	if v.Kind != resp.Array || len(v.Elems) != 2 {
		return c, nil, errors.New("frontend: write-through: unexpected dry-run reply")
	}
	c = abi.Change{Key: key, Data: w.Data}
	switch typ := string(v.Elems[0].Str); {
	case typ == "none":
		c.Op = abi.ChangeDelete
	case typ == "hash" && w.Data == abi.DataHash:
		c.Op = abi.ChangeSet
		img := v.Elems[1].Elems
		for i := 0; i+1 < len(img); i += 2 {
			c.Fields = append(c.Fields, abi.Field{Name: string(img[i].Str), Value: string(img[i+1].Str)})
		}
	case typ == "string" && w.Data != abi.DataHash, typ == "ReJSON-RL" && w.Data == abi.DataJSON:
		c.Op = abi.ChangeSet
		c.Doc = string(v.Elems[1].Str)
	default:
		return c, resp.AppendError(nil, fmt.Sprintf("COGSWRITETHROUGH key %s holds a %s, and recipe %q expects a %s", quoteKey([]byte(key)), typ, w.Recipe, w.Data)), nil
	}
	return c, nil, nil
}

// rgsyncKey returns the key inside rgsync's write-through temporary key
// "__{<key>}", or nil when key is not one.
func rgsyncKey(key []byte) []byte {
	if len(key) > 4 && string(key[:3]) == "__{" && key[len(key)-1] == '}' {
		return key[3 : len(key)-1]
	}
	return nil
}

// rgsyncWriteThrough reports whether args is an HSET or HMSET of rgsync's
// temporary key __{<key>} for a key a recipe writes through, and returns
// its watch.
func (s *session) rgsyncWriteThrough(spec *cmdSpec, args [][]byte) (Watch, bool) {
	if (spec.name != "hset" && spec.name != "hmset") || s.srv.cfg.WriteThrough == nil {
		return Watch{}, false
	}
	real := rgsyncKey(args[1])
	if real == nil {
		return Watch{}, false
	}
	w, ok := s.srv.cfg.Watcher.Match(real)
	return w, ok && w.Mode == abi.ModeWriteThrough && w.Data == abi.DataHash
}

// rgsyncScript finishes an rgsync write-through: KEYS[1] is the key, KEYS[2]
// (optional) the acknowledgement stream, ARGV[1] the operation, ARGV[2]
// "done" or "failed", ARGV[3] the error, ARGV[4:] the command (HSET or
// HMSET of the key, possibly none). It refuses an acknowledgement key that
// is not a stream before it writes anything. When done, it deletes the key
// for "-" and "~", or runs the command; then it XADDs the outcome to the
// acknowledgement stream (status done, or status failed and error) with a
// TTL of one hour, as rgsync does. It returns {status, reply}: the
// outcome, and the command's reply or error.
const rgsyncScript = `
if KEYS[2] then
	local t = redis.call('TYPE', KEYS[2])['ok']
	if t ~= 'none' and t ~= 'stream' then
		return redis.error_reply('WRONGTYPE acknowledgement stream ' .. KEYS[2] .. ' holds a ' .. t)
	end
end
local r = 0
local status, msg = ARGV[2], ARGV[3]
if status == 'done' then
	if ARGV[1] == '-' or ARGV[1] == '~' then
		redis.call('DEL', KEYS[1])
	elseif #ARGV > 3 then
		r = redis.pcall(unpack(ARGV, 4))
		if type(r) == 'table' and r.err then status, msg = 'failed', r.err end
	end
end
if KEYS[2] then
	if status == 'done' then
		redis.call('XADD', KEYS[2], '*', 'status', 'done')
	else
		redis.call('XADD', KEYS[2], '*', 'status', 'failed', 'error', msg)
	end
	redis.call('EXPIRE', KEYS[2], 3600)
end
return {status, r}`

var rgsyncSHA = scriptSHA(rgsyncScript)

// writeRGSyncThrough performs an HSET or HMSET of rgsync's temporary key
// __{<key>} for a write-through key, as rgsync's write-through does: the
// "#" field's operation ("=" when there is none) decides. For "=" the
// key's post-image (its fields with the command's) goes to the target, for
// "~" a delete; if the target took it, the fields are written to the key
// (or it is deleted); "+" writes and "-" deletes without the target. The
// temporary key itself is never written. With a uuid the outcome goes to
// the acknowledgement stream {<key>}<uuid> (status done, or status failed
// and error), and the reply is what HSET of the new temporary key would
// have replied (every field counted, "#" too) or OK, whatever the outcome,
// as rgsync's; without one, a failure is the reply.
func (s *session) writeRGSyncThrough(spec *cmdSpec, args [][]byte, raw []byte, w Watch) error {
	name := upper(spec.name)
	real := rgsyncKey(args[1])
	switch {
	case s.inMulti:
		return s.refuse(fmt.Sprintf("COGS %s refused: key %s is written through to its target by recipe %q, which cannot happen inside MULTI", name, quoteKey(real), w.Recipe), false)
	case len(args)%2 != 0:
		// Fields without values: Redis's own error, nothing written.
		_, err := s.uw.Write(raw)
		return err
	}
	op, uuid := byte('='), ""
	if at := hashOpField(spec, args); at > 0 {
		v := args[at]
		if len(v) == 0 || (v[0] != '=' && v[0] != '+' && v[0] != '-' && v[0] != '~') {
			return s.refuse(fmt.Sprintf("COGS %s refused: field \"#\" of key %s is rgsync's operation, and %s is not one: it takes =, +, - or ~, and an optional uuid",
				name, quoteKey(args[1]), quoteKey(v)), false)
		}
		op, uuid = v[0], string(v[1:])
	}
	// The reply of HSET to a new key: the number of distinct fields.
	var ok []byte
	if spec.name == "hmset" {
		ok = []byte("+OK\r\n")
	} else {
		fields := map[string]struct{}{}
		for i := 2; i < len(args); i += 2 {
			fields[string(args[i])] = struct{}{}
		}
		ok = resp.AppendInt(nil, int64(len(fields)))
	}
	cmd := [][]byte{args[0], real}
	for i := 2; i+1 < len(args); i += 2 {
		if !isOpField(args[i]) {
			cmd = append(cmd, args[i], args[i+1])
		}
	}
	key := string(real)
	keys := [][]byte{real}
	if uuid != "" {
		keys = append(keys, []byte("{"+key+"}"+uuid))
	}
	var dry [][]byte
	if op == '=' {
		// The key as it is, with the command's fields.
		if len(cmd) > 2 {
			dry = dryRunCommand(cmd, 1, key)
		} else {
			dry = dryRunCommand([][]byte{[]byte("EXISTS"), real}, 1, key)
		}
	}
	return s.exclusive(key, dry, func(u *upstreamCall, v resp.Value, r []byte) ([]byte, error) {
		var failure []byte // the reply to a client without a uuid
		var reason string  // the acknowledgement's error
		if uuid != "" {
			// An acknowledgement key that cannot take the outcome
			// fails the write before the target sees it.
			v, r, err := u.do(resp.AppendCommand(nil, []byte("TYPE"), keys[1]))
			if err != nil {
				return nil, err
			}
			if t := string(v.Str); v.Kind == resp.SimpleError || (t != "none" && t != "stream") {
				if v.Kind == resp.SimpleError {
					return r, nil
				}
				return resp.AppendError(nil, fmt.Sprintf("COGSWRITETHROUGH acknowledgement stream %s holds a %s", quoteKey(keys[1]), t)), nil
			}
		}
		if op == '=' || op == '~' {
			c := abi.Change{Key: key, Op: abi.ChangeDelete, Data: abi.DataHash}
			if op == '=' {
				var err error
				if c, failure, err = u.postImage(dry, v, r, w, key); err != nil {
					return nil, err
				}
				if failure != nil {
					reason = errorText(failure)
				}
			}
			if failure == nil {
				if err := s.srv.cfg.WriteThrough.WriteThrough(s.ctx, w.Recipe, c); err != nil {
					reason = err.Error()
					failure = resp.AppendError(nil, "COGSWRITETHROUGH "+reason)
				}
			}
		}
		status := "done"
		if failure != nil {
			status = "failed"
		}
		argv := [][]byte{{op}, []byte(status), []byte(reason)}
		if len(cmd) > 2 {
			argv = append(argv, cmd...)
		}
		v, r, err := u.eval(rgsyncScript, rgsyncSHA, keys, argv...)
		switch {
		case err != nil:
			return nil, err
		case v.Kind == resp.SimpleError || v.Kind == resp.BulkError:
			return r, nil // the script failed (OOM): no acknowledgement
		case v.Kind != resp.Array || len(v.Elems) != 2:
			return nil, errors.New("frontend: rgsync write-through: unexpected script reply")
		case string(v.Elems[0].Str) == "done" || uuid != "":
			// With a uuid the acknowledgement tells the outcome.
			return ok, nil
		case failure != nil:
			return failure, nil
		}
		// Redis refused the command itself (WRONGTYPE for "+").
		return resp.AppendError(nil, string(v.Elems[1].Str)), nil
	})
}

// errorText is the text of the encoded error reply r.
func errorText(r []byte) string {
	return strings.TrimRight(strings.TrimPrefix(string(r), "-"), "\r\n")
}
