package frontend

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/host/internal/redistest"
)

func TestPeekBig(t *testing.T) {
	big := "$" + strconv.Itoa(streamMin) + "\r\n"
	for _, tc := range []struct {
		in        string
		name, key string
		big       bool
	}{
		{"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n" + big + "xx", "SET", "k", true},
		{"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n" + big, "SET", "k", true},
		{"*4\r\n$4\r\nHSET\r\n$1\r\nk\r\n$1\r\nf\r\n" + big, "HSET", "k", true},
		{"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n", "", "", false}, // all there
		{"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhel", "", "", false},       // small
		{"*3\r\n$3\r\nSET\r\n" + big, "", "", false},                     // the key is big
		{"*2\r\n" + big, "", "", false},
		{"*3\r\n$3\r\nSET\r\n$1\r\nk\r", "", "", false},
		{"*3\r\n$3\r\nSET\r\n$1\r\nkXY" + big, "", "", false}, // not canonical
		{"SET k v\r\n", "", "", false},
		{"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$99999999999999999999\r\n", "", "", false},
	} {
		name, key, big := peekBig([]byte(tc.in))
		if string(name) != tc.name || string(key) != tc.key || big != tc.big {
			t.Errorf("%q: %q %q %v", tc.in, name, key, big)
		}
	}
}

// TestIntegrationStreaming: a large command that passes through reaches
// the upstream while it is still arriving; a protocol error in the middle
// of one is answered with a protocol error, after the replies before it.
func TestIntegrationStreaming(t *testing.T) {
	up := redistest.Start(t)
	addr := startFrontend(t, Config{Upstream: up.Addr, Watcher: testWatcher})
	u := dialRC(t, up.Addr)
	c := dialRC(t, addr)
	const size = 1 << 20
	head := "*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$" + strconv.Itoa(size) + "\r\n"
	c.send([]byte(head + strings.Repeat("x", size/2)))
	deadline := time.Now().Add(5 * time.Second)
	for {
		list, most := u.do("CLIENT", "LIST"), 0
		for _, f := range strings.Fields(list) {
			if v, ok := strings.CutPrefix(f, "qbuf="); ok {
				n, _ := strconv.Atoi(v)
				most = max(most, n)
			}
		}
		if most >= size/4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the upstream has not received half the value:\n%s", list)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.send([]byte(strings.Repeat("x", size/2) + "\r\n"))
	if got := string(c.read()); got != "+OK\r\n" {
		t.Errorf("SET: %s", show([]byte(got)))
	}
	if got := c.do("STRLEN", "big"); got != ":"+strconv.Itoa(size)+"\r\n" {
		t.Errorf("STRLEN: %s", show([]byte(got)))
	}

	for _, tail := range []string{"X\r\n", "$1\r\na\r\nX\r\n"} {
		c := dialRC(t, addr)
		c.send([]byte("PING\r\n*6\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$" + strconv.Itoa(size) + "\r\n" + strings.Repeat("y", size) + "\r\n" + tail))
		if got := readAll(t, c); got != "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n" {
			t.Errorf("protocol error in a streamed command, before %q: %s", tail, show([]byte(got)))
		}
	}
	if got := u.do("EXISTS", "h"); got != ":0\r\n" {
		t.Errorf("the broken command ran")
	}
}
