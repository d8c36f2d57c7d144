package frontend

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/host/internal/redistest"
)

// dstep is one step of a differential script: what one connection sends,
// in one write, and how many replies it then reads.
type dstep struct {
	conn    int           // which connection
	wait    time.Duration // sleep before sending, so that another connection's command is in first
	send    []byte
	replies int
	norm    func(string) string // normalises values that legitimately differ
	// dyn, if set, makes what is sent from the last raw reply each
	// connection read (a client id to kill).
	dyn func(last map[int]string) []byte
	// eof: read to the end of the connection (it was killed), as one
	// reply; the connection is forgotten, and dialled again if used.
	eof bool
}

var intReply = regexp.MustCompile(`^:[0-9]+\r\n$`)

// normInt replaces an integer reply, such as a client id.
func normInt(s string) string { return intReply.ReplaceAllString(s, ":N\r\n") }

// one sends one command and reads its reply.
func one(conn int, args ...string) dstep {
	return dstep{conn: conn, send: cmd(args...), replies: 1}
}

// pipe sends commands in one write and reads all their replies.
func pipe(conn int, cmds ...[]string) dstep {
	var b []byte
	for _, c := range cmds {
		b = append(b, cmd(c...)...)
	}
	return dstep{conn: conn, send: b, replies: len(cmds)}
}

// differentialScript is the script of the differential test: several
// hundred commands covering what a front end must pass through unchanged,
// and watched writes, whose replies must be unchanged too.
func differentialScript() []dstep {
	big := strings.Repeat("0123456789abcdef", 20<<20/16) // 20 MiB
	s := []dstep{
		one(0, "PING"),
		{conn: 0, send: []byte("PING\r\nSET inline \"a b\"\r\nGET inline\r\n"), replies: 3},
		one(0, "ECHO", "hi\r\nthere"),
		one(0, "CLIENT", "SETNAME", "diff0"),
		one(0, "CLIENT", "GETNAME"),
		{conn: 0, send: cmd("CLIENT", "ID"), replies: 1, norm: normInt},
		one(0, "SET", "k", "v"),
		one(0, "GET", "k"),
		one(0, "GET", "missing"),
		one(0, "NOSUCHCOMMAND", "x"),
		one(0, "GET"),
		one(0, "SET", "k", "v", "BADOPT"),
		one(0, "LPUSH", "k", "x"),
		one(0, "INCR", "k"),
		pipe(0, []string{"RPUSH", "l", "a", "b", "c"}, []string{"LRANGE", "l", "0", "-1"}, []string{"LPOP", "l"},
			[]string{"LLEN", "l"}, []string{"HSET", "h", "f1", "v1", "f2", "v2"}, []string{"HGETALL", "h"},
			[]string{"SADD", "si", "3", "1", "2"}, []string{"SMEMBERS", "si"}, []string{"ZADD", "z", "1.5", "a", "2", "b"},
			[]string{"ZRANGE", "z", "0", "-1", "WITHSCORES"}, []string{"ZSCORE", "z", "a"}, []string{"ZINCRBY", "z", "0.25", "a"}),
		// Transactions.
		pipe(0, []string{"MULTI"}, []string{"INCR", "ctr"}, []string{"HSET", "w:tx", "a", "1"}, []string{"HINCRBYFLOAT", "w:tx", "a", "0.5"},
			[]string{"SET", "ws:tx", "1"}, []string{"LPUSH", "k", "x"}, []string{"EXEC"}),
		pipe(0, []string{"MULTI"}, []string{"HSET", "w:tx", "b", "2"}, []string{"DISCARD"}, []string{"HGETALL", "w:tx"}),
		pipe(0, []string{"MULTI"}, []string{"HSET", "w:tx", "b"}, []string{"EXEC"}),
		pipe(0, []string{"MULTI"}, []string{"MULTI"}, []string{"NOSUCH"}, []string{"EXEC"}),
		one(0, "EXEC"),
		one(0, "DISCARD"),
		// WATCH with a conflicting write from another connection.
		one(0, "WATCH", "wk", "w:watched"),
		one(1, "HSET", "w:watched", "x", "1"),
		pipe(0, []string{"MULTI"}, []string{"SET", "wk", "mine"}, []string{"EXEC"}),
		one(0, "WATCH", "w:watched"),
		pipe(0, []string{"MULTI"}, []string{"HSET", "w:watched", "y", "2"}, []string{"EXEC"}),
		one(0, "HGETALL", "w:watched"),
		one(0, "UNWATCH"),
		// SELECT.
		one(0, "SELECT", "1"),
		one(0, "GET", "k"),
		one(0, "SET", "k", "db1"),
		one(0, "HSET", "w:sel", "a", "1"),
		one(0, "HGETALL", "w:sel"),
		one(0, "SELECT", "0"),
		one(0, "GET", "k"),
		one(0, "HGETALL", "w:sel"),
		one(0, "SELECT", "99"),
		one(0, "RESET"),
		one(0, "CLIENT", "GETNAME"),
		one(0, "GET", "k"),
		// Blocking commands.
		{conn: 0, send: cmd("BLPOP", "bl", "10")},
		{conn: 1, wait: 100 * time.Millisecond, send: cmd("RPUSH", "bl", "x"), replies: 1},
		{conn: 0, replies: 1},
		one(0, "BLPOP", "empty", "0.1"),
		one(1, "XADD", "st", "1-1", "a", "1"),
		{conn: 0, send: cmd("XREAD", "BLOCK", "5000", "STREAMS", "st", "$")},
		{conn: 1, wait: 100 * time.Millisecond, send: cmd("XADD", "st", "2-1", "b", "2"), replies: 1},
		{conn: 0, replies: 1},
		one(0, "WAIT", "0", "0"),
		one(0, "BRPOP", "k", "1"),
		// Blocking commands block only their own client.
		{conn: 0, send: cmd("WAIT", "1", "300")},
		pipe(1, []string{"PING"}, []string{"SET", "during-wait", "1"}, []string{"HSET", "w:during", "f", "1"}),
		{conn: 0, replies: 1},
		{conn: 0, send: append(cmd("SET", "before-block", "1"), cmd("BRPOP", "bl2", "bl3", "5")...), replies: 1},
		{conn: 1, wait: 50 * time.Millisecond, send: cmd("GET", "before-block"), replies: 1},
		one(1, "LPUSH", "bl3", "v"),
		{conn: 0, replies: 1},
		{conn: 0, send: cmd("XREAD", "COUNT", "1", "BLOCK", "100", "STREAMS", "st", "$")},
		one(1, "XLEN", "st"),
		{conn: 0, replies: 1},
		// CLIENT commands; CLIENT KILL closes the killed client.
		one(4, "CLIENT", "SETNAME", "victim"),
		one(4, "CLIENT", "GETNAME"),
		one(4, "CLIENT", "NO-EVICT", "ON"),
		one(4, "CLIENT", "SETNAME", "bad name"),
		one(4, "CLIENT", "NOSUCH"),
		{conn: 4, send: cmd("CLIENT", "ID"), replies: 1, norm: normInt},
		{conn: 1, dyn: func(last map[int]string) []byte {
			return cmd("CLIENT", "KILL", "ID", strings.TrimSuffix(strings.TrimPrefix(last[4], ":"), "\r\n"))
		}, replies: 1},
		{conn: 4, eof: true},
		one(1, "CLIENT", "KILL", "ADDR", "10.1.2.3:4"),
		one(1, "CLIENT", "KILL", "ID", "123456789"),
		one(4, "CLIENT", "GETNAME"),
		// Pub/sub, RESP2.
		{conn: 3, send: cmd("SUBSCRIBE", "ch1", "ch2"), replies: 2},
		one(1, "PUBLISH", "ch1", "hello"),
		{conn: 3, replies: 1},
		one(3, "PSUBSCRIBE", "p*"),
		one(1, "PUBLISH", "px", "pm"),
		{conn: 3, replies: 1},
		one(3, "PING"),
		one(3, "GET", "k"),
		{conn: 3, send: cmd("UNSUBSCRIBE", "ch1", "ch2"), replies: 2},
		one(3, "PUNSUBSCRIBE", "p*"),
		one(3, "SSUBSCRIBE", "sch"),
		one(1, "SPUBLISH", "sch", "sharded"),
		{conn: 3, replies: 1},
		one(3, "SUNSUBSCRIBE", "sch"),
		one(3, "GET", "k"),
		// RESP3.
		{conn: 2, send: cmd("HELLO", "3"), replies: 1, norm: normHello},
		one(2, "HGETALL", "h"),
		one(2, "HGETALL", "nothing"),
		one(2, "SMEMBERS", "si"),
		one(2, "ZSCORE", "z", "a"),
		one(2, "ZRANGE", "z", "0", "-1", "WITHSCORES"),
		one(2, "GET", "missing"),
		one(2, "HSET", "w:r3", "a", "1"),
		one(2, "HINCRBYFLOAT", "w:r3", "a", "2.5"),
		one(2, "HSETNX", "w:r3", "a", "0"),
		one(2, "HGET", "w:r3", "zz"),
		one(2, "SET", "ws:r3", "x", "GET"),
		one(2, "SET", "ws:r3", "y", "NX", "GET"),
		one(2, "GETDEL", "ws:r3"),
		one(2, "GETDEL", "ws:r3"),
		one(2, "DEL", "w:r3", "ws:r3", "nope"),
		pipe(2, []string{"MULTI"}, []string{"HSET", "w:r3", "b", "1"}, []string{"HGETALL", "w:r3"}, []string{"EXEC"}),
		one(2, "CONFIG", "GET", "maxmemory"),
		one(2, "CLIENT", "TRACKING", "ON"),
		one(2, "GET", "tracked"),
		one(1, "SET", "tracked", "changed"),
		{conn: 2, wait: 50 * time.Millisecond, send: cmd("PING"), replies: 2},
		// Off again: the capture script's reads would make Redis remember
		// the watched keys for this client (see the package comment).
		one(2, "CLIENT", "TRACKING", "OFF"),
		one(2, "SUBSCRIBE", "ch3"),
		one(1, "PUBLISH", "ch3", "resp3 push"),
		{conn: 2, replies: 1},
		one(2, "PING"),
		one(2, "UNSUBSCRIBE", "ch3"),
		one(2, "PSUBSCRIBE", "q*"),
		one(1, "PUBLISH", "qx", "resp3 pmessage"),
		{conn: 2, replies: 1},
		pipe(2, []string{"SUBSCRIBE", "ch4"}, []string{"PING"}, []string{"HSET", "w:sub3", "f", "1"}, []string{"GET", "k"}),
		one(1, "PUBLISH", "ch4", "m4"),
		{conn: 2, replies: 1},
		pipe(2, []string{"PUNSUBSCRIBE"}, []string{"UNSUBSCRIBE"}),
		one(2, "NOSUCHCOMMAND"),
		// Back to RESP2, and RESP3 again.
		{conn: 2, send: cmd("HELLO", "2"), replies: 1, norm: normHello},
		one(2, "HGETALL", "h"),
		one(2, "ZSCORE", "z", "a"),
		one(2, "HELLO", "4"),
		one(2, "HELLO", "3", "AUTH", "nobody", "x"),
		one(2, "HGETALL", "h"),
		{conn: 2, send: cmd("HELLO", "3", "SETNAME", "r3"), replies: 1, norm: normHello},
		one(2, "CLIENT", "GETNAME"),
		one(2, "HGETALL", "h"),
		// A 20 MiB value, plain and watched.
		one(0, "SET", "big", big),
		one(0, "GET", "big"),
		one(0, "STRLEN", "big"),
		one(0, "HSET", "w:big", "f", big),
		one(0, "HGET", "w:big", "f"),
		one(0, "DEL", "w:big", "big"),
	}
	// Generated traffic: pipelines of 1 to 8 commands, on a RESP2 and a
	// RESP3 connection. Collections stay small (and sets hold integers),
	// so that they keep the encodings whose order is the same on every
	// server.
	r := rand.New(rand.NewPCG(1, 2))
	gen := func() []string {
		i := strconv.Itoa(r.IntN(6))
		n := strconv.Itoa(r.IntN(20) - 5)
		switch r.IntN(24) {
		case 0:
			return []string{"SET", "s:" + i, "v" + n}
		case 1:
			return []string{"GET", "s:" + i}
		case 2:
			return []string{"INCRBY", "s:" + i, n}
		case 3:
			return []string{"APPEND", "s:" + i, n}
		case 4:
			return []string{"HSET", "h:" + i, "f" + n, n}
		case 5:
			return []string{"HINCRBY", "h:" + i, "f" + n, n}
		case 6:
			return []string{"HGETALL", "h:" + i}
		case 7:
			return []string{"LPUSH", "l:" + i, n}
		case 8:
			return []string{"LRANGE", "l:" + i, "0", "-1"}
		case 9:
			return []string{"SADD", "set:" + i, n}
		case 10:
			return []string{"SMEMBERS", "set:" + i}
		case 11:
			return []string{"ZADD", "z:" + i, n, "m" + n}
		case 12:
			return []string{"ZRANGE", "z:" + i, "0", "-1", "WITHSCORES"}
		case 13:
			return []string{"HSET", "w:g:" + i, "f" + n, n, "g", i}
		case 14:
			return []string{"HDEL", "w:g:" + i, "f" + n, "g"}
		case 15:
			return []string{"HINCRBYFLOAT", "w:g:" + i, "f" + n, n + ".25"}
		case 16:
			return []string{"DEL", "w:g:" + i, "s:" + i, "ws:g:" + i}
		case 17:
			return []string{"SET", "ws:g:" + i, n}
		case 18:
			return []string{"INCR", "ws:g:" + i}
		case 19:
			return []string{"APPEND", "ws:g:" + i, "x"}
		case 20:
			return []string{"HSETNX", "w:g:" + i, "f" + n, "nx"}
		case 21:
			return []string{"HGETALL", "w:g:" + i}
		case 22:
			return []string{"EXISTS", "w:g:" + i, "ws:g:" + i, "s:" + i}
		}
		return []string{"TYPE", "w:g:" + i}
	}
	// Connection 5 sends only stateless commands (and HELLO 2, as
	// go-redis does): with shared upstream connections it stays on them.
	s = append(s, dstep{conn: 5, send: cmd("HELLO", "2"), replies: 1, norm: normHello}, dstep{conn: 5, send: cmd("HELLO"), replies: 1, norm: normHello})
	// Connection 6 too, switching between RESP3 and RESP2 with HELLO.
	s = append(s, dstep{conn: 6, send: cmd("HELLO", "3"), replies: 1, norm: normHello})
	for i := range 240 {
		var cmds [][]string
		for range 1 + r.IntN(8) {
			cmds = append(cmds, gen())
		}
		s = append(s, pipe([]int{0, 2, 5, 6}[r.IntN(4)], cmds...))
		if i == 80 || i == 160 {
			v := map[int]string{80: "2", 160: "3"}[i]
			s = append(s, dstep{conn: 6, send: append(cmd("HGETALL", "h"), cmd("HELLO", v)...), replies: 2, norm: normHello},
				one(6, "HGETALL", "h"), one(6, "ZSCORE", "z", "a"))
		}
	}
	// Connection 6, in RESP3, leaves the shared connections.
	s = append(s, pipe(6, []string{"HGETALL", "h"}, []string{"CLIENT", "GETNAME"}, []string{"HGETALL", "h"}, []string{"ZSCORE", "z", "a"}),
		pipe(6, []string{"RESET"}, []string{"HGETALL", "h"}))
	return s
}

// runScript runs script against addr and returns every reply, normalised.
func runScript(t *testing.T, addr string, script []dstep) []string {
	conns := map[int]*rc{}
	last := map[int]string{}
	var out []string
	for i, st := range script {
		c := conns[st.conn]
		if c == nil {
			c = dialRC(t, addr)
			conns[st.conn] = c
		}
		time.Sleep(st.wait)
		label := show(st.send)
		if st.dyn != nil {
			st.send = st.dyn(last)
			label = "(made from an earlier reply)"
		}
		if len(st.send) > 0 {
			c.send(st.send)
		}
		if st.eof {
			rest := readAll(t, c)
			delete(conns, st.conn)
			out = append(out, fmt.Sprintf("step %d (conn %d, end): %s", i, st.conn, show([]byte(rest))))
			continue
		}
		for range st.replies {
			rep := string(c.read())
			last[st.conn] = rep
			if st.norm != nil {
				rep = st.norm(rep)
			}
			out = append(out, fmt.Sprintf("step %d (conn %d, %.60s): %s", i, st.conn, label, show([]byte(rep))))
		}
	}
	return out
}

// TestIntegrationDifferential sends the same script straight to one
// redis-server and through cogs (watching "w:" and "ws:") to another: the
// replies must be byte-identical.
func TestIntegrationDifferential(t *testing.T) {
	script := differentialScript()
	n := 0
	for _, st := range script {
		n += st.replies
	}
	if n < 300 {
		t.Fatalf("the script has only %d commands", n)
	}
	direct := redistest.Start(t)
	up := redistest.Start(t)
	// The admin hook on (HELLOs are followed), and a small flush bound.
	addr := startFrontend(t, Config{Upstream: up.Addr, Watcher: testWatcher, MaxPipeline: 7,
		Admin: &testAdmin{}, AdminCommands: []string{"TADMIN"}, AdminPassword: "apw"})
	want := runScript(t, direct.Addr, script)
	got := runScript(t, addr, script)
	diffs := 0
	for i := range want {
		if got[i] != want[i] {
			diffs++
			if diffs <= 10 {
				t.Errorf("reply %d:\nthrough cogs %s\ndirect       %s", i, got[i], want[i])
			}
		}
	}
	if diffs > 0 {
		t.Errorf("%d of %d replies differ", diffs, len(want))
	}
	// The watched writes were captured: the streams exist upstream only.
	u, d := dialRC(t, up.Addr), dialRC(t, direct.Addr)
	if got := u.do("XLEN", "cogs:stream:r"); got == ":0\r\n" {
		t.Errorf("nothing captured")
	}
	if got := d.do("EXISTS", "cogs:stream:r"); got != ":0\r\n" {
		t.Errorf("direct has a stream")
	}
	if !bytes.Equal([]byte(u.do("DBSIZE")), []byte(":"+strconv.Itoa(atoiReply(d.do("DBSIZE"))+2)+"\r\n")) {
		t.Errorf("upstream has other keys than direct and the two streams")
	}
}

func atoiReply(s string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(s, ":"), "\r\n"))
	return n
}

// TestIntegrationDifferentialLimits: the hard limits answer as redis-server
// with the same limits does (maxclients, proto-max-bulk-len), and a
// pipeline far deeper than MaxPipeline is served whole, in order.
func TestIntegrationDifferentialLimits(t *testing.T) {
	direct := redistest.Start(t, "--maxclients", "4", "--proto-max-bulk-len", "1mb")
	up := redistest.Start(t)
	addr := startFrontend(t, Config{Upstream: up.Addr, Watcher: testWatcher, MaxClients: 4, MaxBulk: 1 << 20, MaxPipeline: 7})
	var deep []byte
	for i := range 5000 {
		n := strconv.Itoa(i)
		switch i % 4 {
		case 0:
			deep = append(deep, cmd("HSET", "w:deep"+strconv.Itoa(i%13), "f"+n, n)...)
		case 1:
			deep = append(deep, cmd("INCR", "deep")...)
		case 2:
			deep = append(deep, cmd("GET", "deep")...)
		default:
			deep = append(deep, cmd("HGET", "w:deep"+strconv.Itoa(i%13), "f"+strconv.Itoa(i-3))...)
		}
	}
	run := func(addr string) []string {
		var out []string
		cs := []*rc{dialRC(t, addr), dialRC(t, addr), dialRC(t, addr), dialRC(t, addr)}
		for _, c := range cs {
			out = append(out, c.do("PING"))
		}
		out = append(out, "fifth client: "+readAll(t, dialRC(t, addr)))
		// A pipeline of 5000 commands in one write.
		cs[0].send(deep)
		var b strings.Builder
		for range 5000 {
			b.Write(cs[0].read())
		}
		out = append(out, b.String())
		out = append(out, cs[1].do("SET", "max", strings.Repeat("m", 1<<20)), cs[1].do("STRLEN", "max"))
		out = append(out, cs[1].do("HSET", "w:max", "f", strings.Repeat("m", 1<<20)))
		// One byte over: refused at the length, and the connection closes.
		cs[2].send([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n"))
		out = append(out, "over max bulk: "+readAll(t, cs[2]))
		cs[3].send([]byte("*4\r\n$4\r\nHSET\r\n$3\r\nw:k\r\n$1\r\nf\r\n$1048577\r\n"))
		out = append(out, "over max bulk, watched: "+readAll(t, cs[3]))
		return out
	}
	want, got := run(direct.Addr), run(addr)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("step %d: through cogs %s, direct %s", i, show([]byte(got[i])), show([]byte(want[i])))
		}
	}
	if n := len(entries(t, up.Addr, "cogs:stream:r")); n != 1250+1 {
		t.Errorf("%d entries, want 1251", n)
	}
}

// TestIntegrationStreamingMemory: a 40 MiB value, written and read
// through cogs, passes in bounded memory: cogs allocates far less than the
// value while relaying it both ways.
func TestIntegrationStreamingMemory(t *testing.T) {
	up := redistest.Start(t)
	c := dialRC(t, startFrontend(t, Config{Upstream: up.Addr, Watcher: testWatcher}))
	const size = 40 << 20
	set := []byte("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$" + strconv.Itoa(size) + "\r\n")
	set = append(set, bytes.Repeat([]byte{'v'}, size)...)
	set = append(set, "\r\n"...)
	get := cmd("GET", "big")
	buf := make([]byte, 32<<10)
	c.do("PING")
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c.send(set)
	c.send(get)
	// +OK, then "$41943040\r\n", the value and CRLF: read in place.
	want := len("+OK\r\n") + len("$"+strconv.Itoa(size)+"\r\n") + size + 2
	n, err := io.CopyBuffer(io.Discard, io.LimitReader(c.conn, int64(want)), buf)
	if err != nil || n != int64(want) {
		t.Fatalf("read %d of %d bytes: %v", n, want, err)
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB", alloc>>10)
	if alloc > 4<<20 {
		t.Errorf("relaying a %d MiB value both ways allocated %d KiB", size>>20, alloc>>10)
	}
}
