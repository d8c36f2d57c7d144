package resp

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startRedis starts a throwaway redis-server on a free port and returns its
// address. It skips the test when redis-server is not on PATH, unless
// COGS_REQUIRE_INTEGRATION=1.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("COGS_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("redis-server not on PATH and COGS_REQUIRE_INTEGRATION=1")
		}
		t.Skip("redis-server not on PATH")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	c := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir(),
		"--enable-debug-command", "yes", "--logfile", "")
	var log bytes.Buffer
	c.Stdout, c.Stderr = &log, &log
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Process.Kill()
		c.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not start: %v\n%s", err, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// recorder keeps all that is read from the socket, unless off.
type recorder struct {
	r   io.Reader
	off bool
	got bytes.Buffer
}

func (rec *recorder) Read(b []byte) (int, error) {
	n, err := rec.r.Read(b)
	if !rec.off {
		rec.got.Write(b[:n])
	}
	return n, err
}

// client is a connection to redis-server read by a Reader; replies holds
// the raw bytes of every reply read.
type client struct {
	t       *testing.T
	conn    net.Conn
	rec     *recorder
	br      *bufio.Reader
	r       *Reader
	replies bytes.Buffer
}

func dial(t *testing.T, addr string) *client {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(time.Minute))
	c := &client{t: t, conn: conn, rec: &recorder{r: conn}}
	c.br = bufio.NewReader(c.rec)
	c.r = NewReader(c.br, Limits{})
	return c
}

func (c *client) send(b []byte) {
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// read reads one reply, with ReadValue or, if viaCopy, with CopyReply and
// then ReadValue on what was copied.
func (c *client) read(viaCopy bool) (Value, Kind) {
	c.t.Helper()
	if !viaCopy {
		v, raw, err := c.r.ReadValue()
		if err != nil {
			c.t.Fatal(err)
		}
		c.replies.Write(raw)
		return v, v.Kind
	}
	var buf bytes.Buffer
	k, err := c.r.CopyReply(&buf)
	if err != nil {
		c.t.Fatal(err)
	}
	copied := buf.Bytes()
	c.replies.Write(copied)
	v, raw, err := NewReader(bufio.NewReader(bytes.NewReader(copied)), Limits{}).ReadValue()
	if err != nil || len(raw) != len(copied) {
		c.t.Fatalf("copied %d bytes: read back %d, %v", len(copied), len(raw), err)
	}
	return v, k
}

// checkConsumed: the replies read, end to end, are exactly what came off
// the socket, with nothing left over.
func (c *client) checkConsumed() {
	c.t.Helper()
	if c.br.Buffered() != 0 {
		c.t.Errorf("%d bytes left over", c.br.Buffered())
	}
	if !bytes.Equal(c.replies.Bytes(), c.rec.got.Bytes()) {
		c.t.Errorf("replies (%d bytes) differ from what was read (%d bytes)", c.replies.Len(), c.rec.got.Len())
	}
}

// match compares a rendered reply with a pattern: exact, or a prefix if
// the pattern ends with "...".
func match(pattern, got string) bool {
	if p, ok := strings.CutSuffix(pattern, "..."); ok {
		return strings.HasPrefix(got, p)
	}
	return got == pattern
}

type step struct {
	conn  int      // which client sends
	cmd   []string // sent as a multibulk command
	raw   string   // or sent as is
	want2 []string // replies in RESP2, rendered
	want3 []string // in RESP3; nil and want2 set: as in RESP2
	only  int      // if not 0, only for this protocol
}

var bigValue = strings.Repeat("x", 1<<20)

var script = []step{
	{cmd: []string{"PING"}, want2: []string{"+PONG"}},
	{raw: "PING\r\n", want2: []string{"+PONG"}},
	{raw: "ECHO \"a\\x41\\n\"\r\n", want2: []string{`$"aA\n"`}},
	// Framing as redis-server does it: the byte after a header's CR and
	// the two after a bulk are not looked at; empty commands are skipped.
	{raw: "*1\rX$4\r\nPINGxy", want2: []string{"+PONG"}},
	{raw: "\r\n\n*0\r\n*-1\r\nPING\r\n", want2: []string{"+PONG"}},
	{cmd: []string{"SET", "k", "v"}, want2: []string{"+OK"}},
	{cmd: []string{"GET", "k"}, want2: []string{`$"v"`}},
	{cmd: []string{"GET", "missing"}, want2: []string{"$nil"}, want3: []string{"_"}},
	{cmd: []string{"INCR", "counter"}, want2: []string{":1"}},
	{cmd: []string{"INCRBY", "counter", "-9223372036854775807"}, want2: []string{":-9223372036854775806"}},
	{cmd: []string{"RPUSH", "list", "a", "", "c\r\n"}, want2: []string{":3"}},
	{cmd: []string{"LRANGE", "list", "0", "-1"}, want2: []string{`*[$"a" $"" $"c\r\n"]`}},
	{cmd: []string{"LRANGE", "nolist", "0", "-1"}, want2: []string{`*[]`}},
	{cmd: []string{"HSET", "h", "f1", "v1"}, want2: []string{":1"}},
	{cmd: []string{"HGETALL", "h"}, want2: []string{`*[$"f1" $"v1"]`}, want3: []string{`%[$"f1" $"v1"]`}},
	{cmd: []string{"HGETALL", "noh"}, want2: []string{`*[]`}, want3: []string{`%[]`}},
	{cmd: []string{"SADD", "s", "x"}, want2: []string{":1"}},
	{cmd: []string{"SMEMBERS", "s"}, want2: []string{`*[$"x"]`}, want3: []string{`~[$"x"]`}},
	{cmd: []string{"ZADD", "z", "1.5", "m"}, want2: []string{":1"}},
	{cmd: []string{"ZSCORE", "z", "m"}, want2: []string{`$"1.5"`}, want3: []string{",1.5"}},
	{cmd: []string{"ZRANGE", "z", "0", "-1", "WITHSCORES"}, want2: []string{`*[$"m" $"1.5"]`}, want3: []string{`*[*[$"m" ,1.5]]`}},
	{cmd: []string{"NOSUCHCOMMAND", "x"}, want2: []string{"-ERR unknown command 'NOSUCHCOMMAND'..."}},
	{cmd: []string{"LPUSH", "k", "x"}, want2: []string{"-WRONGTYPE Operation against a key holding the wrong kind of value"}},
	{cmd: []string{"SET", "big", bigValue}, want2: []string{"+OK"}},
	{cmd: []string{"GET", "big"}, want2: []string{`$"xxxxxxxxxxxxxxxx...`}},
	{cmd: []string{"STRLEN", "big"}, want2: []string{":1048576"}},
	{cmd: []string{"MULTI"}, want2: []string{"+OK"}},
	{cmd: []string{"INCR", "counter"}, want2: []string{"+QUEUED"}},
	{cmd: []string{"GET", "k"}, want2: []string{"+QUEUED"}},
	{cmd: []string{"EXEC"}, want2: []string{`*[:-9223372036854775805 $"v"]`}},
	{cmd: []string{"EXEC"}, want2: []string{"-ERR EXEC without MULTI"}},
	{cmd: []string{"EVAL", "return {1, 'a', {err='E x'}, {ok='fine'}, false}", "0"}, want2: []string{`*[:1 $"a" -E x +fine $nil]`}, want3: []string{`*[:1 $"a" -E x +fine _]`}},
	{cmd: []string{"DEBUG", "PROTOCOL", "string"}, want2: []string{`$"Hello World"`}},
	{cmd: []string{"DEBUG", "PROTOCOL", "integer"}, want2: []string{":12345"}},
	{cmd: []string{"DEBUG", "PROTOCOL", "double"}, want2: []string{`$"3.141"`}, want3: []string{",3.141"}},
	{cmd: []string{"DEBUG", "PROTOCOL", "bignum"}, want2: []string{`$"1234567999999999999999999999999999999"`}, want3: []string{"(1234567999999999999999999999999999999"}},
	{cmd: []string{"DEBUG", "PROTOCOL", "null"}, want2: []string{"$nil"}, want3: []string{"_"}},
	{cmd: []string{"DEBUG", "PROTOCOL", "array"}, want2: []string{"*[:0 :1 :2]"}},
	{cmd: []string{"DEBUG", "PROTOCOL", "set"}, want2: []string{"*[:0 :1 :2]"}, want3: []string{"~[:0 :1 :2]"}},
	{cmd: []string{"DEBUG", "PROTOCOL", "map"}, want2: []string{"*[:0 :0 :1 :1 :2 :0]"}, want3: []string{"%[:0 #f :1 #t :2 #f]"}},
	{cmd: []string{"DEBUG", "PROTOCOL", "attrib"}, want2: []string{`$"Some real reply following the attribute"`},
		want3: []string{`|[$"key-popularity" *[$"key:123" :90]] $"Some real reply following the attribute"`}},
	{cmd: []string{"DEBUG", "PROTOCOL", "push"}, want2: []string{"-ERR RESP2 is not supported by this command"},
		want3: []string{`>[$"server-cpu-usage" :42]`, `$"Some real reply following the push reply"`}},
	{cmd: []string{"DEBUG", "PROTOCOL", "verbatim"}, want2: []string{`$"This is a verbatim\nstring"`}, want3: []string{`="txt:This is a verbatim\nstring"`}},
	{cmd: []string{"DEBUG", "PROTOCOL", "true"}, want2: []string{":1"}, want3: []string{"#t"}},
	{cmd: []string{"DEBUG", "PROTOCOL", "false"}, want2: []string{":0"}, want3: []string{"#f"}},
	// Client-side caching: a write from the other connection sends an
	// invalidation push, which comes before the reply to the next command.
	{only: 3, cmd: []string{"CLIENT", "TRACKING", "ON"}, want2: []string{"+OK"}},
	{only: 3, cmd: []string{"GET", "k"}, want2: []string{`$"v"`}},
	{only: 3, conn: 1, cmd: []string{"SET", "k", "v2"}, want2: []string{"+OK"}},
	{only: 3, cmd: []string{"PING"}, want2: []string{`>[$"invalidate" *[$"k"]]`, "+PONG"}},
	{only: 3, cmd: []string{"CLIENT", "TRACKING", "OFF"}, want2: []string{"+OK"}},
	// Pub/sub: arrays in RESP2, pushes in RESP3.
	{cmd: []string{"SUBSCRIBE", "ch"}, want2: []string{`*[$"subscribe" $"ch" :1]`}, want3: []string{`>[$"subscribe" $"ch" :1]`}},
	{conn: 1, cmd: []string{"PUBLISH", "ch", "hi"}, want2: []string{":1"}},
	{cmd: []string{"PING"}, want2: []string{`*[$"message" $"ch" $"hi"]`, `*[$"pong" $""]`}, want3: []string{`>[$"message" $"ch" $"hi"]`, "+PONG"}},
	{cmd: []string{"UNSUBSCRIBE", "ch"}, want2: []string{`*[$"unsubscribe" $"ch" :0]`}, want3: []string{`>[$"unsubscribe" $"ch" :0]`}},
	{cmd: []string{"DEL", "k", "counter", "list", "h", "s", "z", "big"}, want2: []string{":7"}},
}

// TestIntegrationReplies sends a script covering every reply type to a
// real redis-server in RESP2 and RESP3 and checks that the Reader takes
// exactly each reply, no more, no less, and parses it as expected.
func TestIntegrationReplies(t *testing.T) {
	addr := startRedis(t)
	for _, proto := range []int{2, 3} {
		for _, viaCopy := range []bool{false, true} {
			t.Run(fmt.Sprintf("RESP%d/copy=%v", proto, viaCopy), func(t *testing.T) {
				cs := []*client{dial(t, addr), dial(t, addr)}
				for _, c := range cs {
					c.send(cmd("HELLO", strconv.Itoa(proto)))
					v, _ := c.read(viaCopy)
					if want := map[int]Kind{2: Array, 3: Map}[proto]; v.Kind != want || !strings.Contains(render(v), `$"proto" :`+strconv.Itoa(proto)) {
						t.Fatalf("HELLO: %s", render(v))
					}
				}
				for _, s := range script {
					if s.only != 0 && s.only != proto {
						continue
					}
					c := cs[s.conn]
					if s.raw != "" {
						c.send([]byte(s.raw))
					} else {
						c.send(cmd(s.cmd...))
					}
					want := s.want2
					if proto == 3 && s.want3 != nil {
						want = s.want3
					}
					for _, w := range want {
						v, k := c.read(viaCopy)
						got := render(v)
						if !match(w, got) || k != v.Kind {
							t.Fatalf("%q %q: got %.200s (kind %v), want %s", s.cmd, s.raw, got, k, w)
						}
					}
				}
				for _, c := range cs {
					c.checkConsumed()
				}
			})
		}
	}
}

// TestIntegrationPipeline sends thousands of commands in one write and
// reads their replies, which arrive in arbitrary pieces.
func TestIntegrationPipeline(t *testing.T) {
	addr := startRedis(t)
	c := dial(t, addr)
	c.send(cmd("HELLO", "3"))
	c.read(false)
	var batch []byte
	const n = 2000
	for i := range n {
		batch = append(batch, cmd("SET", "k"+strconv.Itoa(i%10), strings.Repeat("v", i))...)
		batch = append(batch, cmd("GET", "k"+strconv.Itoa(i%10))...)
		batch = append(batch, cmd("DEBUG", "PROTOCOL", "attrib")...)
		batch = append(batch, cmd("HGETALL", "nothing")...)
	}
	go c.conn.Write(batch)
	for i := range n {
		for j, want := range []string{"+OK", `$"` + strings.Repeat("v", i) + `"`,
			`|[$"key-popularity" *[$"key:123" :90]] $"Some real reply following the attribute"`, "%[]"} {
			v, _ := c.read(i%2 == 1)
			if got := render(v); got != want {
				t.Fatalf("command %d.%d: %.100s, want %.100s", i, j, got, want)
			}
		}
	}
	c.checkConsumed()
}

// TestIntegrationLargeReply streams a 20 MB value out of redis-server with
// CopyReply.
func TestIntegrationLargeReply(t *testing.T) {
	addr := startRedis(t)
	c := dial(t, addr)
	const size = 20 << 20
	w := bufio.NewWriter(c.conn)
	w.WriteString("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$" + strconv.Itoa(size) + "\r\n")
	io.Copy(w, &pattern{n: size})
	w.WriteString("\r\n")
	w.Write(cmd("GET", "big"))
	w.Flush()
	if v, _ := c.read(false); render(v) != "+OK" {
		t.Fatalf("SET: %s", render(v))
	}
	head := "$" + strconv.Itoa(size) + "\r\n"
	c.rec.off = true // keep the memory count to the Reader's
	cw := &checkWriter{start: int64(len(head)), size: size}
	allocs := allocated(func() {
		if k, err := c.r.CopyReply(cw); err != nil || k != BulkString {
			t.Fatalf("GET: %v %v", k, err)
		}
	})
	if cw.bad || cw.head.String() != head || cw.tail.String() != "\r\n" {
		t.Fatalf("GET: bad %v, head %q, tail %q", cw.bad, cw.head.String(), cw.tail.String())
	}
	if allocs > 1<<20 {
		t.Fatalf("allocated %d bytes", allocs)
	}
}

// TestIntegrationCommandErrors sends bad commands to redis-server and
// checks that the Reader refuses each with the very text redis-server
// replies.
func TestIntegrationCommandErrors(t *testing.T) {
	addr := startRedis(t)
	pad := strings.Repeat("1", 70000)
	for _, in := range []string{
		"*abc\r\n",
		"*\r\n",
		"*01\r\n",
		"*-0\r\n",
		"*1\r\n$-1\r\n",
		"*1\r\n$abc\r\n",
		"*1\r\n$01\r\n",
		"*1\r\n$536870913\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
		"*1\r\n\r\n",
		"*1\r\n\nx\r\n",
		"*1\r\n*1\r\n",
		"SET \"a b\r\n",
		"SET 'a'b\r\n",
		"SET \"a\\\"\r\n",
		"*" + pad,
		"*1\r\n$" + pad,
		"GET " + pad,
		// redis-server waits for the end of a line with a NUL until 64
		// KiB have piled up; the Reader refuses it at once.
		"*1\x00\r\n" + pad,
		"*1\r\n$1\x00\r\n" + pad,
		"GET a\x00b\r\n" + pad,
	} {
		c := dial(t, addr)
		c.send([]byte(in))
		line, err := c.br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "-") {
			t.Fatalf("%.40q: redis-server replied %q, %v", in, line, err)
		}
		want := strings.TrimSuffix(line[1:], "\r\n")
		_, err = readCommands(t, []byte(in), modes[0], Limits{})
		if err == nil || err.Error() != want {
			t.Errorf("%.40q: %v, redis-server: %q", in, err, want)
		}
	}
}

// TestIntegrationInline sends the inline lines of TestInlineQuoting to
// redis-server as arguments of EVAL "return ARGV" and checks that it splits
// them as the Reader does.
func TestIntegrationInline(t *testing.T) {
	addr := startRedis(t)
	lines := []string{
		`a b  c`, "  \t a\tb \t", "\va\f b", "a\vb", `""`, `"" ''`, `"a b"`, `'a b'`,
		`"\x41\x7a\x7A\x00"`, `"\x4"`, `"\xZZ"`, `"\n\r\t\b\a"`, `"\"\\\q\'"`, `'it\'s'`,
		`'a\nb\"'`, `"'"`, `'"'`, `ab"c d"`, `ab'c d'`, "\"a\"\tb", "\"a\"\vb", `"a"b`, `'a'b`,
		`"a`, `'a`, `"a\"`, `"a\`, `'a\'`, `a"`, "\xff\x80", "a\rb", "x\r",
	}
	for _, line := range lines {
		in := `EVAL "return ARGV" 0 ` + line + "\r\n"
		items, ourErr := readCommands(t, []byte(in), modes[0], Limits{})
		c := dial(t, addr)
		c.send([]byte(in))
		v, _ := c.read(false)
		if v.Kind == SimpleError {
			if ourErr == nil || ourErr.Error() != string(v.Str) || len(items) != 0 {
				t.Errorf("%q: redis-server: %s; Reader: %+v %v", line, v.Str, items, ourErr)
			}
			continue
		}
		var theirs []string
		for _, e := range v.Elems {
			theirs = append(theirs, string(e.Str))
		}
		if ourErr != io.EOF || len(items) != 1 || fmt.Sprintf("%q", items[0].args[3:]) != fmt.Sprintf("%q", theirs) {
			t.Errorf("%q: redis-server: %q; Reader: %+v %v", line, theirs, items, ourErr)
		}
	}
}
