package frontend

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"

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
var dryRunSHA = func() string {
	h := sha1.Sum([]byte(dryRunScript))
	return hex.EncodeToString(h[:])
}()

// isNoScript reports whether v is Redis's NOSCRIPT error.
func isNoScript(v resp.Value) bool {
	return (v.Kind == resp.SimpleError || v.Kind == resp.BulkError) && bytes.HasPrefix(v.Str, []byte("NOSCRIPT"))
}

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
// (so that a client on a shared connection moves to its own first).
func (s *session) writeThroughKey(args [][]byte) bool {
	w := s.srv.cfg.Watcher
	if w == nil || s.srv.cfg.WriteThrough == nil || len(args) == 0 {
		return false
	}
	spec := lookup(args[0])
	if spec == nil || !spec.arityOK(args) {
		return false
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
		return s.refuse(fmt.Sprintf("COGS %s refused: rgsync's \"#\" field is not supported on write-through key %s", name, quoteKey(args[t.pos])), false)
	}
	// Wait until the replies to everything before it are on their way:
	// the reply pump then waits for this command's reply on handoff, and
	// reads nothing from the upstream until it has it.
	if err := s.sendLocal(local{admin: true}); err != nil {
		return err
	}
	if err := s.uw.Flush(); err != nil {
		return err
	}
	select {
	case <-s.reached:
	case <-s.replyDone:
		return net.ErrClosed
	}
	key := string(args[t.pos])
	unlock := s.srv.wtLocks.lock(key)
	reply, err := s.writeThroughLocked(args, raw, t, key)
	unlock()
	if err != nil {
		return err
	}
	s.handoff <- reply
	return nil
}

// writeThroughLocked does writeThrough's work and returns the client's
// reply (push messages that arrived meanwhile first).
func (s *session) writeThroughLocked(args [][]byte, raw []byte, t target, key string) ([]byte, error) {
	var pre []byte
	// readReply reads the next reply, keeping push messages for the
	// client.
	readReply := func() (resp.Value, []byte, error) {
		for {
			v, r, err := s.ur.ReadValue()
			if err != nil {
				return v, nil, err
			}
			if v.Kind != resp.Push {
				return v, append([]byte(nil), r...), nil
			}
			pre = append(pre, r...)
		}
	}
	// dryRun sends cmd (EVALSHA of dryRunScript) and reads its reply,
	// sending the script itself if the upstream does not have it.
	dryRun := func(cmd [][]byte) (resp.Value, []byte, error) {
		for {
			if _, err := s.uw.Write(resp.AppendCommand(nil, cmd...)); err != nil {
				return resp.Value{}, nil, err
			}
			if err := s.uw.Flush(); err != nil {
				return resp.Value{}, nil, err
			}
			v, r, err := readReply()
			if err != nil || string(cmd[0]) == "EVAL" || !isNoScript(v) {
				return v, r, err
			}
			cmd[0], cmd[1] = []byte("EVAL"), []byte(dryRunScript)
		}
	}
	tmp := "__cogs_write_through__:" + key
	cmd := make([][]byte, 0, len(args)+5)
	cmd = append(cmd, []byte("EVALSHA"), []byte(dryRunSHA), []byte("2"), args[t.pos], []byte(tmp))
	for i, a := range args {
		if i == t.pos {
			a = []byte(tmp)
		}
		cmd = append(cmd, a)
	}
	v, r, err := dryRun(cmd)
	if err != nil {
		return nil, err
	}
	if v.Kind == resp.SimpleError || v.Kind == resp.BulkError {
		// The command's own error (WRONGTYPE, ...): nothing written.
		return append(pre, r...), nil
	}
	if v.Kind != resp.Array || len(v.Elems) != 2 {
		return nil, errors.New("frontend: write-through: unexpected dry-run reply")
	}
	c := abi.Change{Key: key, Data: t.w.Data}
	switch typ := string(v.Elems[0].Str); {
	case typ == "none":
		c.Op = abi.ChangeDelete
	case typ == "hash" && t.w.Data == abi.DataHash:
		c.Op = abi.ChangeSet
		img := v.Elems[1].Elems
		for i := 0; i+1 < len(img); i += 2 {
			c.Fields = append(c.Fields, abi.Field{Name: string(img[i].Str), Value: string(img[i+1].Str)})
		}
	case typ == "string" && t.w.Data != abi.DataHash, typ == "ReJSON-RL" && t.w.Data == abi.DataJSON:
		c.Op = abi.ChangeSet
		c.Doc = string(v.Elems[1].Str)
	default:
		return append(pre, resp.AppendError(nil, fmt.Sprintf("COGSWRITETHROUGH key %s holds a %s, and recipe %q expects a %s", quoteKey([]byte(key)), typ, t.w.Recipe, t.w.Data))...), nil
	}
	if err := s.srv.cfg.WriteThrough.WriteThrough(s.ctx, t.w.Recipe, c); err != nil {
		return append(pre, resp.AppendError(nil, "COGSWRITETHROUGH "+err.Error())...), nil
	}
	// The target has it: now Redis.
	if _, err := s.uw.Write(raw); err != nil {
		return nil, err
	}
	if err := s.uw.Flush(); err != nil {
		return nil, err
	}
	_, r, err = readReply()
	if err != nil {
		return nil, err
	}
	return append(pre, r...), nil
}
