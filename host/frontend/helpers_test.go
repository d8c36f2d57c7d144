package frontend

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/internal/resp"
)

// prefixWatcher watches keys by prefix.
type prefixWatcher map[string]Watch

func (p prefixWatcher) Match(key []byte) (Watch, bool) {
	for prefix, w := range p {
		if bytes.HasPrefix(key, []byte(prefix)) {
			return w, true
		}
	}
	return Watch{}, false
}

// testWatcher watches "w:" (hashes, recipe "r", stream "cogs:stream:r")
// and "ws:" (strings, recipe "s", stream "cogs:stream:s").
var testWatcher = prefixWatcher{
	"w:":  {Recipe: "r", Stream: "cogs:stream:r", Data: abi.DataHash},
	"ws:": {Recipe: "s", Stream: "cogs:stream:s", Data: abi.DataString},
}

// sharedConns is Config.SharedConns for startFrontend, when the test's
// Config does not set it: TestIntegrationShared runs the other tests again
// with shared upstream connections.
var sharedConns = 0

// startFrontend serves a front end for upstream on a free port and
// returns its address.
func startFrontend(t testing.TB, cfg Config) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SharedConns == 0 {
		cfg.SharedConns = sharedConns
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(l); !errors.Is(err, ErrClosed) {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		srv.Close()
		wg.Wait()
	})
	return l.Addr().String()
}

// rc is a raw RESP client.
type rc struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
	r    *resp.Reader
}

func dialRC(t testing.TB, addr string) *rc {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	br := bufio.NewReader(conn)
	return &rc{t: t, conn: conn, br: br, r: resp.NewReader(br, resp.Limits{})}
}

func (c *rc) send(b []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// read reads one reply and returns a copy of its raw bytes.
func (c *rc) read() []byte {
	c.t.Helper()
	var buf bytes.Buffer
	if _, err := c.r.CopyReply(&buf); err != nil {
		c.t.Fatalf("read reply: %v", err)
	}
	return buf.Bytes()
}

// do sends one command and returns its raw reply.
func (c *rc) do(args ...string) string {
	c.t.Helper()
	c.send(cmd(args...))
	return string(c.read())
}

// cmd encodes a command.
func cmd(args ...string) []byte {
	b := make([][]byte, len(args))
	for i, a := range args {
		b[i] = []byte(a)
	}
	return resp.AppendCommand(nil, b...)
}

// show makes a raw reply readable in a failure message, cut short.
func show(b []byte) string {
	s := strings.NewReplacer("\r\n", `\r\n`).Replace(string(b))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
