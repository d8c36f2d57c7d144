package frontend

import (
	"testing"

	"github.com/cogs-dev/cogs/host/internal/redistest"
)

func TestIntegrationSmoke(t *testing.T) {
	r := redistest.Start(t)
	addr := startFrontend(t, Config{Upstream: r.Addr, Watcher: testWatcher})
	c := dialRC(t, addr)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "+PONG\r\n"},
		{[]string{"SET", "a", "1"}, "+OK\r\n"},
		{[]string{"HSET", "w:1", "f", "v", "g", "x"}, ":2\r\n"},
		{[]string{"HINCRBYFLOAT", "w:1", "n", "1.5"}, "$3\r\n1.5\r\n"},
		{[]string{"HSETNX", "w:1", "f", "z"}, ":0\r\n"},
		{[]string{"HGET", "w:1", "nope"}, "$-1\r\n"},
		{[]string{"RENAME", "w:1", "w:2"}, "-COGS RENAME refused: key \"w:1\" is watched by recipe \"r\", and RENAME cannot be captured\r\n"},
		{[]string{"SET", "w:1", "x"}, "-COGS SET refused: key \"w:1\" is watched as hash by recipe \"r\", and SET on it cannot be captured\r\n"},
		{[]string{"LPUSH", "a", "x"}, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"},
		{[]string{"HSET", "ws:1", "f", "v"}, "-COGS HSET refused: key \"ws:1\" is watched as string by recipe \"s\", and HSET on it cannot be captured\r\n"},
		{[]string{"DEL", "w:1", "a", "w:1"}, ":2\r\n"},
		{[]string{"XLEN", "cogs:stream:r"}, ":3\r\n"},
	} {
		if got := c.do(tc.args...); got != tc.want {
			t.Errorf("%q: got %s, want %s", tc.args, show([]byte(got)), show([]byte(tc.want)))
		}
	}
}
