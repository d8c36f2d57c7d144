package frontend

import (
	"bufio"
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/internal/redistest"
	"github.com/cogs-dev/cogs/host/internal/resp"
)

// entries returns the entries of stream on the server at addr (database
// 0), each rendered as its fields "name=value" joined by spaces, without
// the IDs.
func entries(t *testing.T, addr, stream string) []string {
	t.Helper()
	return entriesOf(t, dialRC(t, addr), stream)
}

// entriesOf is entries, read on the connection c.
func entriesOf(t *testing.T, c *rc, stream string) []string {
	t.Helper()
	c.send(cmd("XRANGE", stream, "-", "+"))
	raw := c.read()
	v, _, err := resp.NewReader(bufio.NewReader(bytes.NewReader(raw)), resp.Limits{}).ReadValue()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range v.Elems {
		var f []string
		var raw [][]byte
		fields := e.Elems[1].Elems
		for i := 0; i+1 < len(fields); i += 2 {
			f = append(f, string(fields[i].Str)+"="+string(fields[i+1].Str))
			raw = append(raw, fields[i].Str, fields[i+1].Str)
		}
		var ch abi.Change
		if err := DecodeEntry(raw, &ch); err != nil {
			t.Errorf("entry %q: %v", f, err)
		}
		out = append(out, strings.Join(f, " "))
	}
	return out
}

var helloID = regexp.MustCompile(`\r\nid\r\n:[0-9]+\r\n`)

// normHello replaces the client id in a HELLO reply.
func normHello(b string) string {
	return helloID.ReplaceAllString(b, "\r\nid\r\n:N\r\n")
}

// TestIntegrationCapture sends writes to watched keys through cogs and the
// same writes straight to another redis-server: the replies must be the
// same, and the streams must hold exactly the expected entries.
func TestIntegrationCapture(t *testing.T) {
	for _, proto := range []string{"2", "3"} {
		t.Run("resp"+proto, func(t *testing.T) {
			direct := redistest.Start(t)
			up := redistest.Start(t)
			addr := startFrontend(t, Config{Upstream: up.Addr, Watcher: testWatcher})
			d, c := dialRC(t, direct.Addr), dialRC(t, addr)
			steps := []struct {
				args    []string
				entries []string // new entries of cogs:stream:r, then of cogs:stream:s
			}{
				{args: []string{"HELLO", proto}},
				{args: []string{"HSET", "w:p", "name", "Ann", "age", "42"}, entries: []string{"op=set key=w:p kind=hash data=4:name3:Ann3:age2:42"}},
				{args: []string{"HMSET", "w:p", "age", "43"}, entries: []string{"op=set key=w:p kind=hash data=4:name3:Ann3:age2:43"}},
				{args: []string{"HSETNX", "w:p", "age", "1"}},
				{args: []string{"HSETNX", "w:p", "city", ""}, entries: []string{"op=set key=w:p kind=hash data=4:name3:Ann3:age2:434:city0:"}},
				{args: []string{"HDEL", "w:p", "age", "city"}, entries: []string{"op=set key=w:p kind=hash data=4:name3:Ann"}},
				{args: []string{"HDEL", "w:p", "nofield"}},
				{args: []string{"HINCRBYFLOAT", "w:p", "score", "1.5"}, entries: []string{"op=set key=w:p kind=hash data=4:name3:Ann5:score3:1.5"}},
				{args: []string{"HINCRBYFLOAT", "w:p", "score", "abc"}},
				{args: []string{"HINCRBY", "w:p", "n", "-7"}, entries: []string{"op=set key=w:p kind=hash data=4:name3:Ann5:score3:1.51:n2:-7"}},
				{args: []string{"HINCRBY", "w:p", "name", "1"}},
				{args: []string{"HSET", "w:p", "odd"}},
				{args: []string{"HSET", "w:p", "a", "1", "b"}},
				{args: []string{"HGETALL", "w:p"}},
				{args: []string{"HGET", "w:p", "missing"}},
				{args: []string{"HDEL", "w:p", "name", "score", "n"}, entries: []string{"op=delete key=w:p kind=hash"}},
				{args: []string{"DEL", "w:p"}},
				{args: []string{"HSET", "w:q", "a", "1"}, entries: []string{"op=set key=w:q kind=hash data=1:a1:1"}},
				{args: []string{"HSET", "w:r", "b", "2"}, entries: []string{"op=set key=w:r kind=hash data=1:b1:2"}},
				{args: []string{"SET", "plain", "x"}},
				{args: []string{"DEL", "w:q", "plain", "w:none", "w:q", "w:r"}, entries: []string{"op=delete key=w:q kind=hash", "op=delete key=w:r kind=hash"}},
				{args: []string{"SET", "w:str", "x"}}, // not a hash: refused through cogs; see below
				{args: []string{"SET", "ws:a", "hello"}, entries: []string{"", "op=set key=ws:a kind=string data=hello"}},
				{args: []string{"SET", "ws:a", "bye", "GET"}, entries: []string{"", "op=set key=ws:a kind=string data=bye"}},
				{args: []string{"SET", "ws:a", "x", "NX"}},
				{args: []string{"SET", "ws:a", "x", "NX", "GET"}},
				{args: []string{"SET", "ws:none", "x", "XX"}},
				{args: []string{"SET", "ws:none", "x", "XX", "GET"}},
				{args: []string{"SET", "ws:b", "x", "nx", "get", "EX", "100"}, entries: []string{"", "op=set key=ws:b kind=string data=x"}},
				{args: []string{"SET", "ws:b", "y", "XX", "GET"}, entries: []string{"", "op=set key=ws:b kind=string data=y"}},
				{args: []string{"SET", "ws:b", "z", "XX"}, entries: []string{"", "op=set key=ws:b kind=string data=z"}},
				{args: []string{"SETEX", "ws:b", "100", "e"}, entries: []string{"", "op=set key=ws:b kind=string data=e"}},
				{args: []string{"GETSET", "ws:b", "f"}, entries: []string{"", "op=set key=ws:b kind=string data=f"}},
				{args: []string{"SETRANGE", "ws:b", "3", "g"}, entries: []string{"", "op=set key=ws:b kind=string data=f\x00\x00g"}},
				{args: []string{"SET", "ws:a", "x", "BADOPTION"}},
				{args: []string{"SETNX", "ws:a", "x"}},
				{args: []string{"APPEND", "ws:a", "!"}, entries: []string{"", "op=set key=ws:a kind=string data=bye!"}},
				{args: []string{"INCR", "ws:a"}},
				{args: []string{"SETBIT", "ws:bits", "7", "1"}, entries: []string{"", "op=set key=ws:bits kind=string data=\x01"}},
				{args: []string{"BITFIELD", "ws:bits", "INCRBY", "u8", "0", "1"}, entries: []string{"", "op=set key=ws:bits kind=string data=\x02"}},
				{args: []string{"BITFIELD", "ws:bits", "INCRBY", "u2", "100", "1", "GET", "u4", "0"}, entries: []string{"", "op=set key=ws:bits kind=string data=\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04"}},
				{args: []string{"INCRBYFLOAT", "ws:n", "2.5"}, entries: []string{"", "op=set key=ws:n kind=string data=2.5"}},
				{args: []string{"GETDEL", "ws:a"}, entries: []string{"", "op=delete key=ws:a kind=string"}},
				{args: []string{"GETDEL", "ws:a"}},
				{args: []string{"EXPIRE", "ws:n", "100"}},
				{args: []string{"UNLINK", "ws:n"}, entries: []string{"", "op=delete key=ws:n kind=string"}},
			}
			var seenR, seenS int
			for _, st := range steps {
				if st.args[1] == "w:str" {
					d.do(st.args...)
					// cogs refuses it; write it upstream directly.
					if got := c.do(st.args...); !strings.HasPrefix(got, "-COGS SET refused") {
						t.Errorf("SET w:str through cogs: %s", show([]byte(got)))
					}
					dialRC(t, up.Addr).do(st.args...)
					continue
				}
				want, got := d.do(st.args...), c.do(st.args...)
				if st.args[0] == "HELLO" {
					want, got = normHello(want), normHello(got)
				}
				if got != want {
					t.Errorf("%q: through cogs %s, direct %s", st.args, show([]byte(got)), show([]byte(want)))
				}
				var wantR, wantS []string
				for i, e := range st.entries {
					if e == "" {
						continue
					}
					if i == 0 || strings.Contains(e, "key=w:") {
						wantR = append(wantR, e)
					} else {
						wantS = append(wantS, e)
					}
				}
				gotR, gotS := entries(t, up.Addr, "cogs:stream:r")[seenR:], entries(t, up.Addr, "cogs:stream:s")[seenS:]
				seenR, seenS = seenR+len(gotR), seenS+len(gotS)
				if strings.Join(gotR, "\n") != strings.Join(wantR, "\n") || strings.Join(gotS, "\n") != strings.Join(wantS, "\n") {
					t.Errorf("%q: entries %q %q, want %q %q", st.args, gotR, gotS, wantR, wantS)
				}
			}

			// WRONGTYPE: Redis's error, nothing captured.
			n := len(entries(t, up.Addr, "cogs:stream:r"))
			if got, want := c.do("HSET", "w:str", "f", "v"), d.do("HSET", "w:str", "f", "v"); got != want || !strings.HasPrefix(got, "-WRONGTYPE") {
				t.Errorf("HSET on a string: through cogs %s, direct %s", show([]byte(got)), show([]byte(want)))
			}
			if got := len(entries(t, up.Addr, "cogs:stream:r")); got != n {
				t.Errorf("WRONGTYPE captured %d entries", got-n)
			}
		})
	}
}

// TestIntegrationCaptureMulti: a watched write inside MULTI is captured by
// EXEC, not before, and not at all after DISCARD.
func TestIntegrationCaptureMulti(t *testing.T) {
	up := redistest.Start(t)
	c := dialRC(t, startFrontend(t, Config{Upstream: up.Addr, Watcher: testWatcher}))
	check := func(what string, want ...string) {
		t.Helper()
		if got := entries(t, up.Addr, "cogs:stream:r"); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: entries %q, want %q", what, got, want)
		}
	}
	for _, s := range []struct{ args, want string }{
		{"MULTI", "+OK\r\n"},
		{"HSET w:m f v", "+QUEUED\r\n"},
		{"HGET w:m f", "+QUEUED\r\n"},
	} {
		if got := c.do(strings.Fields(s.args)...); got != s.want {
			t.Errorf("%s: %s", s.args, show([]byte(got)))
		}
	}
	check("before EXEC")
	if got := c.do("EXEC"); got != "*2\r\n:1\r\n$1\r\nv\r\n" {
		t.Errorf("EXEC: %s", show([]byte(got)))
	}
	check("after EXEC", "op=set key=w:m kind=hash data=1:f1:v")

	c.do("MULTI")
	c.do("HSET", "w:m", "g", "w")
	if got := c.do("DISCARD"); got != "+OK\r\n" {
		t.Errorf("DISCARD: %s", show([]byte(got)))
	}
	check("after DISCARD", "op=set key=w:m kind=hash data=1:f1:v")
	if got := c.do("HGETALL", "w:m"); got != "*2\r\n$1\r\nf\r\n$1\r\nv\r\n" {
		t.Errorf("HGETALL after DISCARD: %s", show([]byte(got)))
	}

	// A refused command inside MULTI aborts the transaction, as a command
	// Redis refuses while queueing does.
	c.do("MULTI")
	c.do("HSET", "w:m", "h", "x")
	if got := c.do("RENAME", "w:m", "other"); !strings.HasPrefix(got, "-COGS RENAME refused") {
		t.Errorf("RENAME in MULTI: %s", show([]byte(got)))
	}
	if got := c.do("EXEC"); !strings.HasPrefix(got, "-EXECABORT") {
		t.Errorf("EXEC after a refusal: %s", show([]byte(got)))
	}
	check("after EXECABORT", "op=set key=w:m kind=hash data=1:f1:v")
}

// TestIntegrationRefused: commands that would change watched keys without
// capture return an error and change nothing.
func TestIntegrationRefused(t *testing.T) {
	up := redistest.Start(t)
	c := dialRC(t, startFrontend(t, Config{Upstream: up.Addr, Watcher: testWatcher}))
	u := dialRC(t, up.Addr)
	c.do("HSET", "w:a", "f", "v")
	c.do("SET", "ws:s", "v")
	u.do("SET", "w:notahash", "x")
	u.do("SET", "src", "x")
	dump := u.do("DUMP", "src")
	dump = dump[strings.Index(dump, "\r\n")+2 : len(dump)-2]
	for _, args := range [][]string{
		{"RENAME", "w:a", "x"},
		{"RENAME", "src", "w:b"},
		{"RENAMENX", "w:a", "y"},
		{"COPY", "src", "w:c"},
		{"MOVE", "w:a", "1"},
		{"RESTORE", "w:d", "0", dump},
		{"FLUSHDB"},
		{"FLUSHALL"},
		{"SWAPDB", "0", "1"},
		{"MSET", "k", "v", "ws:s", "w"},
		{"SORT", "list", "STORE", "w:e"},
		{"EVAL", "return redis.call('del', KEYS[1])", "1", "w:a"},
		{"LPUSH", "w:f", "x"},
		{"SADD", "ws:g", "x"},
		{"ZUNIONSTORE", "w:h", "1", "z"},
		{"SET", "w:a", "x"},
		{"HSET", "ws:s", "f", "v"},
		{"JSON.SET", "w:j", "$", "{}"},
		{"JSON.MSET", "a", "$", "1", "ws:j", "$", "2"},
	} {
		got := c.do(args...)
		if !strings.HasPrefix(got, "-COGS "+strings.ToUpper(args[0])+" refused: ") {
			t.Errorf("%q: %s", args, show([]byte(got)))
		}
	}
	if got := u.do("DBSIZE"); got != ":6\r\n" {
		t.Errorf("DBSIZE after refusals: %s", got)
	}
	if got := u.do("HGETALL", "w:a"); got != "*2\r\n$1\r\nf\r\n$1\r\nv\r\n" {
		t.Errorf("w:a after refusals: %s", show([]byte(got)))
	}
	// Not refused: the watched key is only read, or not a key of the command.
	for _, args := range [][]string{
		{"COPY", "w:a", "copy"},
		{"EVAL", "return 1", "0"},
		{"EXPIRE", "w:a", "1000"},
		{"RENAME", "copy", "copy2"},
	} {
		if got := c.do(args...); strings.HasPrefix(got, "-") {
			t.Errorf("%q: %s", args, show([]byte(got)))
		}
	}
}

// TestIntegrationCaptureManyKeys: a DEL of many keys, some watched, some
// repeated, captures each watched key that existed once, and replies as
// Redis does.
func TestIntegrationCaptureManyKeys(t *testing.T) {
	up := redistest.Start(t)
	c := dialRC(t, startFrontend(t, Config{Upstream: up.Addr, Watcher: testWatcher}))
	del := []string{"DEL"}
	var want []string
	for i := range 40 {
		k := "w:" + strconv.Itoa(i)
		if i%3 != 0 {
			c.do("HSET", k, "f", "v")
			want = append(want, "op=delete key="+k+" kind=hash")
		}
		del = append(del, k, "plain"+strconv.Itoa(i), k)
	}
	c.do("SET", "plain7", "x")
	n := len(entries(t, up.Addr, "cogs:stream:r"))
	if got := c.do(del...); got != ":"+strconv.Itoa(len(want)+1)+"\r\n" {
		t.Errorf("DEL: %s", show([]byte(got)))
	}
	if got := entries(t, up.Addr, "cogs:stream:r")[n:]; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries %q, want %q", got, want)
	}
}

// TestIntegrationRefusedEach: each command that would change a watched key
// without capture is refused with an error naming the command, the key,
// the recipe and why, and changes nothing; the same command on keys no
// recipe watches passes and does what Redis does.
func TestIntegrationRefusedEach(t *testing.T) {
	up := redistest.Start(t)
	c := dialRC(t, startFrontend(t, Config{Upstream: up.Addr, Watcher: testWatcher}))
	u := dialRC(t, up.Addr)
	u.do("FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('del1', function(keys) return redis.call('del', keys[1]) end)")
	sha := strings.TrimSuffix(u.do("SCRIPT", "LOAD", "return redis.call('del', KEYS[1])"), "\r\n")
	sha = sha[strings.Index(sha, "\r\n")+2:]
	u.do("SET", "src", "x")
	dump := u.do("DUMP", "src")
	dump = dump[strings.Index(dump, "\r\n")+2 : len(dump)-2]
	watched := func(cmd, key, recipe string) string {
		return "-COGS " + cmd + " refused: key \"" + key + "\" is watched by recipe \"" + recipe + "\", and " + cmd + " cannot be captured\r\n"
	}
	everything := func(cmd string) string {
		return "-COGS " + cmd + " refused: recipes watch keys here, and it would change them without capture\r\n"
	}
	for _, tc := range []struct {
		args  []string
		want  string // through cogs, with w:a (hash) and ws:s (string) watched and existing
		plain []string
	}{
		{[]string{"RENAME", "w:a", "x"}, watched("RENAME", "w:a", "r"), []string{"RENAME", "src", "x"}},
		{[]string{"RENAME", "src", "w:new"}, watched("RENAME", "w:new", "r"), nil},
		{[]string{"RENAMENX", "src", "ws:s"}, watched("RENAMENX", "ws:s", "s"), nil},
		{[]string{"COPY", "src", "w:c"}, watched("COPY", "w:c", "r"), []string{"COPY", "src", "c"}},
		{[]string{"COPY", "src", "ws:s", "REPLACE"}, watched("COPY", "ws:s", "s"), nil},
		{[]string{"MOVE", "w:a", "1"}, watched("MOVE", "w:a", "r"), []string{"MOVE", "src", "1"}},
		{[]string{"RESTORE", "w:d", "0", dump}, watched("RESTORE", "w:d", "r"), []string{"RESTORE", "d", "0", dump}},
		{[]string{"RESTORE", "ws:s", "0", dump, "REPLACE"}, watched("RESTORE", "ws:s", "s"), nil},
		{[]string{"SORT", "list", "BY", "nosort", "STORE", "w:e"}, watched("SORT", "w:e", "r"), []string{"SORT", "list", "STORE", "e"}},
		{[]string{"MSET", "k", "v", "ws:s", "w"}, watched("MSET", "ws:s", "s"), []string{"MSET", "k", "v", "k2", "w"}},
		{[]string{"MSETNX", "ws:new", "w"}, watched("MSETNX", "ws:new", "s"), nil},
		{[]string{"EVAL", "return redis.call('del', KEYS[1])", "1", "w:a"}, watched("EVAL", "w:a", "r"), []string{"EVAL", "return redis.call('del', KEYS[1])", "1", "nokey"}},
		{[]string{"EVALSHA", sha, "2", "k", "ws:s"}, watched("EVALSHA", "ws:s", "s"), []string{"EVALSHA", sha, "1", "nokey"}},
		{[]string{"FCALL", "del1", "1", "w:a"}, watched("FCALL", "w:a", "r"), []string{"FCALL", "del1", "1", "nokey"}},
		{[]string{"SWAPDB", "0", "1"}, everything("SWAPDB"), nil},
		{[]string{"FLUSHDB"}, everything("FLUSHDB"), nil},
		{[]string{"FLUSHDB", "ASYNC"}, everything("FLUSHDB"), nil},
		{[]string{"FLUSHALL"}, everything("FLUSHALL"), nil},
	} {
		c.do("HSET", "w:a", "f", "v")
		c.do("SET", "ws:s", "v")
		u.do("SET", "src", "x")
		u.do("RPUSH", "list", "1")
		before := []string{u.do("DBSIZE"), u.do("HGETALL", "w:a"), u.do("GET", "ws:s"), u.do("XLEN", "cogs:stream:r"), u.do("XLEN", "cogs:stream:s")}
		if got := c.do(tc.args...); got != tc.want {
			t.Errorf("%.80q: %s, want %s", tc.args, show([]byte(got)), show([]byte(tc.want)))
		}
		after := []string{u.do("DBSIZE"), u.do("HGETALL", "w:a"), u.do("GET", "ws:s"), u.do("XLEN", "cogs:stream:r"), u.do("XLEN", "cogs:stream:s")}
		if strings.Join(after, "|") != strings.Join(before, "|") {
			t.Errorf("%.80q changed something: %q, then %q", tc.args, before, after)
		}
		if tc.plain != nil {
			if got := c.do(tc.plain...); strings.HasPrefix(got, "-") {
				t.Errorf("%.80q on keys nobody watches: %s", tc.plain, show([]byte(got)))
			}
		}
	}
	// With nothing watched (a Watcher with Len 0), FLUSHALL passes.
	c = dialRC(t, startFrontend(t, Config{Upstream: up.Addr, Watcher: &dynWatcher{}}))
	if got := c.do("FLUSHALL"); got != "+OK\r\n" {
		t.Errorf("FLUSHALL with nothing watched: %s", show([]byte(got)))
	}
	if got := u.do("DBSIZE"); got != ":0\r\n" {
		t.Errorf("DBSIZE after FLUSHALL: %s", got)
	}
}
