package frontend

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/internal/resp"
	"github.com/hashicorp/go-hclog"
)

const bufSize = 16 << 10

// session serves one client connection with its own upstream connection.
type session struct {
	srv    *Server
	log    hclog.Logger
	id     uint64
	ctx    context.Context // ends when the session closes
	cancel context.CancelFunc

	client net.Conn
	connMu sync.Mutex
	up     net.Conn // set once dialled
	closed bool

	// The command pump's: commands from the client, to the upstream.
	cbr      *bufio.Reader
	cr       *resp.Reader
	uw       *bufio.Writer
	inMulti  bool // between MULTI and EXEC, DISCARD or RESET, as far as it can tell
	selected bool // the client sent SELECT: its database may not be Config.DB, where the streams live
	keyPos   []int
	targets  []target
	wtPos    []int               // scratch of writeThroughKey
	seenKeys map[string]struct{} // the targets' keys, for commands with many
	stripped [][]byte            // an HSET's arguments without rgsync's "#" field
	scratch  []byte
	admin    bool // authenticated as the admin user

	// restore re-authenticates the upstream connection and selects the
	// configured database again after a client's RESET, which undoes both;
	// resets counts the RESETs whose restore replies the reply pump has
	// yet to swallow (restoreN of them after each "+RESET").
	restore  []byte
	restoreN int
	resets   atomic.Int64

	// The reply pump's: replies from the upstream, to the client.
	ubr *bufio.Reader
	ur  *resp.Reader
	cw  *bufio.Writer

	proto   int          // 2 or 3, as the client's last successful HELLO chose
	helloOK bool         // the last reply, not a push, was a successful HELLO's
	hellos  atomic.Int64 // hello markers sent and not yet replied to

	// marker is the name of the unknown command sent upstream in place of
	// a command answered by cogs, quoted as the upstream's error quotes it.
	marker    []byte
	markerCmd []byte
	mu        sync.Mutex
	locals    []local // in the order their markers were sent

	// An admin command is handed over between the pumps: the reply pump,
	// at its marker, sends the client's protocol on reached and sends the
	// reply it then receives on handoff.
	reached   chan int
	handoff   chan []byte
	cmdDone   chan struct{} // closed when the command pump returns
	replyDone chan struct{} // closed when the reply pump returns

	// scriptOK is cleared when the capture script may be missing upstream
	// (after SCRIPT FLUSH, or a NOSCRIPT reply): captures are then sent as
	// EVAL, which loads it again, rather than EVALSHA.
	scriptOK atomic.Bool
	script   *atomic.Bool // &scriptOK, or the shared connection's

	// Multiplexing (mux.go): while muxing, commands go to the shared
	// connection mc, with an entry each in batch (pendingLocal: the
	// command was answered locally), and replies come through out.
	muxing       bool
	mc           *muxConn
	batch        []muxEntry
	pendingLocal *local
	muxProto     int // the protocol of mc, and of the client
	out          outBuf
	deadline     time.Time // the client's write deadline, while muxing
}

// local is what the reply pump does at a marker's reply: send reply in
// its place (fatal: and close the connection), or, with hello set, take
// the protocol hello (2 or 3) if the reply before the marker was a
// successful HELLO's, or, with admin set, hand over to the command pump
// and send the admin command's reply.
type local struct {
	reply []byte
	fatal bool
	hello int
	admin bool
}

// target is a watched key of a command: its position and its watch.
type target struct {
	pos int
	w   Watch
}

func newSession(srv *Server, c net.Conn) *session {
	var tok [12]byte
	rand.Read(tok[:])
	name := "cogs-refused-" + hex.EncodeToString(tok[:])
	s := &session{
		srv:       srv,
		log:       srv.log.With("client", c.RemoteAddr().String()),
		id:        srv.lastID.Add(1),
		proto:     2,
		reached:   make(chan int, 1),
		handoff:   make(chan []byte, 1),
		cmdDone:   make(chan struct{}),
		replyDone: make(chan struct{}),
		client:    c,
		cbr:       bufio.NewReaderSize(c, bufSize),
		cw:        bufio.NewWriterSize(c, bufSize),
		marker:    []byte("'" + name + "'"),
		markerCmd: resp.AppendCommand(nil, []byte(name)),
	}
	s.cr = resp.NewReader(s.cbr, resp.Limits{MaxBulk: srv.cfg.MaxBulk, MaxArgs: srv.cfg.MaxArgs})
	s.ctx, s.cancel = context.WithCancel(srv.ctx)
	s.script = &s.scriptOK
	s.muxProto = 2
	s.out.cond.L = &s.out.mu
	s.out.wcond.L = &s.out.mu
	return s
}

// close closes both connections, which ends both pumps.
func (s *session) close() {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.cancel()
	s.client.Close()
	if s.up != nil {
		s.up.Close()
	}
}

// serve opens the upstream connection and runs the two pumps until either
// side closes.
func (s *session) serve() {
	var first [][]byte
	var firstRaw []byte
	if s.srv.mux != nil {
		var ok bool
		if first, firstRaw, ok = s.muxPump(); !ok {
			s.close()
			return
		}
	}
	if err := s.openUpstream(); err != nil {
		s.log.Warn("upstream connection failed", "error", err)
		s.cw.Write(resp.AppendError(nil, "ERR cogs: upstream unavailable: "+err.Error()))
		s.cw.Flush()
		s.close()
		return
	}
	go s.replyPump()
	s.commandPump(first, firstRaw)
	<-s.replyDone
	s.close()
}

// openUpstream dials the upstream, authenticates, selects the database
// and loads the capture script.
func (s *session) openUpstream() error {
	cfg := &s.srv.cfg
	up, err := s.srv.dial(s.ctx)
	if err != nil {
		return err
	}
	s.connMu.Lock()
	if s.closed {
		s.connMu.Unlock()
		up.Close()
		return net.ErrClosed
	}
	s.up = up
	s.connMu.Unlock()
	s.uw = bufio.NewWriterSize(up, bufSize)
	s.ubr = bufio.NewReaderSize(up, bufSize)
	s.ur = resp.NewReader(s.ubr, resp.Limits{MaxBulk: 1 << 40, MaxDepth: 1 << 10})
	h, err := handshakeWith(up, s.ur, cfg, false)
	if err != nil {
		return err
	}
	s.restore, s.restoreN = h.restore, h.restoreN
	s.scriptOK.Store(h.scriptOK)
	s.script = &s.scriptOK
	if s.muxProto == 3 {
		// The client said HELLO 3 on a shared connection.
		if err := exchange(up, s.ur, resp.AppendCommand(nil, []byte("HELLO"), []byte("3")), 1, cfg.DialTimeout); err != nil {
			return fmt.Errorf("hello 3: %w", err)
		}
		s.proto = 3
	}
	return nil
}

// handshakeResult is what handshake did.
type handshakeResult struct {
	restore  []byte // the AUTH and SELECT it sent
	restoreN int    // how many commands restore holds
	scriptOK bool   // the capture script is loaded
}

// handshake opens an upstream connection c as cfg says: AUTH, SELECT,
// SCRIPT LOAD when a Watcher is configured, and PING if ping.
func handshake(c net.Conn, cfg *Config, ping bool) (handshakeResult, error) {
	return handshakeWith(c, resp.NewReader(bufio.NewReader(c), resp.Limits{MaxBulk: 1 << 40, MaxDepth: 1 << 10}), cfg, ping)
}

func handshakeWith(c net.Conn, r *resp.Reader, cfg *Config, ping bool) (handshakeResult, error) {
	var h handshakeResult
	var b []byte
	var what []string
	if cfg.Password != "" {
		if cfg.Username != "" {
			b = resp.AppendCommand(b, []byte("AUTH"), []byte(cfg.Username), []byte(cfg.Password))
		} else {
			b = resp.AppendCommand(b, []byte("AUTH"), []byte(cfg.Password))
		}
		what = append(what, "auth")
	}
	if cfg.DB != 0 {
		b = resp.AppendCommand(b, []byte("SELECT"), strconv.AppendInt(nil, int64(cfg.DB), 10))
		what = append(what, "select")
	}
	h.restore, h.restoreN = b, len(what)
	if cfg.Watcher != nil {
		b = resp.AppendCommand(b, []byte("SCRIPT"), []byte("LOAD"), []byte(captureScript))
		what = append(what, "script load")
	}
	if ping {
		b = resp.AppendCommand(b, []byte("PING"))
		what = append(what, "ping")
	}
	if len(what) == 0 {
		return h, nil
	}
	c.SetDeadline(time.Now().Add(cfg.DialTimeout))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(b); err != nil {
		return h, err
	}
	for _, w := range what {
		v, _, err := r.ReadValue()
		if err != nil {
			return h, fmt.Errorf("%s: %w", w, err)
		}
		if v.Kind == resp.SimpleError || v.Kind == resp.BulkError {
			if w == "ping" && cfg.Password == "" && bytes.HasPrefix(v.Str, []byte("NOAUTH")) {
				continue // clients authenticate themselves
			}
			return h, fmt.Errorf("%s: %s", w, v.Str)
		}
		if w == "script load" {
			if string(v.Str) != captureSHA {
				return h, fmt.Errorf("script load: got sha %q, want %s", v.Str, captureSHA)
			}
			h.scriptOK = true
		}
	}
	return h, nil
}

// commandPump forwards the client's commands upstream, rewriting watched
// writes, and flushes once no more commands are buffered.
func (s *session) commandPump(first [][]byte, firstRaw []byte) {
	defer close(s.cmdDone)
	pending := 0
	cw := &countingWriter{}
	for {
		var args [][]byte
		var raw []byte
		var err error
		streamed := false
		if first != nil {
			args, raw, first = first, firstRaw, nil
		} else if _, err = s.cbr.Peek(1); err == nil {
			p, _ := s.cbr.Peek(s.cbr.Buffered())
			if name, key, big := peekBig(p); big && s.streamable(name, key) {
				// A large command that passes through: streamed, not
				// gathered.
				streamed = true
				*cw = countingWriter{w: s.uw}
				_, err = s.cr.CopyCommand(cw)
			} else {
				args, raw, err = s.cr.ReadCommand()
			}
		}
		if err != nil {
			var pe resp.ProtocolError
			switch {
			case !errors.As(err, &pe):
				s.close()
				return
			case streamed && cw.n > 0:
				// The upstream holds part of the command: finish it with
				// bytes it refuses too, so that it answers a protocol
				// error in its place and closes. Whether or not it still
				// waits for the two bytes after a bulk, "$$$\r\n" is an
				// invalid bulk length (the text may differ from the
				// client's own error).
				s.uw.WriteString("$$$\r\n")
				s.uw.Flush()
				return
			default:
				// Redis replies with the error after the replies before
				// it, and closes: so does the reply pump, at the marker.
				s.refuse(string(pe), true)
				s.uw.Flush()
				return
			}
		}
		if streamed {
			s.srv.stats.streamed.Add(1)
		} else {
			s.srv.stats.commands.Add(1)
			if err := s.handle(args, raw); err != nil {
				s.close()
				return
			}
		}
		pending++
		if s.cbr.Buffered() == 0 || pending >= s.srv.cfg.MaxPipeline {
			if err := s.uw.Flush(); err != nil {
				s.close()
				return
			}
			pending = 0
		}
	}
}

// handle forwards one command.
func (s *session) handle(args [][]byte, raw []byte) error {
	if s.track(args) && s.restoreN > 0 {
		s.resets.Add(1)
		if _, err := s.uw.Write(raw); err != nil {
			return err
		}
		_, err := s.uw.Write(s.restore)
		return err
	}
	if len(args) == 3 && equalFold(args[0], "client") && equalFold(args[1], "reply") &&
		(equalFold(args[2], "off") || equalFold(args[2], "skip")) {
		// Refusals, HELLO and write-through count on the upstream's reply
		// to every command cogs sends.
		return s.refuse("COGS CLIENT REPLY refused: cogs needs the reply to every command; the client may ignore replies instead", false)
	}
	if s.srv.adminOn {
		if done, err := s.handleAdmin(args, raw); done {
			return err
		}
	}
	w := s.srv.cfg.Watcher
	if w == nil {
		_, err := s.uw.Write(raw)
		return err
	}
	spec := lookup(args[0])
	if spec == nil || !spec.arityOK(args) {
		// Not a write, or one Redis refuses itself.
		_, err := s.uw.Write(raw)
		return err
	}
	if spec.pol == refuseAny && s.srv.watching() {
		return s.refuse(fmt.Sprintf("COGS %s refused: recipes watch keys here, and it would change them without capture", upper(spec.name)), false)
	}
	s.keyPos = spec.keyPositions(args, s.keyPos[:0])
	if g := s.srv.guard; g != nil {
		for _, p := range s.keyPos {
			if recipe, owned := g.Owned(args[p]); owned {
				return s.refuse(fmt.Sprintf("COGS %s refused: key %s is the change stream of recipe %q, which cogs owns",
					upper(spec.name), quoteKey(args[p]), recipe), false)
			}
		}
	}
	if wt, ok := s.rgsyncWriteThrough(spec, args); ok {
		return s.writeRGSyncThrough(spec, args, raw, wt)
	}
	s.targets, s.seenKeys = s.targets[:0], nil
	for _, p := range s.keyPos {
		wt, ok := w.Match(args[p])
		if !ok || s.seen(args, args[p]) {
			continue
		}
		if spec.pol == refuseWatched {
			return s.refuse(fmt.Sprintf("COGS %s refused: key %s is watched by recipe %q, and %s cannot be captured",
				upper(spec.name), quoteKey(args[p]), wt.Recipe, upper(spec.name)), false)
		}
		if !spec.kinds.has(wt.Data) {
			return s.refuse(fmt.Sprintf("COGS %s refused: key %s is watched as %s by recipe %q, and %s on it cannot be captured",
				upper(spec.name), quoteKey(args[p]), wt.Data, wt.Recipe, upper(spec.name)), false)
		}
		if n, over := s.srv.overHighWater(wt); over {
			return s.refuse(backpressureError(wt, n), false)
		}
		s.addTarget(args, p, wt)
	}
	if len(s.targets) == 0 {
		_, err := s.uw.Write(raw)
		return err
	}
	for _, t := range s.targets {
		if t.w.Mode == abi.ModeWriteThrough {
			return s.writeThrough(spec, args, raw, t)
		}
	}
	if len(args) > maxCaptureArgs {
		return s.refuse(fmt.Sprintf("COGS %s refused: a captured command takes at most %d arguments", upper(spec.name), maxCaptureArgs), false)
	}
	if spec.kinds == kindHash {
		if i := hashOpField(spec, args); i > 0 {
			return s.writeRGSync(spec, args, i)
		}
		if (spec.name == "hsetnx" || spec.name == "hincrby" || spec.name == "hincrbyfloat") && isOpField(args[2]) {
			return s.refuse(fmt.Sprintf("COGS %s refused: field \"#\" of key %s, watched by recipe %q, is rgsync's operation field, which only HSET and HMSET take",
				upper(spec.name), quoteKey(args[1]), s.targets[0].w.Recipe), false)
		}
	}
	return s.writeCapture(spec, args, spec.captureMode(args))
}

// isOpField reports whether a hash field is rgsync's operation field "#".
func isOpField(f []byte) bool { return len(f) == 1 && f[0] == '#' }

// hashOpField returns the position of the value of the last "#" field of
// an HSET or HMSET that has its fields and values in pairs, or 0.
func hashOpField(spec *cmdSpec, args [][]byte) int {
	if (spec.name != "hset" && spec.name != "hmset") || len(args)%2 != 0 {
		return 0
	}
	at := 0
	for i := 2; i+1 < len(args); i += 2 {
		if isOpField(args[i]) {
			at = i + 1
		}
	}
	return at
}

// writeRGSync writes the capture of an HSET or HMSET with rgsync's "#"
// field, whose value (the last one's) is at position at: it is refused
// unless it starts with an operation character; otherwise every "#" field
// and its value are taken out of the command, and the capture script's
// mode is "#" and the value (see captureScript).
func (s *session) writeRGSync(spec *cmdSpec, args [][]byte, at int) error {
	s.srv.countCapture(s.targets)
	v := args[at]
	if len(v) == 0 || (v[0] != '=' && v[0] != '+' && v[0] != '-' && v[0] != '~') {
		return s.refuse(fmt.Sprintf("COGS %s refused: field \"#\" of key %s, watched by recipe %q, is rgsync's operation, and %s is not one: it takes =, +, - or ~, and an optional uuid",
			upper(spec.name), quoteKey(args[1]), s.targets[0].w.Recipe, quoteKey(v)), false)
	}
	mode := "#" + string(v)
	stripped := s.stripped[:0]
	stripped = append(stripped, args[0], args[1])
	for i := 2; i+1 < len(args); i += 2 {
		if !isOpField(args[i]) {
			stripped = append(stripped, args[i], args[i+1])
		}
	}
	err := s.writeCapture(spec, stripped, mode)
	clear(stripped)
	s.stripped = stripped[:0]
	return err
}

// seen reports whether key is already a target (DEL k k captures k
// once). Past 16 targets, a map of their keys answers.
func (s *session) seen(args [][]byte, key []byte) bool {
	if s.seenKeys != nil {
		_, ok := s.seenKeys[string(key)]
		return ok
	}
	for _, t := range s.targets {
		if bytes.Equal(args[t.pos], key) {
			return true
		}
	}
	return false
}

// addTarget adds the key at position p to the targets.
func (s *session) addTarget(args [][]byte, p int, w Watch) {
	s.targets = append(s.targets, target{pos: p, w: w})
	switch {
	case s.seenKeys != nil:
		s.seenKeys[string(args[p])] = struct{}{}
	case len(s.targets) == 16:
		s.seenKeys = make(map[string]struct{}, 64)
		for _, t := range s.targets {
			s.seenKeys[string(args[t.pos])] = struct{}{}
		}
	}
}

// track follows the state the command pump needs: whether a transaction
// is open (a script loaded by EVAL inside MULTI is loaded only if EXEC
// runs), and whether the capture script may have been flushed. It
// reports whether the command is RESET.
func (s *session) track(args [][]byte) (reset bool) {
	switch n := args[0]; {
	case equalFold(n, "multi"):
		s.inMulti = true
	case equalFold(n, "exec"), equalFold(n, "discard"):
		s.inMulti = false
	case equalFold(n, "reset"):
		s.inMulti = false
		s.admin = false
		return len(args) == 1
	case equalFold(n, "script") && len(args) > 1 && equalFold(args[1], "flush"):
		s.script.Store(false)
	case equalFold(n, "select"):
		s.selected = true
	}
	return false
}

// writeCapture writes the capture script call for the command args with
// s.targets, as script.go describes it.
func (s *session) writeCapture(spec *cmdSpec, args [][]byte, mode string) error {
	s.srv.countCapture(s.targets)
	m := len(s.targets)
	b := resp.AppendArrayHeader(s.scratch[:0], 3+2*m+3+m+len(args))
	if s.script.Load() {
		b = resp.AppendBulkString(b, "EVALSHA")
		b = resp.AppendBulkString(b, captureSHA)
	} else {
		// EVAL loads the script again for the EVALSHAs that follow,
		// unless it is queued in a transaction that may be discarded.
		b = resp.AppendBulkString(b, "EVAL")
		b = resp.AppendBulkString(b, captureScript)
		if !s.inMulti {
			s.script.Store(true)
		}
	}
	b = appendBulkInt(b, int64(2*m))
	for _, t := range s.targets {
		b = resp.AppendBulk(b, args[t.pos])
		b = resp.AppendBulkString(b, t.w.Stream)
	}
	b = appendBulkInt(b, int64(m))
	if s.selected {
		b = appendBulkInt(b, int64(s.srv.cfg.DB))
	} else {
		b = resp.AppendBulkString(b, "") // the streams' database already
	}
	b = resp.AppendBulkString(b, mode)
	for _, t := range s.targets {
		b = resp.AppendBulkString(b, t.w.Data.String())
	}
	for _, a := range args {
		if len(a) < bufSize {
			b = resp.AppendBulk(b, a)
			continue
		}
		// A large value goes straight from the command to the socket.
		b = appendBulkHeader(b, len(a))
		if _, err := s.uw.Write(b); err != nil {
			return err
		}
		if _, err := s.uw.Write(a); err != nil {
			return err
		}
		b = append(b[:0], '\r', '\n')
	}
	if cap(b) <= 1<<20 {
		s.scratch = b
	}
	_, err := s.uw.Write(b)
	return err
}

// refuse sends the marker command upstream in place of a refused command,
// for the reply pump to answer it with the error msg.
func (s *session) refuse(msg string, fatal bool) error {
	s.srv.stats.refused.Add(1)
	if fatal {
		s.srv.stats.protocol.Add(1)
	}
	return s.sendLocal(local{reply: resp.AppendError(nil, msg), fatal: fatal})
}

// sendLocal sends the marker command upstream, for the reply pump to do
// what l says at its reply.
func (s *session) sendLocal(l local) error {
	if s.muxing {
		s.pendingLocal = &l
		_, err := s.uw.Write(s.markerCmd)
		return err
	}
	s.mu.Lock()
	s.locals = append(s.locals, l)
	s.mu.Unlock()
	_, err := s.uw.Write(s.markerCmd)
	return err
}

func (s *session) popLocal() (local, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.locals) == 0 {
		return local{}, false
	}
	l := s.locals[0]
	s.locals[0] = local{}
	s.locals = s.locals[1:]
	return l, true
}

// replyPump copies the upstream's replies to the client, replacing the
// errors for marker commands with their refusals, and flushes once no more
// replies are buffered.
func (s *session) replyPump() {
	defer close(s.replyDone)
	defer s.close()
	for {
		p, err := s.ubr.Peek(1)
		if err != nil {
			s.cw.Flush()
			return
		}
		if k := p[0]; k != '>' && k != '-' && s.hellos.Load() > 0 {
			s.helloOK = k == '%' || (k == '*' && s.helloReply())
		}
		if k := p[0]; k == '-' || k == '+' {
			raw, err := s.ur.ReadReply()
			if err != nil {
				s.cw.Flush()
				return
			}
			if k == '+' {
				if string(raw) == "+RESET\r\n" {
					s.proto = 2
					if s.resets.Load() > 0 {
						s.resets.Add(-1)
						if _, err := s.cw.Write(raw); err != nil || !s.swallowRestore() {
							return
						}
						raw = nil
					}
				}
			} else if bytes.Contains(raw, s.marker) {
				if l, ok := s.popLocal(); ok {
					if !s.atMarker(l) {
						return
					}
					raw = nil
				}
			} else {
				s.helloOK = false // a failed HELLO, or another error
				if isNoScript(raw) {
					s.script.Store(false)
				}
			}
			if _, err := s.cw.Write(raw); err != nil {
				return
			}
		} else if _, err := s.ur.CopyReply(s.cw); err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Debug("reply pump", "error", err)
			}
			s.cw.Flush()
			return
		}
		if s.ubr.Buffered() == 0 {
			if err := s.cw.Flush(); err != nil {
				return
			}
		}
	}
}

// atMarker does what l says at its marker's reply, and reports whether
// the reply pump goes on.
func (s *session) atMarker(l local) bool {
	switch {
	case l.hello != 0:
		s.hellos.Add(-1)
		if s.helloOK {
			s.proto = l.hello
		}
		s.helloOK = false
		return true
	case l.admin:
		// Send the replies before it while the admin command runs.
		if err := s.cw.Flush(); err != nil {
			return false
		}
		s.reached <- s.proto
		select {
		case b := <-s.handoff:
			_, err := s.cw.Write(b)
			return err == nil
		case <-s.cmdDone:
			return false
		}
	}
	if _, err := s.cw.Write(l.reply); err != nil {
		return false
	}
	if l.fatal {
		s.cw.Flush()
		return false
	}
	return true
}

// helloReply reports whether the array reply at the front of the upstream
// buffer is a RESP2 HELLO reply: its first element is "server". (A reply
// follows it, the hello marker's, so the peek does not wait forever.)
func (s *session) helloReply() bool {
	p, _ := s.ubr.Peek(24)
	i := bytes.IndexByte(p, '\n')
	return i > 0 && bytes.HasPrefix(p[i+1:], []byte("$6\r\nserver\r\n"))
}

// swallowRestore reads the replies to s.restore, sent after a RESET.
func (s *session) swallowRestore() bool {
	for range s.restoreN {
		v, _, err := s.ur.ReadValue()
		if err != nil {
			return false
		}
		if v.Kind == resp.SimpleError {
			s.log.Warn("restoring the upstream connection after RESET failed", "error", string(v.Str))
		}
	}
	return true
}

func appendBulkInt(b []byte, n int64) []byte {
	var tmp [20]byte
	return resp.AppendBulk(b, strconv.AppendInt(tmp[:0], n, 10))
}

func appendBulkHeader(b []byte, n int) []byte {
	b = append(b, '$')
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}

// quoteKey quotes a key for an error message, cut to 64 bytes.
func quoteKey(k []byte) string {
	if len(k) > 64 {
		return strconv.Quote(string(k[:64])) + "..."
	}
	return strconv.Quote(string(k))
}
