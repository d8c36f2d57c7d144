package frontend

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/host/internal/redistest"
)

// TestIntegrationShared runs the integration tests again with two shared
// upstream connections (Config.SharedConns): every client starts on them
// and switches to a dedicated connection at its first stateful command.
// (TestIntegrationConnections is left out: it counts upstream connections,
// and the shared ones stay open when clients leave.)
func TestIntegrationShared(t *testing.T) {
	sharedConns = 2
	defer func() { sharedConns = 0 }()
	for _, tc := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"Smoke", TestIntegrationSmoke},
		{"Differential", TestIntegrationDifferential},
		{"DifferentialLimits", TestIntegrationDifferentialLimits},
		{"StreamingMemory", TestIntegrationStreamingMemory},
		{"Capture", TestIntegrationCapture},
		{"CaptureMulti", TestIntegrationCaptureMulti},
		{"Refused", TestIntegrationRefused},
		{"RefusedEach", TestIntegrationRefusedEach},
		{"CaptureManyKeys", TestIntegrationCaptureManyKeys},
		{"ConcurrentClients", TestIntegrationConcurrentClients},
		{"ProtocolError", TestIntegrationProtocolError},
		{"Limits", TestIntegrationLimits},
		{"ScriptFlush", TestIntegrationScriptFlush},
		{"Admin", TestIntegrationAdmin},
		{"AdminHello", TestIntegrationAdminHello},
		{"WatcherRuntime", TestIntegrationWatcherRuntime},
		{"Backpressure", TestIntegrationBackpressure},
		{"TLS", TestIntegrationTLS},
		{"RGSync", TestIntegrationRGSync},
		{"RGSyncAck", TestIntegrationRGSyncAck},
		{"RGSyncRefused", TestIntegrationRGSyncRefused},
		{"Streaming", TestIntegrationStreaming},
		{"AdminNoPassword", TestIntegrationAdminNoPassword},
		{"UpstreamConfig", TestIntegrationUpstreamConfig},
	} {
		t.Run(tc.name, tc.f)
	}
}

// TestIntegrationSharedConns: clients that send only stateless commands
// share the configured upstream connections; a client switches to a
// dedicated one at its first stateful command, with the replies to the
// commands it pipelined before it in order.
func TestIntegrationSharedConns(t *testing.T) {
	up := redistest.Start(t)
	addr := startFrontend(t, Config{Upstream: up.Addr, Watcher: testWatcher, SharedConns: 2})
	u := dialRC(t, up.Addr)
	clients := func() string {
		info := u.do("INFO", "clients")
		i := strings.Index(info, "connected_clients:")
		return strings.TrimSpace(info[i : i+strings.IndexByte(info[i:], '\n')])
	}
	var cs []*rc
	for i := range 10 {
		c := dialRC(t, addr)
		cs = append(cs, c)
		if got := c.do("HSET", "w:s"+strconv.Itoa(i), "f", "v"); got != ":1\r\n" {
			t.Fatalf("HSET: %s", show([]byte(got)))
		}
	}
	if got := clients(); got != "connected_clients:3" { // 2 shared, and u
		t.Errorf("10 stateless clients: %s", got)
	}
	// Pipelined across the switch: stateless commands, then MULTI.
	c := cs[0]
	c.send([]byte(string(cmd("SET", "a", "1")) + string(cmd("HSET", "w:s0", "g", "2")) + string(cmd("RENAME", "w:s0", "x")) +
		string(cmd("INCR", "a")) + string(cmd("MULTI")) + string(cmd("INCR", "a")) + string(cmd("HSET", "w:s0", "h", "3")) +
		string(cmd("EXEC")) + string(cmd("GET", "a"))))
	var got []string
	for range 9 {
		got = append(got, string(c.read()))
	}
	want := []string{"+OK\r\n", ":1\r\n", "-COGS RENAME refused: key \"w:s0\" is watched by recipe \"r\", and RENAME cannot be captured\r\n",
		":2\r\n", "+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "*2\r\n:3\r\n:1\r\n", "$1\r\n3\r\n"}
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Errorf("across the switch: %q, want %q", got, want)
	}
	if got := clients(); got != "connected_clients:4" {
		t.Errorf("after one client switched: %s", got)
	}
	if got := len(entries(t, up.Addr, "cogs:stream:r")); got != 12 {
		t.Errorf("%d entries, want 12", got)
	}
	// RESP3 clients share RESP3 connections (as many, dialled when first
	// needed), and keep their protocol when they leave them.
	// (One more client: entries's connection.)
	for i, want := range []string{"connected_clients:6", "connected_clients:7", "connected_clients:7"} {
		c := dialRC(t, addr)
		if got := normHello(c.do("HELLO", "3")); !strings.HasPrefix(got, "%7\r\n") {
			t.Fatalf("HELLO 3: %s", show([]byte(got)))
		}
		k := "w:r3:" + strconv.Itoa(i)
		if got := c.do("HSET", k, "f", "v"); got != ":1\r\n" {
			t.Errorf("HSET: %s", show([]byte(got)))
		}
		if got := c.do("HGETALL", k); got != "%1\r\n$1\r\nf\r\n$1\r\nv\r\n" {
			t.Errorf("HGETALL in RESP3: %s", show([]byte(got)))
		}
		if got := clients(); got != want {
			t.Errorf("RESP3 client %d: %s, want %s", i, got, want)
		}
		if i == 2 {
			if got := c.do("CLIENT", "SETNAME", "r3"); got != "+OK\r\n" {
				t.Errorf("CLIENT SETNAME: %s", show([]byte(got)))
			}
			if got := c.do("HGETALL", k); got != "%1\r\n$1\r\nf\r\n$1\r\nv\r\n" {
				t.Errorf("HGETALL in RESP3 on a dedicated connection: %s", show([]byte(got)))
			}
			if got := clients(); got != "connected_clients:8" {
				t.Errorf("after a RESP3 client left the shared connections: %s", got)
			}
		}
	}

	// Many clients at once, each pipelining, some switching half way.
	var wg sync.WaitGroup
	for i := range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialRC(t, addr)
			id := strconv.Itoa(i)
			for r := range 30 {
				var b []byte
				for d := range 8 {
					b = append(b, cmd("INCR", "n"+id)...)
					if d == 4 && r == 15 && i%2 == 0 {
						b = append(b, cmd("SELECT", "0")...)
					}
				}
				c.send(b)
				for d := range 8 {
					got := string(c.read())
					want := ":" + strconv.Itoa(r*8+d+1) + "\r\n"
					if got != want {
						t.Errorf("client %d: %s, want %s", i, show([]byte(got)), show([]byte(want)))
						return
					}
					if d == 4 && r == 15 && i%2 == 0 {
						if got := string(c.read()); got != "+OK\r\n" {
							t.Errorf("SELECT: %s", show([]byte(got)))
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()

	// A client that leaves with replies in flight does not disturb the
	// others on its shared connection.
	d := dialRC(t, addr)
	var b []byte
	for range 2000 {
		b = append(b, cmd("INCR", "left")...)
	}
	d.send(b)
	d.conn.Close()
	e := dialRC(t, addr)
	for range 3 {
		if got := e.do("PING"); got != "+PONG\r\n" {
			t.Errorf("PING after a client left: %s", show([]byte(got)))
		}
	}
	// How many of its commands ran depends on when its socket's reset
	// reached cogs (as with Redis itself, which drops what it had not read
	// yet): wait until the count settles, and check that the replies the
	// other client gets stay in step.
	last := ""
	for deadline, same := time.Now().Add(5*time.Second), 0; same < 5; time.Sleep(20 * time.Millisecond) {
		got := e.do("GET", "left")
		if got == last {
			same++
		} else {
			last, same = got, 0
		}
		if time.Now().After(deadline) {
			t.Errorf("the count of the client that left does not settle: %s", show([]byte(got)))
			break
		}
	}
	_, val, _ := strings.Cut(strings.TrimSuffix(last, "\r\n"), "\r\n") // "$4\r\n2000\r\n": 2000
	if n, err := strconv.Atoi(val); !strings.HasPrefix(last, "$") || err != nil || n < 1 || n > 2000 {
		t.Errorf("the commands of the client that left: %s", show([]byte(last)))
	}
	if got := e.do("INCR", "other"); got != ":1\r\n" {
		t.Errorf("INCR after a client left: %s", show([]byte(got)))
	}

	// The shared connections are named; when they are killed, a client
	// with nothing outstanding moves to a new one.
	list := u.do("CLIENT", "LIST")
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, " name="+sharedName+" ") {
			id := strings.TrimPrefix(strings.Fields(line)[0], "id=")
			u.do("CLIENT", "KILL", "ID", id)
			killed++
		}
	}
	if killed != 4 { // two RESP2, two RESP3
		t.Errorf("%d shared connections in CLIENT LIST:\n%s", killed, list)
	}
	time.Sleep(100 * time.Millisecond) // until cogs has seen them close
	for range 3 {
		if got := e.do("INCR", "after-kill"); !strings.HasPrefix(got, ":") {
			t.Errorf("INCR after the shared connections were killed: %s", show([]byte(got)))
		}
	}
}

// TestIntegrationSharedSlowClient: a client that does not read its
// replies for a while, large replies and many small ones, on a shared
// connection: every client gets every reply, whole and in order, and the
// others are served meanwhile.
func TestIntegrationSharedSlowClient(t *testing.T) {
	up := redistest.Start(t)
	addr := startFrontend(t, Config{Upstream: up.Addr, Watcher: testWatcher, SharedConns: 1})
	u := dialRC(t, up.Addr)
	v := strings.Repeat("v", 64<<10)
	small := strings.Repeat("s", 40)
	big := strings.Repeat("b", 5<<20)
	u.do("SET", "v", v)
	u.do("SET", "small", small)
	u.do("SET", "big", big)
	wantV := "$" + strconv.Itoa(len(v)) + "\r\n" + v + "\r\n"
	wantS := "$" + strconv.Itoa(len(small)) + "\r\n" + small + "\r\n"

	// a: 40 replies of 64 KiB, then 150,000 small ones (7 MB: more than
	// the sockets hold), unread for a while.
	a := dialRC(t, addr)
	var b []byte
	for range 40 {
		b = append(b, cmd("GET", "v")...)
	}
	get := cmd("GET", "small")
	for range 150000 {
		b = append(b, get...)
	}
	go a.conn.Write(b)
	c := dialRC(t, addr)
	if got := c.do("GET", "big"); got != "$"+strconv.Itoa(len(big))+"\r\n"+big+"\r\n" {
		t.Errorf("GET big: %d bytes", len(got))
	}
	d := dialRC(t, addr)
	for range 3 {
		if got := d.do("PING"); got != "+PONG\r\n" {
			t.Errorf("PING: %s", show([]byte(got)))
		}
	}
	time.Sleep(500 * time.Millisecond)
	for range 3 {
		if got := d.do("INCR", "d"); !strings.HasPrefix(got, ":") {
			t.Errorf("INCR: %s", show([]byte(got)))
		}
	}
	for i := range 40 + 150000 {
		want := wantS
		if i < 40 {
			want = wantV
		}
		if got := string(a.read()); got != want {
			t.Fatalf("reply %d of the slow client: %s", i, show([]byte(got)))
		}
	}
	if got := a.do("HSET", "w:slow", "f", "v"); got != ":1\r\n" {
		t.Errorf("HSET after: %s", show([]byte(got)))
	}
}
