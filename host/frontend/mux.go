package frontend

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cogs-dev/cogs/host/internal/resp"
)

// Multiplexing (Config.SharedConns > 0).
//
// A client starts on a shared upstream connection, one of SharedConns the
// server keeps: its commands are appended to the connection's write buffer
// together with those of the other clients on it, and written at once when
// the connection is quiet, or else by a writer goroutine, in one write with
// whatever has piled up; a reader goroutine reads the replies and hands
// each to the client whose command it answers (a queue records whose
// command each is, in the order they were appended), and writes them to
// the clients once it has read all there was. Each client also has a
// writer goroutine, for the replies of a client that does not take them
// at once (see outBuf). The package documentation ("Shared upstream
// connections") says what a client can tell.
//
// Only stateless commands are multiplexed (see muxable; HELLO without
// options moves the client between the RESP2 and RESP3 shared
// connections): the first command that is not (MULTI, WATCH, SELECT, a
// blocking command, pub/sub, AUTH, CLIENT, an admin command, a command
// with an argument of
// streamMin bytes or more, ...) makes the client switch, for good, to a
// dedicated upstream connection: the command pump waits until every reply
// to its multiplexed commands has been sent, opens the connection, and
// goes on as in the dedicated design.

// muxConn is one shared upstream connection.
type muxConn struct {
	srv  *Server
	conn net.Conn
	br   *bufio.Reader
	ur   *resp.Reader

	mu      sync.Mutex
	wbuf    []byte     // commands appended, not yet written
	spare   []byte     // the other write buffer
	writing bool       // a client is writing wbuf's earlier contents
	queue   []muxEntry // whose command each reply answers, oldest first
	head    int        // queue[head:] are waiting
	dead    bool
	kick    chan struct{} // wakes the writer
	script  atomic.Bool   // the capture script is loaded
}

// muxEntry says what to do with one reply: hand it to s, or, with local
// set, discard it and hand s what local says instead.
type muxEntry struct {
	s     *session
	local *local
}

// muxPool is the server's shared connections: SharedConns speaking RESP2
// and, once a client asks for RESP3, as many speaking RESP3.
type muxPool struct {
	mu    sync.Mutex
	conns [2][]*muxConn // RESP2, RESP3
	next  [2]int
}

func newMuxPool(n int) *muxPool {
	return &muxPool{conns: [2][]*muxConn{make([]*muxConn, n), make([]*muxConn, n)}}
}

// muxConn returns a shared connection of protocol proto (2 or 3) for a
// client (round robin), dialling it if it is not open or has died.
func (s *Server) muxConn(proto int) (*muxConn, error) {
	p := s.mux
	pi := proto - 2
	p.mu.Lock()
	i := p.next[pi] % len(p.conns[pi])
	p.next[pi]++
	mc := p.conns[pi][i]
	if mc != nil {
		mc.mu.Lock()
		dead := mc.dead
		mc.mu.Unlock()
		if !dead {
			p.mu.Unlock()
			return mc, nil
		}
	}
	p.mu.Unlock()
	c, err := s.dial(s.ctx)
	if err != nil {
		return nil, err
	}
	if s.ctx.Err() != nil {
		c.Close()
		return nil, errMuxClosed
	}
	br := bufio.NewReaderSize(c, bufSize)
	ur := resp.NewReader(br, resp.Limits{MaxBulk: 1 << 40, MaxDepth: 1 << 10})
	h, err := handshakeWith(c, ur, &s.cfg, false)
	if err == nil {
		// Named, so that CLIENT LIST tells the shared connections.
		var b []byte
		n := 1
		if proto == 3 {
			b = resp.AppendCommand(b, []byte("HELLO"), []byte("3"))
			n++
		}
		b = resp.AppendCommand(b, []byte("CLIENT"), []byte("SETNAME"), []byte(sharedName))
		err = exchange(c, ur, b, n, s.cfg.DialTimeout)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	mc = &muxConn{srv: s, conn: c, br: br, ur: ur, kick: make(chan struct{}, 1)}
	mc.script.Store(h.scriptOK)
	p.mu.Lock()
	if old := p.conns[pi][i]; old != nil && old != mc {
		old.mu.Lock()
		alive := !old.dead
		old.mu.Unlock()
		if alive { // another client replaced it meanwhile
			p.mu.Unlock()
			c.Close()
			return old, nil
		}
	}
	p.conns[pi][i] = mc
	p.mu.Unlock()
	s.wg.Add(2)
	go func() { defer s.wg.Done(); mc.writer() }()
	go func() { defer s.wg.Done(); mc.reader() }()
	return mc, nil
}

// closeMux closes the shared connections (at Close).
func (s *Server) closeMux() {
	if s.mux == nil {
		return
	}
	s.mux.mu.Lock()
	defer s.mux.mu.Unlock()
	for _, conns := range s.mux.conns {
		for _, mc := range conns {
			if mc != nil {
				mc.fail()
			}
		}
	}
}

// commit appends a client's batch of commands and their entries. When
// no other command is waiting for its reply, the connection is quiet:
// it writes them at once. Otherwise it wakes the writer (unless it is
// awake), which writes them with what other clients append meanwhile.
func (mc *muxConn) commit(b []byte, entries []muxEntry) bool {
	mc.mu.Lock()
	if mc.dead {
		mc.mu.Unlock()
		return false
	}
	quiet := mc.head == len(mc.queue) && !mc.writing
	mc.wbuf = append(mc.wbuf, b...)
	mc.queue = append(mc.queue, entries...)
	if quiet {
		w := mc.wbuf
		mc.wbuf = mc.spare[:0]
		mc.writing = true
		mc.mu.Unlock()
		_, err := mc.conn.Write(w)
		if err != nil {
			mc.fail()
			return false
		}
		if cap(w) > 1<<20 {
			w = nil
		}
		mc.mu.Lock()
		mc.spare = w
		mc.writing = false
		more := len(mc.wbuf) > 0
		if more {
			mc.writing = true
		}
		mc.mu.Unlock()
		if more {
			mc.kickWriter()
		}
		return true
	}
	wake := !mc.writing
	mc.writing = true
	mc.mu.Unlock()
	if wake {
		mc.kickWriter()
	}
	return true
}

func (mc *muxConn) kickWriter() {
	select {
	case mc.kick <- struct{}{}:
	default:
	}
}

// writer writes what the clients have appended. Woken, it first yields,
// so that the other clients whose commands arrived at the same time
// append theirs: they go out in one write.
func (mc *muxConn) writer() {
	for {
		<-mc.kick
		runtime.Gosched()
		mc.mu.Lock()
		for len(mc.wbuf) > 0 && !mc.dead {
			w := mc.wbuf
			mc.wbuf = mc.spare[:0]
			mc.mu.Unlock()
			if _, err := mc.conn.Write(w); err != nil {
				mc.fail()
				return
			}
			if cap(w) > 1<<20 {
				w = nil
			}
			mc.mu.Lock()
			mc.spare = w
		}
		mc.writing = false
		dead := mc.dead
		mc.mu.Unlock()
		if dead {
			return
		}
	}
}

// fail closes the connection and every client waiting for a reply on it
// (their replies are lost, as when a dedicated upstream connection dies).
func (mc *muxConn) fail() {
	mc.mu.Lock()
	if mc.dead {
		mc.mu.Unlock()
		return
	}
	mc.dead = true
	waiting := mc.queue[mc.head:]
	mc.queue, mc.head = nil, 0
	mc.mu.Unlock()
	mc.conn.Close()
	select {
	case mc.kick <- struct{}{}: // the writer ends
	default:
	}
	for _, e := range waiting {
		e.s.close()
		e.s.out.abort()
	}
}

// pop returns the entry of the next reply.
func (mc *muxConn) pop() (muxEntry, bool) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	if mc.head == len(mc.queue) {
		return muxEntry{}, false
	}
	e := mc.queue[mc.head]
	mc.queue[mc.head] = muxEntry{}
	mc.head++
	if mc.head == len(mc.queue) {
		mc.queue, mc.head = mc.queue[:0], 0
	} else if mc.head > 1024 && mc.head*2 > len(mc.queue) {
		n := copy(mc.queue, mc.queue[mc.head:])
		clear(mc.queue[n:])
		mc.queue, mc.head = mc.queue[:n], 0
	}
	return e, true
}

// reader hands each reply to the client whose command it answers.
func (mc *muxConn) reader() {
	defer mc.fail()
	var touched []*session
	for {
		b, err := mc.br.Peek(1)
		if err != nil {
			return
		}
		p := b[0]
		e, ok := mc.pop()
		if !ok { // a reply nobody asked for: out of step
			mc.srv.log.Warn("shared upstream connection out of step: closing it")
			return
		}
		o := &e.s.out
		var add bool
		switch {
		case e.local != nil:
			if _, err := mc.ur.CopyReply(io.Discard); err != nil {
				return
			}
			add = o.deliver(e.local.reply, e.local.fatal)
		case p == '-':
			raw, err := mc.ur.ReadReply()
			if err != nil {
				return
			}
			if isNoScript(raw) {
				mc.script.Store(false)
			}
			add = o.deliver(raw, false)
		default:
			if _, err := mc.ur.CopyReply(o); err != nil {
				return
			}
			add = o.deliver(nil, false)
		}
		if add {
			touched = append(touched, e.s)
		}
		if mc.br.Buffered() == 0 {
			for i, s := range touched {
				s.flushDirect()
				touched[i] = nil
			}
			touched = touched[:0]
		}
	}
}

// outBuf is what a multiplexed client has yet to receive. The reader
// appends replies to it, and once it has read all the upstream sent, it
// writes each client's replies itself (with a short deadline); a client
// that does not take them that fast gets them from its writer goroutine,
// which the reader hands over to, so that one slow client does not hold
// up the others.
type outBuf struct {
	mu       sync.Mutex
	cond     sync.Cond // the buffer shrank, or a reply was delivered
	wcond    sync.Cond // the writer has work: handoff, stop, closing, aborted
	buf      []byte
	spare    []byte
	inflight int  // commands committed whose replies are not delivered
	writing  bool // the reader or the writer is sending
	handoff  bool // the writer is to send buf
	touched  bool // in the reader's list of clients to write to
	closing  bool // close the client once buf is sent (a fatal error)
	stop     bool // the writer is to end once buf is sent
	aborted  bool // the client is gone: discard
}

// From outLimit bytes on, a client's replies are sent by its writer
// while the reader goes on; the reader waits only while a client has
// outHardLimit bytes unsent (Redis itself buffers any amount for a
// client; a client that does not read past that holds up the others on
// its shared connection until it does).
const (
	outLimit     = 256 << 10
	outHardLimit = 64 << 20
)

// directTimeout bounds how long the reader waits for a client to take its
// replies before it hands them to the client's writer. The write deadline
// is moved only when less than half of it is left (moving it on every
// write costs more than the write), so a client that does not read holds
// up the others on its shared connection for between half of it and all
// of it, once: its replies then go through its writer.
const directTimeout = 200 * time.Millisecond

// Write appends a piece of a reply, waiting while buf is full.
func (o *outBuf) Write(p []byte) (int, error) {
	o.mu.Lock()
	for len(o.buf) >= outHardLimit && !o.aborted {
		o.cond.Wait()
	}
	if !o.aborted {
		o.buf = append(o.buf, p...)
		if len(o.buf) >= outLimit && !o.handoff {
			o.handoff = true
			o.wcond.Signal()
		}
	}
	o.mu.Unlock()
	return len(p), nil
}

// deliver appends the rest of a reply (b) and counts it delivered. It
// reports whether the reader is to add the client to its list.
func (o *outBuf) deliver(b []byte, fatal bool) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.inflight--
	o.cond.Broadcast()
	if o.aborted {
		return false
	}
	o.buf = append(o.buf, b...)
	if fatal {
		o.closing = true
		o.wcond.Signal()
		return false
	}
	if len(o.buf) >= outLimit && !o.handoff {
		o.handoff = true
		o.wcond.Signal()
	}
	if o.touched {
		return false
	}
	o.touched = true
	return true
}

func (o *outBuf) abort() {
	o.mu.Lock()
	o.aborted = true
	o.buf = nil
	o.cond.Broadcast()
	o.wcond.Signal()
	o.mu.Unlock()
}

// flushDirect is the reader's write of a client's replies.
func (s *session) flushDirect() {
	o := &s.out
	o.mu.Lock()
	o.touched = false
	if o.writing || o.handoff || o.aborted || o.closing || len(o.buf) == 0 {
		o.mu.Unlock()
		return
	}
	b := o.buf
	o.buf, o.spare = o.spare[:0], nil
	o.writing = true
	o.mu.Unlock()
	if now := time.Now(); s.deadline.Sub(now) < directTimeout/2 {
		s.deadline = now.Add(directTimeout)
		s.client.SetWriteDeadline(s.deadline)
	}
	n, err := s.client.Write(b)
	o.mu.Lock()
	o.writing = false
	o.cond.Broadcast()
	switch {
	case err == nil:
		if o.spare == nil && cap(b) <= outLimit*2 {
			o.spare = b[:0]
		}
	case errors.Is(err, os.ErrDeadlineExceeded) && !o.aborted:
		// Slow: the writer sends the rest, and what comes after it.
		o.buf = append(b[n:], o.buf...)
		o.handoff = true
		o.wcond.Signal()
	default:
		o.aborted = true
		o.buf = nil
		o.mu.Unlock()
		s.close()
		return
	}
	o.mu.Unlock()
}

// clientWriter sends the client's replies when the reader hands them over
// (and the error before closing the client), until stop (the client
// switches to a dedicated connection) or the client is gone.
func (s *session) clientWriter(done chan<- struct{}) {
	defer close(done)
	o := &s.out
	o.mu.Lock()
	for {
		for !o.handoff && !o.stop && !o.aborted && !o.closing {
			o.wcond.Wait()
		}
		for o.writing && !o.aborted { // the reader's write
			o.cond.Wait()
		}
		if o.aborted || (len(o.buf) == 0 && (o.stop || o.closing)) {
			closing := o.closing && !o.aborted
			o.mu.Unlock()
			if closing {
				s.close()
			}
			return
		}
		if len(o.buf) == 0 {
			o.handoff = false
			continue
		}
		b := o.buf
		o.buf = nil
		o.writing = true
		o.cond.Broadcast()
		o.mu.Unlock()
		s.client.SetWriteDeadline(time.Time{})
		s.deadline = time.Time{}
		_, err := s.client.Write(b)
		o.mu.Lock()
		o.writing = false
		o.cond.Broadcast()
		if err != nil {
			o.aborted = true
			o.buf = nil
			o.mu.Unlock()
			s.close()
			return
		}
	}
}

// muxable reports whether a command may be multiplexed: it neither
// depends on nor changes the state of the connection it is sent on
// (database, transaction, subscriptions, protocol, name, user), and it
// does not block.
func muxable(name []byte) bool {
	var buf [20]byte
	if len(name) > len(buf) {
		return false
	}
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	_, ok := muxCommands[string(buf[:len(name)])]
	return ok
}

var muxCommands = map[string]struct{}{}

// sharedName is the CLIENT SETNAME of the shared connections.
const sharedName = "cogs-shared"

// helloPlain reports whether args is HELLO without options, and the
// protocol it asks for (0: none, 2 or 3).
func helloPlain(args [][]byte) (int, bool) {
	if !equalFold(args[0], "hello") {
		return 0, false
	}
	switch {
	case len(args) == 1:
		return 0, true
	case len(args) == 2 && string(args[1]) == "2":
		return 2, true
	case len(args) == 2 && string(args[1]) == "3":
		return 3, true
	}
	return 0, false
}

// drainOut waits until every reply to the client's multiplexed commands
// has been sent, and reports whether the client is still there.
func (s *session) drainOut() bool {
	o := &s.out
	o.mu.Lock()
	defer o.mu.Unlock()
	for (o.inflight > 0 || len(o.buf) > 0 || o.writing) && !o.aborted {
		o.cond.Wait()
	}
	return !o.aborted
}

// exchange sends b on c and reads n replies, failing on an error reply.
func exchange(c net.Conn, r *resp.Reader, b []byte, n int, timeout time.Duration) error {
	c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(b); err != nil {
		return err
	}
	for range n {
		v, _, err := r.ReadValue()
		if err != nil {
			return err
		}
		if v.Kind == resp.SimpleError || v.Kind == resp.BulkError {
			return errors.New(string(v.Str))
		}
	}
	return nil
}

func init() {
	for _, n := range []string{
		// strings
		"get", "set", "setnx", "setex", "psetex", "getset", "getdel", "getex", "mget", "mset", "msetnx",
		"append", "strlen", "incr", "incrby", "decr", "decrby", "incrbyfloat", "setrange", "getrange",
		"substr", "setbit", "getbit", "bitcount", "bitpos", "bitfield", "bitfield_ro", "bitop", "lcs",
		// keys
		"del", "unlink", "exists", "type", "ttl", "pttl", "expire", "pexpire", "expireat", "pexpireat",
		"expiretime", "pexpiretime", "persist", "touch", "rename", "renamenx", "copy", "move", "dump",
		"restore", "object", "randomkey", "keys", "scan", "dbsize", "sort", "sort_ro",
		// hashes
		"hset", "hmset", "hsetnx", "hget", "hmget", "hgetall", "hdel", "hexists", "hincrby",
		"hincrbyfloat", "hkeys", "hvals", "hlen", "hstrlen", "hrandfield", "hscan",
		// lists
		"lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "llen", "lrange", "lindex", "lset",
		"linsert", "lrem", "ltrim", "lpos", "lmove", "rpoplpush", "lmpop",
		// sets
		"sadd", "srem", "smembers", "sismember", "smismember", "scard", "spop", "srandmember", "smove",
		"sinter", "sinterstore", "sintercard", "sunion", "sunionstore", "sdiff", "sdiffstore", "sscan",
		// sorted sets
		"zadd", "zrem", "zincrby", "zscore", "zmscore", "zrank", "zrevrank", "zrange", "zrangestore",
		"zrangebyscore", "zrevrangebyscore", "zrangebylex", "zrevrangebylex", "zrevrange", "zcard",
		"zcount", "zlexcount", "zpopmin", "zpopmax", "zmpop", "zrandmember", "zremrangebyscore",
		"zremrangebyrank", "zremrangebylex", "zunion", "zinter", "zdiff", "zunionstore", "zinterstore",
		"zdiffstore", "zintercard", "zscan",
		// streams, without XREAD and XREADGROUP (BLOCK)
		"xadd", "xlen", "xrange", "xrevrange", "xdel", "xtrim", "xack", "xclaim", "xautoclaim",
		"xpending", "xinfo", "xgroup", "xsetid",
		// HyperLogLog, geo
		"pfadd", "pfcount", "pfmerge", "geoadd", "geodist", "geohash", "geopos", "georadius_ro",
		"georadiusbymember_ro", "geosearch", "geosearchstore", "georadius", "georadiusbymember",
		// scripts and functions (blocking commands do not block in them)
		"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro",
		// others
		"ping", "echo", "publish", "spublish", "time", "exists", "lolwut",
	} {
		muxCommands[n] = struct{}{}
	}
}

var errMuxClosed = errors.New("frontend: shared upstream connection closed")

// sliceWriter appends what is written to it.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// muxPump serves the client on a shared upstream connection until a
// command needs a dedicated one. It returns that command (args nil when
// it is still to be read: a command with a large argument) and true, or
// false when the session is over.
func (s *session) muxPump() (args [][]byte, raw []byte, ok bool) {
	mc, err := s.srv.muxConn(2)
	if err != nil {
		// Without a shared connection (an upstream that wants a password
		// cogs was not given refuses CLIENT SETNAME), a dedicated one.
		s.log.Debug("no shared upstream connection", "error", err)
		return nil, nil, true
	}
	s.mc, s.muxing, s.script = mc, true, &mc.script
	var mbuf sliceWriter
	s.uw = bufio.NewWriterSize(&mbuf, bufSize)
	done := make(chan struct{})
	go s.clientWriter(done)
	o := &s.out
	pending := 0
	commit := func() bool {
		s.uw.Flush()
		if len(s.batch) == 0 {
			return true
		}
		o.mu.Lock()
		o.inflight += len(s.batch)
		o.mu.Unlock()
		ok := mc.commit(mbuf.b, s.batch)
		if !ok {
			// The shared connection died. Its clients with replies
			// outstanding were closed with it; one without moves on.
			o.mu.Lock()
			o.inflight -= len(s.batch)
			idle := o.inflight == 0 && !o.aborted
			o.mu.Unlock()
			if next, err := s.srv.muxConn(s.muxProto); idle && err == nil {
				mc, s.mc, s.script = next, next, &next.script
				o.mu.Lock()
				o.inflight += len(s.batch)
				o.mu.Unlock()
				ok = mc.commit(mbuf.b, s.batch)
			}
		}
		if cap(mbuf.b) > 1<<20 {
			mbuf.b = nil
		}
		mbuf.b = mbuf.b[:0]
		clear(s.batch)
		s.batch = s.batch[:0]
		pending = 0
		return ok
	}
	end := func() ([][]byte, []byte, bool) {
		o.abort()
		<-done
		return nil, nil, false
	}
	for {
		var err error
		args, raw = nil, nil
		if _, err = s.cbr.Peek(1); err == nil {
			p, _ := s.cbr.Peek(s.cbr.Buffered())
			if _, _, big := peekBig(p); big {
				break // streamed, on a dedicated connection
			}
			args, raw, err = s.cr.ReadCommand()
		}
		if err != nil {
			var pe resp.ProtocolError
			if !errors.As(err, &pe) {
				return end()
			}
			// The error after the replies before it, then the end.
			s.refuse(string(pe), true)
			s.batch = append(s.batch, muxEntry{s: s, local: s.pendingLocal})
			s.pendingLocal = nil
			if !commit() {
				return end()
			}
			<-done
			return nil, nil, false
		}
		if v, ok := helloPlain(args); ok {
			s.srv.stats.commands.Add(1)
			// HELLO, HELLO 2 or HELLO 3 (as go-redis opens every
			// connection): a shared connection of that protocol answers
			// it, where it changes nothing. The client moves there once
			// its replies so far are sent.
			if v != 0 && v != s.muxProto {
				if !commit() || !s.drainOut() {
					return end()
				}
				next, err := s.srv.muxConn(v)
				if err != nil {
					s.log.Debug("no shared upstream connection", "error", err)
					break // to a dedicated connection, which says why
				}
				mc, s.mc, s.script, s.muxProto = next, next, &next.script, v
			}
			if _, err := s.uw.Write(raw); err != nil {
				return end()
			}
		} else if !muxable(args[0]) || (s.srv.adminOn && s.srv.adminCommand(args[0])) || s.writeThroughKey(args) {
			break
		} else {
			s.srv.stats.commands.Add(1)
			if err := s.handle(args, raw); err != nil {
				return end()
			}
		}
		s.batch = append(s.batch, muxEntry{s: s, local: s.pendingLocal})
		s.pendingLocal = nil
		pending++
		if s.cbr.Buffered() == 0 || pending >= s.srv.cfg.MaxPipeline {
			if !commit() {
				return end()
			}
		}
	}
	// Switch: once every reply is sent, the writer ends.
	if !commit() {
		return end()
	}
	s.drainOut()
	o.mu.Lock()
	o.stop = true
	aborted := o.aborted
	o.wcond.Signal()
	o.mu.Unlock()
	<-done
	if aborted {
		return nil, nil, false
	}
	s.client.SetWriteDeadline(time.Time{}) // the reader's
	s.mc, s.muxing, s.script = nil, false, &s.scriptOK
	return args, raw, true
}
