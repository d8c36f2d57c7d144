package frontend

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/internal/redistest"
	"github.com/cogs-dev/cogs/host/internal/resp"
)

// rgsyncWatcher watches rgsync's README keys: "person:" hashes, recipe
// "persons", stream "cogs:stream:persons".
var rgsyncWatcher = prefixWatcher{
	"person:": {Recipe: "persons", Stream: "cogs:stream:persons", Data: abi.DataHash},
}

// flat renders the reply to cmd (sent in RESP2 to addr) as its strings
// joined by spaces, in pairs "a=b" for an even number of them.
func flat(t *testing.T, addr string, args ...string) string {
	t.Helper()
	raw := dialRC(t, addr).do(args...)
	v, _, err := resp.NewReader(bufio.NewReader(bytes.NewReader([]byte(raw))), resp.Limits{}).ReadValue()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := 0; i+1 < len(v.Elems); i += 2 {
		out = append(out, string(v.Elems[i].Str)+"="+string(v.Elems[i+1].Str))
	}
	return strings.Join(out, " ")
}

// ackOf renders the acknowledgement stream key: its entries' fields, or
// "" when it does not exist, and checks its TTL.
func ackOf(t *testing.T, addr, key string) string {
	t.Helper()
	c := dialRC(t, addr)
	if c.do("EXISTS", key) == ":0\r\n" {
		return ""
	}
	ttl := c.do("TTL", key)
	if n, err := strconv.Atoi(strings.TrimSpace(ttl[1:])); err != nil || n <= 3590 || n > 3600 {
		t.Errorf("TTL of %s: %s", key, show([]byte(ttl)))
	}
	return strings.Join(flatEntries(t, c, key), "; ")
}

func flatEntries(t *testing.T, c *rc, stream string) []string {
	t.Helper()
	raw := c.do("XRANGE", stream, "-", "+")
	v, _, err := resp.NewReader(bufio.NewReader(bytes.NewReader([]byte(raw))), resp.Limits{}).ReadValue()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range v.Elems {
		var f []string
		fields := e.Elems[1].Elems
		for i := 0; i+1 < len(fields); i += 2 {
			f = append(f, string(fields[i].Str)+"="+string(fields[i+1].Str))
		}
		out = append(out, strings.Join(f, " "))
	}
	return out
}

const uuid = "6ce0c902-30c2-4ac9-8342-2f04fb359a94"

// rgsyncStep is a command through cogs, with what must follow from it.
type rgsyncStep struct {
	args    []string
	reply   string   // the raw reply (the same in RESP2 and RESP3)
	hash    string   // HGETALL of args[1] afterwards, as flat renders it
	entries []string // the new entries of cogs:stream:persons
	ackKey  string   // an acknowledgement stream to check, with ack
	ack     string
}

// rgsyncSteps replays the examples of rgsync's README ("Controlling what
// gets replicated", "Getting write acknowledgment") and the cases around
// them.
var rgsyncSteps = []rgsyncStep{
	// "Alternatively, to add a Hash without having it replicated".
	{args: []string{"HSET", "person:007", "first_name", "James", "last_name", "Bond", "age", "42", "#", "+"}, reply: ":3\r\n",
		hash: "first_name=James last_name=Bond age=42"},
	{args: []string{"HSET", "person:007", "age", "43", "#", "="}, reply: ":0\r\n",
		hash:    "first_name=James last_name=Bond age=43",
		entries: []string{"op=set key=person:007 kind=hash data=10:first_name5:James9:last_name4:Bond3:age2:43"}},
	// "Acknowledgment example": the entry names the ack stream, which the
	// applier writes.
	{args: []string{"HSET", "person:007", "first_name", "James", "last_name", "Bond", "age", "42", "#", "=" + uuid}, reply: ":0\r\n",
		hash:    "first_name=James last_name=Bond age=42",
		entries: []string{"op=set key=person:007 kind=hash data=10:first_name5:James9:last_name4:Bond3:age2:42 ack={person:007}" + uuid},
		ackKey:  "{person:007}" + uuid},
	// "how to delete a Hash without replicating the delete operation".
	{args: []string{"HSET", "person:1", "first_name", "Ann"}, reply: ":1\r\n", hash: "first_name=Ann",
		entries: []string{"op=set key=person:1 kind=hash data=10:first_name3:Ann"}},
	{args: []string{"HSET", "person:1", "#", "-"}, reply: ":0\r\n"},
	// Delete and replicate; fields written first are counted, then gone.
	{args: []string{"HSET", "person:2", "first_name", "Bob", "#", "~"}, reply: ":1\r\n",
		entries: []string{"op=delete key=person:2 kind=hash"}},
	{args: []string{"HSET", "person:2", "#", "~" + uuid}, reply: ":0\r\n",
		entries: []string{"op=delete key=person:2 kind=hash ack={person:2}" + uuid}, ackKey: "{person:2}" + uuid},
	// No replication, but an acknowledgement: written at once, as rgsync does.
	{args: []string{"HSET", "person:3", "a", "1", "#", "-" + uuid}, reply: ":1\r\n",
		ackKey: "{person:3}" + uuid, ack: "status=done"},
	{args: []string{"HSET", "person:4", "a", "1", "#", "+" + uuid}, reply: ":1\r\n", hash: "a=1",
		ackKey: "{person:4}" + uuid, ack: "status=done"},
	// HMSET; "#" anywhere among the fields.
	{args: []string{"HMSET", "person:5", "a", "1", "#", "=", "b", "2"}, reply: "+OK\r\n", hash: "a=1 b=2",
		entries: []string{"op=set key=person:5 kind=hash data=1:a1:11:b1:2"}},
	{args: []string{"HMSET", "person:5", "#", "+"}, reply: "+OK\r\n", hash: "a=1 b=2"},
	// "#" alone replicates the key as it is.
	{args: []string{"HSET", "person:5", "#", "="}, reply: ":0\r\n", hash: "a=1 b=2",
		entries: []string{"op=set key=person:5 kind=hash data=1:a1:11:b1:2"}},
	// The last "#" counts, as the last value of a field does in HSET.
	{args: []string{"HSET", "person:6", "#", "~", "a", "1", "a", "2", "#", "+"}, reply: ":1\r\n", hash: "a=2"},
	// Without "#", an ordinary capture.
	{args: []string{"HDEL", "person:6", "a"}, reply: ":1\r\n", entries: []string{"op=delete key=person:6 kind=hash"}},
	// Not watched: "#" is an ordinary field.
	{args: []string{"HSET", "car:1", "color", "red", "#", "-"}, reply: ":2\r\n", hash: "color=red #=-"},
}

// TestIntegrationRGSync replays rgsync's README examples through cogs, in
// RESP2 and RESP3, one command at a time and inside MULTI, and checks the
// replies, the keys, the stream entries and the acknowledgement streams.
func TestIntegrationRGSync(t *testing.T) {
	for _, proto := range []string{"2", "3"} {
		for _, multi := range []bool{false, true} {
			name := "resp" + proto
			if multi {
				name += "/multi"
			}
			t.Run(name, func(t *testing.T) {
				up := redistest.Start(t)
				c := dialRC(t, startFrontend(t, Config{Upstream: up.Addr, Watcher: rgsyncWatcher}))
				c.do("HELLO", proto)
				var seen int
				for _, st := range rgsyncSteps {
					if multi {
						if got := c.do("MULTI"); got != "+OK\r\n" {
							t.Fatalf("MULTI: %s", show([]byte(got)))
						}
						if got := c.do(st.args...); got != "+QUEUED\r\n" {
							t.Errorf("%q in MULTI: %s", st.args, show([]byte(got)))
						}
						if got := entries(t, up.Addr, "cogs:stream:persons"); len(got) != seen {
							t.Errorf("%q: captured before EXEC", st.args)
						}
						if got, want := c.do("EXEC"), "*1\r\n"+st.reply; got != want {
							t.Errorf("%q: EXEC %s, want %s", st.args, show([]byte(got)), show([]byte(want)))
						}
					} else if got := c.do(st.args...); got != st.reply {
						t.Errorf("%q: %s, want %s", st.args, show([]byte(got)), show([]byte(st.reply)))
					}
					if got := flat(t, up.Addr, "HGETALL", st.args[1]); got != st.hash {
						t.Errorf("%q: HGETALL %q, want %q", st.args, got, st.hash)
					}
					got := entries(t, up.Addr, "cogs:stream:persons")[seen:]
					seen += len(got)
					if strings.Join(got, "\n") != strings.Join(st.entries, "\n") {
						t.Errorf("%q: entries %q, want %q", st.args, got, st.entries)
					}
					if st.ackKey != "" {
						if got := ackOf(t, up.Addr, st.ackKey); got != st.ack {
							t.Errorf("%q: ack stream %q, want %q", st.args, got, st.ack)
						}
					}
				}
				if got := dialRC(t, up.Addr).do("KEYS", "*#*"); got != "*0\r\n" {
					t.Errorf("keys with #: %s", show([]byte(got)))
				}
			})
		}
	}
}

// TestIntegrationRGSyncAck: the entry's ack decodes with DecodeEntryAck.
func TestIntegrationRGSyncAck(t *testing.T) {
	up := redistest.Start(t)
	c := dialRC(t, startFrontend(t, Config{Upstream: up.Addr, Watcher: rgsyncWatcher}))
	c.do("HSET", "person:1", "name", "Ann", "#", "="+uuid)
	c.do("HSET", "person:1", "#", "~")
	u := dialRC(t, up.Addr)
	raw := u.do("XRANGE", "cogs:stream:persons", "-", "+")
	v, _, err := resp.NewReader(bufio.NewReader(bytes.NewReader([]byte(raw))), resp.Limits{}).ReadValue()
	if err != nil || len(v.Elems) != 2 {
		t.Fatalf("XRANGE: %s %v", show([]byte(raw)), err)
	}
	for i, want := range []struct {
		ack string
		c   abi.Change
	}{
		{"{person:1}" + uuid, abi.Change{Op: abi.ChangeSet, Data: abi.DataHash, Key: "person:1", Fields: []abi.Field{hf("name", "Ann")}}},
		{"", abi.Change{Op: abi.ChangeDelete, Data: abi.DataHash, Key: "person:1"}},
	} {
		var fields [][]byte
		for _, f := range v.Elems[i].Elems[1].Elems {
			fields = append(fields, f.Str)
		}
		var ch abi.Change
		ack, err := DecodeEntryAck(fields, &ch)
		if err != nil || ack != want.ack || ch.Key != want.c.Key || ch.Op != want.c.Op || len(ch.Fields) != len(want.c.Fields) {
			t.Errorf("entry %d: %q %+v %v, want %q %+v", i, ack, ch, err, want.ack, want.c)
		}
	}
}

// TestIntegrationRGSyncRefused: a "#" that is not an operation, and "#"
// in the hash commands that do not take it, are refused and change nothing;
// a "#" on a key of another type gets Redis's WRONGTYPE.
func TestIntegrationRGSyncRefused(t *testing.T) {
	for _, proto := range []string{"2", "3"} {
		t.Run("resp"+proto, func(t *testing.T) {
			up := redistest.Start(t)
			c := dialRC(t, startFrontend(t, Config{Upstream: up.Addr, Watcher: rgsyncWatcher}))
			u := dialRC(t, up.Addr)
			c.do("HELLO", proto)
			c.do("HSET", "person:1", "a", "1")
			u.do("SET", "person:s", "x")
			n := len(entries(t, up.Addr, "cogs:stream:persons"))
			for _, args := range [][]string{
				{"HSET", "person:1", "a", "2", "#", ""},
				{"HSET", "person:1", "a", "2", "#", "x"},
				{"HSET", "person:2", "#", "?" + uuid},
				{"HMSET", "person:1", "#", "=", "a", "2", "#", "*"},
				{"HSETNX", "person:1", "#", "-"},
				{"HINCRBY", "person:1", "#", "1"},
				{"HINCRBYFLOAT", "person:1", "#", "1"},
			} {
				if got := c.do(args...); !strings.HasPrefix(got, "-COGS "+args[0]+" refused: ") || !strings.Contains(got, `"#"`) {
					t.Errorf("%q: %s", args, show([]byte(got)))
				}
				c.do("MULTI")
				c.do(args...)
				if got := c.do("EXEC"); !strings.HasPrefix(got, "-EXECABORT") {
					t.Errorf("%q in MULTI: EXEC %s", args, show([]byte(got)))
				}
			}
			// WRONGTYPE, as Redis says it, for every operation.
			want := u.do("HSET", "person:s", "a", "1")
			for _, op := range []string{"=", "+", "-", "~" + uuid} {
				if got := c.do("HSET", "person:s", "#", op); got != want {
					t.Errorf("HSET person:s # %s: %s, want %s", op, show([]byte(got)), show([]byte(want)))
				}
			}
			// Redis's own errors for a malformed HSET.
			if got, want := c.do("HSET", "person:1", "a", "1", "#"), u.do("HSET", "person:x", "a", "1", "#"); got != want {
				t.Errorf("odd HSET: %s, want %s", show([]byte(got)), show([]byte(want)))
			}
			if got := flat(t, up.Addr, "HGETALL", "person:1"); got != "a=1" {
				t.Errorf("person:1 after refusals: %q", got)
			}
			if got := u.do("GET", "person:s"); got != "$1\r\nx\r\n" {
				t.Errorf("person:s after WRONGTYPE: %s", show([]byte(got)))
			}
			if got := u.do("DBSIZE"); got != ":3\r\n" { // person:1, person:s, the stream
				t.Errorf("DBSIZE: %s", got)
			}
			if got := len(entries(t, up.Addr, "cogs:stream:persons")); got != n {
				t.Errorf("refusals captured %d entries", got-n)
			}
		})
	}
}
