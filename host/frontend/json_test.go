package frontend

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/internal/redistest"
)

// TestIntegrationJSONModule sends RedisJSON writes to a watched key
// through cogs and the same writes to another key straight to Redis: the
// replies must be the same, and the stream must hold the whole document
// after each write that changed it. It needs a Redis with the module
// (COGS_TEST_REDIS_JSON, see redistest.StartJSON).
func TestIntegrationJSONModule(t *testing.T) {
	up := redistest.StartJSON(t)
	p := "cogs-test-json-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	stream := p + "stream"
	addr := startFrontend(t, Config{Upstream: up.Addr, Watcher: prefixWatcher{
		p + "j:": {Recipe: "j", Stream: stream, Data: abi.DataJSON},
	}})
	c, d := dialRC(t, addr), dialRC(t, up.Addr)
	t.Cleanup(func() { deleteKeys(t, up.Addr, p) })
	// The module's version decides what is there to test: JSON.MERGE came
	// with RedisJSON 2.6.
	merge := !strings.HasPrefix(d.do("JSON.MERGE", p+"probe", "$", "{}"), "-ERR unknown command")
	const deleted = "deleted"
	steps := []struct {
		args []string // "K" is the key: p+"j:1" through cogs, p+"d:1" direct
		doc  string   // the entry's document, deleted, or "" for no entry
	}{
		{[]string{"JSON.SET", "K", ".", `{"name":"Ann","age":42,"tags":["a"]}`}, `{"name":"Ann","age":42,"tags":["a"]}`},
		{[]string{"JSON.SET", "K", ".age", "43", "XX"}, `{"name":"Ann","age":43,"tags":["a"]}`},
		{[]string{"JSON.SET", "K", ".city", `"Oslo"`, "XX"}, ""},
		{[]string{"JSON.SET", "K", ".age", "1", "NX"}, ""},
		{[]string{"JSON.NUMINCRBY", "K", ".age", "1"}, `{"name":"Ann","age":44,"tags":["a"]}`},
		{[]string{"JSON.NUMMULTBY", "K", ".age", "2"}, `{"name":"Ann","age":88,"tags":["a"]}`},
		{[]string{"JSON.STRAPPEND", "K", ".name", `"e"`}, `{"name":"Anne","age":88,"tags":["a"]}`},
		{[]string{"JSON.ARRAPPEND", "K", ".tags", `"b"`, `"c"`}, `{"name":"Anne","age":88,"tags":["a","b","c"]}`},
		{[]string{"JSON.ARRINSERT", "K", ".tags", "0", `"z"`}, `{"name":"Anne","age":88,"tags":["z","a","b","c"]}`},
		{[]string{"JSON.ARRPOP", "K", ".tags"}, `{"name":"Anne","age":88,"tags":["z","a","b"]}`},
		{[]string{"JSON.ARRTRIM", "K", ".tags", "0", "0"}, `{"name":"Anne","age":88,"tags":["z"]}`},
		{[]string{"JSON.NUMINCRBY", "K", ".name", "1"}, ""}, // an error: nothing recorded
		{[]string{"JSON.DEL", "K", ".tags"}, `{"name":"Anne","age":88}`},
		{[]string{"JSON.FORGET", "K", ".age"}, `{"name":"Anne"}`},
		{[]string{"JSON.DEL", "K"}, deleted},
		{[]string{"JSON.DEL", "K"}, ""}, // nothing to delete
		{[]string{"JSON.ARRAPPEND", "K", ".tags", "1"}, ""},
		{[]string{"SET", "K", `{"a":1}`}, `{"a":1}`}, // a JSON string, watched too
		{[]string{"JSON.SET", "K", ".a", "2"}, ""},   // WRONGTYPE
		{[]string{"DEL", "K"}, deleted},
		{[]string{"JSON.SET", "K", ".", `{"a":1}`}, `{"a":1}`},
	}
	if merge {
		steps = append(steps, struct {
			args []string
			doc  string
		}{[]string{"JSON.MERGE", "K", "$", `{"b":2}`}, `{"a":1,"b":2}`})
	} else {
		t.Log("the module has no JSON.MERGE: not tested")
	}
	steps = append(steps, struct {
		args []string
		doc  string
	}{[]string{"UNLINK", "K"}, deleted})
	n := 0
	for _, st := range steps {
		via, direct := make([]string, len(st.args)), make([]string, len(st.args))
		for i, a := range st.args {
			via[i], direct[i] = a, a
			if a == "K" {
				via[i], direct[i] = p+"j:1", p+"d:1"
			}
		}
		got, want := c.do(via...), d.do(direct...)
		if got != want {
			t.Errorf("%q: cogs replied %s, Redis %s", st.args, show([]byte(got)), show([]byte(want)))
		}
		es := entries(t, up.Addr, stream)
		switch added := es[n:]; {
		case st.doc == "" && len(added) != 0:
			t.Errorf("%q: recorded %q, want nothing", st.args, added)
		case st.doc == "":
		case len(added) != 1:
			t.Errorf("%q: recorded %q, want one entry", st.args, added)
		case st.doc == deleted:
			if want := "op=delete key=" + p + "j:1 kind=json"; added[0] != want {
				t.Errorf("%q: recorded %q, want %q", st.args, added[0], want)
			}
		default:
			prefix := "op=set key=" + p + "j:1 kind=json data="
			if !strings.HasPrefix(added[0], prefix) || !sameJSON(added[0][len(prefix):], st.doc) {
				t.Errorf("%q: recorded %q, want the document %s", st.args, added[0], st.doc)
			}
		}
		n = len(es)
	}
}

// sameJSON reports whether a and b are the same JSON value (members in any
// order).
func sameJSON(a, b string) bool {
	var x, y any
	return json.Unmarshal([]byte(a), &x) == nil && json.Unmarshal([]byte(b), &y) == nil && reflect.DeepEqual(x, y)
}

// deleteKeys deletes the keys that start with prefix on the server at addr.
func deleteKeys(t *testing.T, addr, prefix string) {
	c := dialRC(t, addr)
	c.send(cmd("EVAL", `local n = 0
for _, k in ipairs(redis.call('KEYS', ARGV[1] .. '*')) do n = n + redis.call('DEL', k) end
return n`, "0", prefix))
	c.read()
}
