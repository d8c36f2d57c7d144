package frontend

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/internal/redistest"
)

// dynWatcher is a Watcher whose watches change at run time.
type dynWatcher struct {
	mu sync.RWMutex
	w  prefixWatcher
}

func (d *dynWatcher) Match(key []byte) (Watch, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.w.Match(key)
}

func (d *dynWatcher) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.w)
}

func (d *dynWatcher) set(prefix string, w Watch) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.w == nil {
		d.w = prefixWatcher{}
	}
	d.w[prefix] = w
}

func (d *dynWatcher) drop(prefix string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.w, prefix)
}

// testAdmin answers the test's admin command, TADMIN:
//
//	TADMIN ECHO x      x, as a bulk string
//	TADMIN SIZE blob   the length of blob
//	TADMIN INFO        a map: proto, id, admin
//	TADMIN SLOW        +OK after 100ms
//	TADMIN WATCH p     watches prefix p (hash, recipe "d"), +OK
//	TADMIN UNWATCH p   drops the watch of p, +OK
//	TADMIN NOTHING     no reply at all
type testAdmin struct {
	w   *dynWatcher
	mu  sync.Mutex
	ids []uint64
}

func (a *testAdmin) Command(ctx context.Context, args [][]byte, c *ClientInfo) []byte {
	a.mu.Lock()
	a.ids = append(a.ids, c.ID)
	a.mu.Unlock()
	if len(args) < 2 {
		return AppendError(nil, "ERR wrong number of arguments for 'tadmin' command")
	}
	switch strings.ToUpper(string(args[1])) {
	case "ECHO":
		return AppendBulk(nil, args[2])
	case "SIZE":
		return AppendInt(nil, int64(len(args[2])))
	case "INFO":
		b := AppendMap(nil, 4, c.Proto)
		b = AppendBulkString(b, "proto")
		b = AppendInt(b, int64(c.Proto))
		b = AppendBulkString(b, "admin")
		b = AppendBool(b, c.Admin, c.Proto)
		b = AppendBulkString(b, "addr")
		b = AppendBool(b, c.Addr != "", c.Proto)
		b = AppendBulkString(b, "none")
		return AppendNull(b, c.Proto)
	case "SLOW":
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
		}
		return AppendSimple(nil, "OK")
	case "WATCH":
		a.w.set(string(args[2]), Watch{Recipe: "d", Stream: "cogs:stream:d", Data: abi.DataHash})
		return AppendSimple(nil, "OK")
	case "UNWATCH":
		a.w.drop(string(args[2]))
		return AppendSimple(nil, "OK")
	case "NOTHING":
		return nil
	}
	return AppendError(nil, "ERR unknown subcommand")
}

// TestIntegrationAdmin: admin commands are answered by cogs, for a client
// authenticated as the admin user only, in their place among pipelined
// replies, and refused inside MULTI.
func TestIntegrationAdmin(t *testing.T) {
	up := redistest.Start(t, "--requirepass", "upw")
	w := &dynWatcher{}
	adm := &testAdmin{w: w}
	addr := startFrontend(t, Config{Upstream: up.Addr, Password: "upw", Watcher: w,
		Admin: adm, AdminCommands: []string{"TAdmin"}, AdminPassword: "apw"})

	c := dialRC(t, addr)
	for _, st := range []struct{ args, want string }{
		{"TADMIN ECHO x", "-NOPERM this user has no permissions to run the 'tadmin' command\r\n"},
		{"tadmin echo x", "-NOPERM this user has no permissions to run the 'tadmin' command\r\n"},
		{"AUTH cogs wrong", "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{"TADMIN ECHO x", "-NOPERM this user has no permissions to run the 'tadmin' command\r\n"},
		{"SET k v", "+OK\r\n"},
		{"AUTH cogs apw", "+OK\r\n"},
		// The upstream connection keeps its own credentials.
		{"GET k", "$1\r\nv\r\n"},
		{"TADMIN ECHO x", "$1\r\nx\r\n"},
		{"tadmin Echo y", "$1\r\ny\r\n"},
		{"TADMIN INFO", "*8\r\n$5\r\nproto\r\n:2\r\n$5\r\nadmin\r\n:1\r\n$4\r\naddr\r\n:1\r\n$4\r\nnone\r\n$-1\r\n"},
		{"TADMIN NOTHING", "-ERR cogs: TADMIN gave no reply\r\n"},
		{"TADMIN", "-ERR wrong number of arguments for 'tadmin' command\r\n"},
		// AUTH as another user goes upstream.
		{"AUTH someone x", "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{"TADMIN ECHO z", "$1\r\nz\r\n"},
		// In MULTI: refused at queue time, and EXEC aborts.
		{"MULTI", "+OK\r\n"},
		{"SET k in-multi", "+QUEUED\r\n"},
		{"TADMIN ECHO x", "-ERR cogs: TADMIN cannot be used inside MULTI\r\n"},
		{"EXEC", "-EXECABORT Transaction discarded because of previous errors.\r\n"},
		{"GET k", "$1\r\nv\r\n"},
		// RESET logs the admin out.
		{"RESET", "+RESET\r\n"},
		{"TADMIN ECHO x", "-NOPERM this user has no permissions to run the 'tadmin' command\r\n"},
		{"GET k", "$1\r\nv\r\n"},
	} {
		if got := c.do(strings.Fields(st.args)...); got != st.want {
			t.Errorf("%s: %s, want %s", st.args, show([]byte(got)), show([]byte(st.want)))
		}
	}

	// Pipelined: each reply in its place; the command after an admin
	// command is looked at only once it is done.
	c.do("AUTH", "cogs", "apw")
	var b []byte
	for _, a := range [][]string{
		{"SET", "n", "1"}, {"TADMIN", "SLOW"}, {"INCR", "n"}, {"TADMIN", "ECHO", "e"},
		{"HSET", "d:1", "f", "v"}, {"TADMIN", "WATCH", "d:"}, {"HSET", "d:1", "f", "w"}, {"GET", "n"},
	} {
		b = append(b, cmd(a...)...)
	}
	c.send(b)
	var got []string
	for range 8 {
		got = append(got, string(c.read()))
	}
	want := []string{"+OK\r\n", "+OK\r\n", ":2\r\n", "$1\r\ne\r\n", ":1\r\n", "+OK\r\n", ":0\r\n", "$1\r\n2\r\n"}
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Errorf("pipeline: %q, want %q", got, want)
	}
	// The watch added by the admin command applied to the next command.
	u := dialRC(t, up.Addr)
	u.do("AUTH", "upw")
	if got := entriesOf(t, u, "cogs:stream:d"); len(got) != 1 || got[0] != "op=set key=d:1 kind=hash data=1:f1:w" {
		t.Errorf("entries after TADMIN WATCH: %q", got)
	}
	if len(adm.ids) == 0 || adm.ids[0] == 0 {
		t.Errorf("client ids: %v", adm.ids)
	}

	// An argument of several MB.
	blob := strings.Repeat("wasm", 2<<20) // 8 MiB
	if got := c.do("TADMIN", "SIZE", blob); got != ":"+strconv.Itoa(len(blob))+"\r\n" {
		t.Errorf("8 MiB argument: %s", show([]byte(got)))
	}
	small := dialRC(t, startFrontend(t, Config{Upstream: up.Addr, Password: "upw", Admin: adm,
		AdminCommands: []string{"TADMIN"}, AdminPassword: "apw", MaxBulk: 1 << 20}))
	small.do("AUTH", "cogs", "apw")
	small.send([]byte("*3\r\n$6\r\nTADMIN\r\n$4\r\nSIZE\r\n$" + strconv.Itoa(len(blob)) + "\r\nwasm"))
	if got := readAll(t, small); got != "-ERR Protocol error: invalid bulk length\r\n" {
		t.Errorf("over max_bulk: %s", show([]byte(got)))
	}
}

// TestIntegrationAdminHello: HELLO AUTH as the admin user is answered with
// Redis's HELLO reply (the protocol switches upstream), and admin replies
// follow the protocol of the client's last successful HELLO.
func TestIntegrationAdminHello(t *testing.T) {
	up := redistest.Start(t)
	adm := &testAdmin{w: &dynWatcher{}}
	addr := startFrontend(t, Config{Upstream: up.Addr, Admin: adm, AdminCommands: []string{"TADMIN"}, AdminPassword: "apw"})
	info2 := "*8\r\n$5\r\nproto\r\n:2\r\n$5\r\nadmin\r\n:1\r\n$4\r\naddr\r\n:1\r\n$4\r\nnone\r\n$-1\r\n"
	info3 := "%4\r\n$5\r\nproto\r\n:3\r\n$5\r\nadmin\r\n#t\r\n$4\r\naddr\r\n#t\r\n$4\r\nnone\r\n_\r\n"

	c := dialRC(t, addr)
	hello := normHello(c.do("HELLO", "3", "AUTH", "cogs", "apw", "SETNAME", "adm"))
	if !strings.HasPrefix(hello, "%7\r\n$6\r\nserver\r\n") || !strings.Contains(hello, "$5\r\nproto\r\n:3\r\n") {
		t.Errorf("HELLO 3 AUTH: %s", show([]byte(hello)))
	}
	for _, st := range []struct{ args, want string }{
		{"CLIENT GETNAME", "$3\r\nadm\r\n"},
		{"TADMIN INFO", info3},
		{"HELLO 3 AUTH cogs wrong", "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{"TADMIN INFO", info3},
		{"HELLO 4", "-NOPROTO unsupported protocol version\r\n"},
		{"TADMIN INFO", info3},
		{"HELLO 2 SETNAME", "-ERR Syntax error in HELLO option 'SETNAME'\r\n"},
		{"TADMIN INFO", info3},
		{"HELLO 3 AUTH nobody x", "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{"TADMIN INFO", info3},
	} {
		if got := c.do(strings.Fields(st.args)...); got != st.want {
			t.Errorf("%s: %s, want %s", st.args, show([]byte(got)), show([]byte(st.want)))
		}
	}
	// HELLO 2 and admin commands pipelined behind it, with pub/sub.
	c.send(append(append(cmd("HELLO", "2"), cmd("TADMIN", "INFO")...), cmd("HELLO", "3")...))
	if got := string(c.read()); !strings.HasPrefix(got, "*14\r\n$6\r\nserver\r\n") {
		t.Errorf("HELLO 2: %s", show([]byte(got)))
	}
	if got := string(c.read()); got != info2 {
		t.Errorf("TADMIN INFO after HELLO 2: %s", show([]byte(got)))
	}
	c.read()
	if got := c.do("TADMIN", "INFO"); got != info3 {
		t.Errorf("TADMIN INFO after HELLO 3: %s", show([]byte(got)))
	}
	c.do("RESET")
	c.do("HELLO", "2", "AUTH", "cogs", "apw")
	if got := c.do("TADMIN", "INFO"); got != info2 {
		t.Errorf("TADMIN INFO after RESET and HELLO 2: %s", show([]byte(got)))
	}
	if got := c.do("HELLO", "3", "AUTH", "nobody", "x"); !strings.HasPrefix(got, "-WRONGPASS") {
		t.Errorf("HELLO 3 AUTH nobody: %s", show([]byte(got)))
	}
	if got := c.do("TADMIN", "INFO"); got != info2 {
		t.Errorf("TADMIN INFO after a failed HELLO 3: %s", show([]byte(got)))
	}
	// Subscribed, RESP3: admin commands still answered, pushes pass.
	c.do("HELLO", "3")
	c.do("SUBSCRIBE", "ch")
	u := dialRC(t, up.Addr)
	u.do("PUBLISH", "ch", "m")
	if got := string(c.read()); got != ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n" {
		t.Errorf("push: %s", show([]byte(got)))
	}
	if got := c.do("TADMIN", "INFO"); got != info3 {
		t.Errorf("TADMIN INFO subscribed: %s", show([]byte(got)))
	}

	// HELLO AUTH inside MULTI: refused, EXEC aborts.
	d := dialRC(t, addr)
	d.do("MULTI")
	if got := d.do("HELLO", "3", "AUTH", "cogs", "apw"); got != "-ERR cogs: HELLO AUTH as the admin user cannot be used inside MULTI\r\n" {
		t.Errorf("HELLO AUTH in MULTI: %s", show([]byte(got)))
	}
	if got := d.do("EXEC"); !strings.HasPrefix(got, "-EXECABORT") {
		t.Errorf("EXEC: %s", show([]byte(got)))
	}
	if got := d.do("TADMIN", "INFO"); !strings.HasPrefix(got, "-NOPERM") {
		t.Errorf("after the refused HELLO AUTH: %s", show([]byte(got)))
	}
}

// TestIntegrationAdminNoPassword: without an admin password, admin
// commands are refused for everyone, and AUTH as the admin user name is
// Redis's business.
func TestIntegrationAdminNoPassword(t *testing.T) {
	up := redistest.Start(t)
	addr := startFrontend(t, Config{Upstream: up.Addr, Admin: &testAdmin{}, AdminCommands: []string{"TADMIN"}})
	c := dialRC(t, addr)
	want := "-ERR cogs: TADMIN refused: no admin password is configured (admin.password), so no client may run admin commands\r\n"
	if got := c.do("TADMIN", "ECHO", "x"); got != want {
		t.Errorf("TADMIN: %s", show([]byte(got)))
	}
	dialRC(t, up.Addr).do("ACL", "SETUSER", "cogs", "on", ">x", "+@all", "~*")
	if got := c.do("AUTH", "cogs", "x"); got != "+OK\r\n" {
		t.Errorf("AUTH cogs x, a Redis user: %s", show([]byte(got)))
	}
	if got := c.do("TADMIN", "ECHO", "x"); got != want {
		t.Errorf("TADMIN after AUTH: %s", show([]byte(got)))
	}
}

// TestIntegrationWatcherRuntime: a watch added or dropped while clients are
// connected applies to their next command, including one that is
// streamed, and FLUSHDB is refused only while something is watched.
func TestIntegrationWatcherRuntime(t *testing.T) {
	up := redistest.Start(t)
	w := &dynWatcher{}
	c := dialRC(t, startFrontend(t, Config{Upstream: up.Addr, Watcher: w}))
	big := strings.Repeat("x", 100<<10)
	if got := c.do("FLUSHDB"); got != "+OK\r\n" {
		t.Errorf("FLUSHDB with nothing watched: %s", show([]byte(got)))
	}
	c.do("HSET", "d:1", "f", "1")
	c.do("HSET", "d:2", "f", big)
	w.set("d:", Watch{Recipe: "d", Stream: "cogs:stream:d", Data: abi.DataHash})
	c.do("HSET", "d:1", "f", "2")
	c.do("HSET", "d:2", "f", big+"!")
	if got := c.do("FLUSHDB"); !strings.HasPrefix(got, "-COGS FLUSHDB refused") {
		t.Errorf("FLUSHDB with a watch: %s", show([]byte(got)))
	}
	w.drop("d:")
	c.do("HSET", "d:1", "f", "3")
	c.do("HSET", "d:2", "f", "small")
	got := entries(t, up.Addr, "cogs:stream:d")
	if len(got) != 2 || got[0] != "op=set key=d:1 kind=hash data=1:f1:2" || !strings.HasPrefix(got[1], "op=set key=d:2 kind=hash data=1:f102401:x") {
		t.Errorf("entries: %.200q", got)
	}
	var buf bytes.Buffer
	buf.WriteString(c.do("HGET", "d:1", "f"))
	if buf.String() != "$1\r\n3\r\n" {
		t.Errorf("HGET: %s", show(buf.Bytes()))
	}
}
