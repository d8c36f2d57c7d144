package frontend

import (
	"strings"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/internal/redistest"
)

// TestIntegrationBackpressure: once a stream reaches its high-water mark,
// watched writes recorded in it are refused (and nothing else is), until
// it is trimmed.
func TestIntegrationBackpressure(t *testing.T) {
	up := redistest.Start(t, "--requirepass", "pw")
	w := prefixWatcher{
		"b:": {Recipe: "b", Stream: "cogs:stream:b", Data: abi.DataHash, HighWater: 3},
		"w:": testWatcher["w:"],
	}
	c := dialRC(t, startFrontend(t, Config{Upstream: up.Addr, Password: "pw", DB: 1, Watcher: w, PollInterval: 5 * time.Millisecond}))
	u := dialRC(t, up.Addr)
	u.do("AUTH", "pw")
	u.do("SELECT", "1")
	for i := range 3 {
		if got := c.do("HSET", "b:1", "f", strings.Repeat("x", i)); !strings.HasPrefix(got, ":") {
			t.Fatalf("HSET %d: %s", i, show([]byte(got)))
		}
	}
	wait := func(what string, ok func(string) bool, args ...string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := c.do(args...)
			if ok(got) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s", what, show([]byte(got)))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// The stream is polled from the first write on, so it may overshoot.
	refused := func(s string) bool {
		return strings.HasPrefix(s, "-COGSBACKPRESSURE stream \"cogs:stream:b\" of recipe \"b\" holds ")
	}
	wait("HSET over the high-water mark", refused, "HSET", "b:1", "g", "v")
	before := c.do("HGETALL", "b:1")
	if got := c.do("HDEL", "b:1", "f"); !refused(got) {
		t.Errorf("HDEL over the high-water mark: %s", show([]byte(got)))
	}
	if got := c.do("HGETALL", "b:1"); got != before {
		t.Errorf("the refused write changed b:1: %s", show([]byte(got)))
	}
	if got := c.do("HSET", "w:1", "g", "v"); got != ":1\r\n" {
		t.Errorf("a write to another recipe's key: %s", show([]byte(got)))
	}
	if got := c.do("HSET", "plain", "g", "v"); got != ":1\r\n" {
		t.Errorf("an unwatched write: %s", show([]byte(got)))
	}
	if got := u.do("XTRIM", "cogs:stream:b", "MAXLEN", "0"); !strings.HasPrefix(got, ":") {
		t.Fatalf("XTRIM: %s", show([]byte(got)))
	}
	if got := u.do("XLEN", "cogs:stream:b"); got != ":0\r\n" {
		t.Fatalf("XLEN after XTRIM: %s", show([]byte(got)))
	}
	wait("HSET after trimming", func(s string) bool { return strings.HasPrefix(s, ":") }, "HSET", "b:1", "g", "v")
}
