package frontend

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/host/internal/redistest"
)

// readAll reads what c receives until the connection closes.
func readAll(t *testing.T, c *rc) string {
	t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c.br)
	if err != nil {
		t.Fatalf("read to the end: %v (got %q)", err, b)
	}
	return string(b)
}

// TestIntegrationProtocolError: a protocol error is answered as Redis
// answers it, after the replies before it, and the connection closes.
func TestIntegrationProtocolError(t *testing.T) {
	direct := redistest.Start(t)
	up := redistest.Start(t)
	addr := startFrontend(t, Config{Upstream: up.Addr, Watcher: testWatcher})
	for _, in := range []string{
		"PING\r\n*1\r\n$x\r\n",
		"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*1\r\nPING\r\n",
		"HSET w:1 f v\r\nRENAME w:1 w:2\r\n*x\r\n",
		"*1\r\n$" + "99999999999" + "\r\n",
	} {
		var got [2]string
		for i, a := range []string{direct.Addr, addr} {
			c := dialRC(t, a)
			c.send([]byte(in))
			got[i] = readAll(t, c)
		}
		want := got[0]
		if strings.Contains(in, "RENAME") { // refused through cogs
			want = ":1\r\n-COGS RENAME refused: key \"w:1\" is watched by recipe \"r\", and RENAME cannot be captured\r\n-ERR Protocol error: invalid multibulk length\r\n"
		}
		if got[1] != want {
			t.Errorf("%q: through cogs %s, direct %s", in, show([]byte(got[1])), show([]byte(got[0])))
		}
	}
}

// TestIntegrationLimits: the configured limits answer as Redis would.
func TestIntegrationLimits(t *testing.T) {
	up := redistest.Start(t)
	addr := startFrontend(t, Config{Upstream: up.Addr, MaxClients: 2, MaxBulk: 1000, MaxArgs: 10})

	c1, c2 := dialRC(t, addr), dialRC(t, addr)
	c1.do("PING")
	c2.do("PING")
	c3 := dialRC(t, addr)
	if got := readAll(t, c3); got != "-ERR max number of clients reached\r\n" {
		t.Errorf("third client: %s", show([]byte(got)))
	}
	c2.conn.Close()
	var c4 *rc
	for deadline := time.Now().Add(5 * time.Second); ; { // until c2's session has ended
		c4 = dialRC(t, addr)
		got := c4.do("PING")
		if got == "+PONG\r\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a client left: %s", show([]byte(got)))
		}
		time.Sleep(10 * time.Millisecond)
	}

	c1.send(cmd("SET", "k", strings.Repeat("x", 1001)))
	if got := readAll(t, c1); got != "-ERR Protocol error: invalid bulk length\r\n" {
		t.Errorf("bulk over max_bulk: %s", show([]byte(got)))
	}
	c4.send(cmd("DEL", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"))
	if got := readAll(t, c4); got != "-ERR Protocol error: invalid multibulk length\r\n" {
		t.Errorf("over max_args: %s", show([]byte(got)))
	}
}

// TestIntegrationConnections: each client has its own upstream
// connection, which ends with it; CLIENT KILL of it closes the client.
func TestIntegrationConnections(t *testing.T) {
	up := redistest.Start(t)
	addr := startFrontend(t, Config{Upstream: up.Addr, Watcher: testWatcher})
	u := dialRC(t, up.Addr)
	clients := func() string {
		info := u.do("INFO", "clients")
		i := strings.Index(info, "connected_clients:")
		return strings.TrimSpace(info[i : i+strings.IndexByte(info[i:], '\n')])
	}
	a, b := dialRC(t, addr), dialRC(t, addr)
	a.do("PING")
	b.do("PING")
	if got := clients(); got != "connected_clients:3" {
		t.Errorf("with two clients: %s", got)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(a.do("CLIENT", "ID"), ":"), "\r\n")
	if got := b.do("CLIENT", "KILL", "ID", id); got != ":1\r\n" {
		t.Errorf("CLIENT KILL: %s", show([]byte(got)))
	}
	if got := readAll(t, a); got != "" {
		t.Errorf("killed client read %s", show([]byte(got)))
	}
	b.conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for clients() != "connected_clients:1" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := clients(); got != "connected_clients:1" {
		t.Errorf("after the clients left: %s", got)
	}
}

// TestIntegrationUpstreamConfig: credentials and database of the upstream
// connection, AUTH from clients, and an unreachable upstream.
func TestIntegrationUpstreamConfig(t *testing.T) {
	up := redistest.Start(t, "--requirepass", "secret")
	u := dialRC(t, up.Addr)
	u.do("AUTH", "secret")

	addr := startFrontend(t, Config{Upstream: up.Addr, Password: "secret", DB: 2, Watcher: testWatcher})
	c := dialRC(t, addr)
	c.do("SET", "k", "v")
	c.do("HSET", "w:1", "f", "v")
	u.do("SELECT", "2")
	if got := u.do("GET", "k"); got != "$1\r\nv\r\n" {
		t.Errorf("GET k in db 2: %s", show([]byte(got)))
	}
	if got := u.do("XLEN", "cogs:stream:r"); got != ":1\r\n" {
		t.Errorf("stream in db 2: %s", show([]byte(got)))
	}
	// Streams go to the configured database whatever the client selected.
	c.do("SELECT", "5")
	c.do("HSET", "w:1", "f", "v")
	if got := u.do("XLEN", "cogs:stream:r"); got != ":2\r\n" {
		t.Errorf("stream in db 2 after SELECT 5: %s", show([]byte(got)))
	}
	if got := c.do("HGETALL", "w:1"); got != "*2\r\n$1\r\nf\r\n$1\r\nv\r\n" {
		t.Errorf("the client is still in db 5: %s", show([]byte(got)))
	}

	// RESET undoes AUTH and SELECT upstream: cogs does them again.
	for _, step := range [][2]string{
		{"SELECT 3", "+OK\r\n"},
		{"RESET", "+RESET\r\n"},
		{"GET k", "$1\r\nv\r\n"},
		{"MULTI", "+OK\r\n"},
		{"RESET", "+RESET\r\n"},
		{"EXEC", "-ERR EXEC without MULTI\r\n"},
		{"HSET w:1 g x", ":1\r\n"},
	} {
		if got := c.do(strings.Fields(step[0])...); got != step[1] {
			t.Errorf("%s: %s, want %s", step[0], show([]byte(got)), show([]byte(step[1])))
		}
	}
	if got := u.do("XLEN", "cogs:stream:r"); got != ":3\r\n" {
		t.Errorf("stream in db 2 after RESET: %s", show([]byte(got)))
	}

	// Without configured credentials, the client authenticates itself.
	addr = startFrontend(t, Config{Upstream: up.Addr})
	c = dialRC(t, addr)
	if got := c.do("GET", "k"); !strings.HasPrefix(got, "-NOAUTH") {
		t.Errorf("before AUTH: %s", show([]byte(got)))
	}
	if got := c.do("AUTH", "secret"); got != "+OK\r\n" {
		t.Errorf("AUTH: %s", show([]byte(got)))
	}
	if got := c.do("HELLO", "3", "AUTH", "default", "wrong"); !strings.HasPrefix(got, "-WRONGPASS") {
		t.Errorf("HELLO AUTH wrong: %s", show([]byte(got)))
	}

	// Wrong credentials, or no upstream: Serve fails at once, saying why.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Upstream: up.Addr, Password: "wrong"}, "frontend: upstream " + up.Addr + ": auth: WRONGPASS invalid username-password pair or user is disabled."},
		{Config{Upstream: up.Addr, Password: "secret", DB: 99}, "frontend: upstream " + up.Addr + ": select: ERR DB index is out of range"},
		{Config{Upstream: dead}, "frontend: upstream " + dead + ": dial tcp " + dead + ": connect: connection refused"},
	} {
		srv, err := New(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Serve(l); err == nil || err.Error() != tc.want {
			t.Errorf("Serve: %v, want %s", err, tc.want)
		}
		if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
			t.Errorf("the listener is still open after Serve failed")
		}
		srv.Close()
	}
}

// TestIntegrationScriptFlush: after SCRIPT FLUSH, through cogs or straight
// to Redis, captures go on (as EVAL, which loads the script again).
func TestIntegrationScriptFlush(t *testing.T) {
	up := redistest.Start(t)
	c := dialRC(t, startFrontend(t, Config{Upstream: up.Addr, Watcher: testWatcher}))
	u := dialRC(t, up.Addr)
	c.do("SCRIPT", "FLUSH")
	if got := c.do("HSET", "w:1", "a", "1"); got != ":1\r\n" {
		t.Errorf("HSET after SCRIPT FLUSH: %s", show([]byte(got)))
	}
	if got := c.do("HSET", "w:1", "b", "2"); got != ":1\r\n" {
		t.Errorf("second HSET after SCRIPT FLUSH: %s", show([]byte(got)))
	}
	// Flushed behind cogs's back: the write in flight fails with NOSCRIPT
	// (nothing written, nothing captured); the next ones succeed.
	u.do("SCRIPT", "FLUSH")
	if got := c.do("HSET", "w:1", "c", "3"); !strings.HasPrefix(got, "-NOSCRIPT") {
		t.Errorf("HSET after a foreign SCRIPT FLUSH: %s", show([]byte(got)))
	}
	if got := c.do("HSET", "w:1", "c", "3"); got != ":1\r\n" {
		t.Errorf("HSET after the NOSCRIPT: %s", show([]byte(got)))
	}
	if got := entries(t, up.Addr, "cogs:stream:r"); len(got) != 3 {
		t.Errorf("entries: %q", got)
	}
}

// TestIntegrationClientReplyRefused: CLIENT REPLY OFF and SKIP would
// drop the replies the front end counts on, so they are refused; ON
// passes.
func TestIntegrationClientReplyRefused(t *testing.T) {
	up := redistest.Start(t)
	for _, w := range []Watcher{nil, testWatcher} {
		c := dialRC(t, startFrontend(t, Config{Upstream: up.Addr, Watcher: w}))
		for _, mode := range []string{"OFF", "skip"} {
			if got := c.do("CLIENT", "REPLY", mode); !strings.HasPrefix(got, "-COGS CLIENT REPLY refused: ") {
				t.Errorf("CLIENT REPLY %s: %s", mode, show([]byte(got)))
			}
		}
		if got := c.do("CLIENT", "REPLY", "ON"); got != "+OK\r\n" {
			t.Errorf("CLIENT REPLY ON: %s", show([]byte(got)))
		}
		if got := c.do("PING"); got != "+PONG\r\n" {
			t.Errorf("PING: %s", show([]byte(got)))
		}
	}
}
