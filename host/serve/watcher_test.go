package serve

import (
	"strings"
	"testing"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/frontend"
)

func recipe(name string, prefixes ...string) abi.Recipe {
	r := abi.Recipe{Name: name, Version: "1.0.0"}
	for _, p := range prefixes {
		data := abi.DataHash
		if strings.HasPrefix(p, "s") {
			data = abi.DataString
		}
		r.Triggers = append(r.Triggers, abi.Trigger{Prefix: p, Mode: abi.ModeWriteBehind, Data: data, Connection: "db"})
	}
	return r
}

func TestStreamKey(t *testing.T) {
	if got := StreamKey("persons"); got != "cogs:{persons}:changes" {
		t.Errorf("StreamKey = %q", got)
	}
}

func TestWatcherMatch(t *testing.T) {
	w, err := NewWatcher([]Watched{
		{Recipe: recipe("persons", "person:", "person:vip:"), Source: "persons.wasm", HighWater: 100},
		{Recipe: recipe("cars", "car:", "s:car:"), Source: "cars.wasm"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var _ frontend.Watcher = w
	for _, tc := range []struct {
		key    string
		ok     bool
		recipe string
		data   abi.DataKind
		high   int64
	}{
		{"person:1", true, "persons", abi.DataHash, 100},
		{"person:vip:1", true, "persons", abi.DataHash, 100},
		{"person:", true, "persons", abi.DataHash, 100},
		{"person", false, "", 0, 0},
		{"car:9", true, "cars", abi.DataHash, 0},
		{"s:car:9", true, "cars", abi.DataString, 0},
		{"s:bike:9", false, "", 0, 0},
		{"", false, "", 0, 0},
		{"Person:1", false, "", 0, 0},
	} {
		got, ok := w.Match([]byte(tc.key))
		want := frontend.Watch{}
		if tc.ok {
			want = frontend.Watch{Recipe: tc.recipe, Stream: StreamKey(tc.recipe), Data: tc.data, Mode: abi.ModeWriteBehind, HighWater: tc.high}
		}
		if ok != tc.ok || got != want {
			t.Errorf("Match(%q) = %+v, %v; want %+v, %v", tc.key, got, ok, want, tc.ok)
		}
	}
	if n := testing.AllocsPerRun(100, func() { w.Match([]byte("person:vip:1")) }); n != 0 {
		t.Errorf("Match allocates %v times", n)
	}
}

// Within one recipe the longest prefix wins, whatever the order of its
// triggers.
func TestWatcherLongestPrefix(t *testing.T) {
	r := abi.Recipe{Name: "mixed", Triggers: []abi.Trigger{
		{Prefix: "k:", Mode: abi.ModeWriteBehind, Data: abi.DataHash},
		{Prefix: "k:json:", Mode: abi.ModeWriteBehind, Data: abi.DataJSON},
		{Prefix: "k:json:str:", Mode: abi.ModeWriteBehind, Data: abi.DataString},
	}}
	w, err := NewWatcher([]Watched{{Recipe: r}})
	if err != nil {
		t.Fatal(err)
	}
	if n := w.WriteThroughs(); n != 0 {
		t.Errorf("WriteThroughs = %d, want 0", n)
	}
	r.Triggers[1].Mode = abi.ModeWriteThrough
	if wt, err := NewWatcher([]Watched{{Recipe: r}}); err != nil || wt.WriteThroughs() != 1 {
		t.Errorf("WriteThroughs with one write-through trigger: %v", err)
	}
	for key, want := range map[string]abi.DataKind{"k:1": abi.DataHash, "k:json:1": abi.DataJSON, "k:json:str:1": abi.DataString, "k:jso": abi.DataHash} {
		if got, ok := w.Match([]byte(key)); !ok || got.Data != want {
			t.Errorf("Match(%q) = %v, %v; want data %v", key, got.Data, ok, want)
		}
	}
}

func TestWatcherRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		recipes []Watched
		want    string
	}{
		{"overlap", []Watched{
			{Recipe: recipe("persons", "person:"), Source: "persons.wasm"},
			{Recipe: recipe("vips", "person:vip:"), Source: "vips.wasm"},
		}, `recipes "persons" (persons.wasm) and "vips" (vips.wasm) watch overlapping prefixes "person:" and "person:vip:"`},
		{"overlap reversed", []Watched{
			{Recipe: recipe("vips", "a:", "person:vip:"), Source: "vips.wasm"},
			{Recipe: recipe("persons", "person:"), Source: "persons.wasm"},
		}, `recipes "vips" (vips.wasm) and "persons" (persons.wasm) watch overlapping prefixes "person:vip:" and "person:"`},
		{"same prefix", []Watched{
			{Recipe: recipe("a", "x:"), Source: "a.wasm"},
			{Recipe: recipe("b", "x:"), Source: "b.wasm"},
		}, `recipes "a" (a.wasm) and "b" (b.wasm) watch overlapping prefixes "x:" and "x:"`},
		{"same name", []Watched{
			{Recipe: recipe("a", "x:"), Source: "a.wasm"},
			{Recipe: recipe("a", "y:"), Source: "a2.wasm"},
		}, `recipe "a" is loaded twice: from a.wasm and from a2.wasm`},
		{"twice in one recipe", []Watched{
			{Recipe: recipe("a", "x:", "x:"), Source: "a.wasm"},
		}, `recipe "a" (a.wasm): prefix "x:" is declared twice`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewWatcher(tc.recipes)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewWatcher = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// Disjoint prefixes that share a start are fine.
	if _, err := NewWatcher([]Watched{{Recipe: recipe("a", "user:")}, {Recipe: recipe("b", "users:")}}); err != nil {
		t.Errorf("disjoint prefixes: %v", err)
	}
}
