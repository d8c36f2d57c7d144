package serve

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/apply"
	"github.com/cogs-dev/cogs/host/frontend"
)

// StreamKey returns the key of the change stream of the recipe named
// recipe: "cogs:{<recipe>}:changes". The front end XADDs every captured
// change of the recipe's keys there, and the scheduler reads it; the key
// stays the same across the recipe's versions, so a hot replace never
// orphans entries. The braces make the recipe name the key's hash tag, so
// that in Redis Cluster all of a recipe's keys of cogs (its stream, and
// later its dead-letter stream) sit in one slot.
func StreamKey(recipe string) string {
	return apply.KeysOf(recipe).Stream
}

// Watched is a loaded recipe whose triggers a Watcher serves.
type Watched struct {
	Recipe abi.Recipe
	// Source names where the recipe came from (its file) in errors.
	Source string
	// HighWater is the stream length from which the recipe's keys refuse
	// writes (frontend.Watch.HighWater); 0: no limit.
	HighWater int64
}

// Watcher is the frontend.Watcher of a fixed set of recipes: a key is
// watched by the trigger with the longest prefix of it. It is immutable and
// safe for concurrent use.
type Watcher struct {
	entries      []watchEntry // longest prefix first
	writeThrough int          // entries written through
}

type watchEntry struct {
	prefix []byte
	watch  frontend.Watch
}

var _ frontend.Watcher = (*Watcher)(nil)

// NewWatcher returns the Watcher of the triggers of recipes. It refuses two
// recipes of the same name, and two recipes with overlapping prefixes (one
// a prefix of the other), since a key must belong to one recipe; one
// recipe's own triggers may overlap, the longest prefix winning.
func NewWatcher(recipes []Watched) (*Watcher, error) {
	type owner struct {
		recipe, source, prefix string
	}
	names := map[string]string{}
	var owners []owner
	w := &Watcher{}
	for _, r := range recipes {
		name := r.Recipe.Name
		if src, dup := names[name]; dup {
			return nil, fmt.Errorf("recipe %q is loaded twice: from %s and from %s", name, src, r.Source)
		}
		names[name] = r.Source
		seen := map[string]bool{}
		for _, t := range r.Recipe.Triggers {
			if seen[t.Prefix] {
				return nil, fmt.Errorf("recipe %q (%s): prefix %q is declared twice", name, r.Source, t.Prefix)
			}
			seen[t.Prefix] = true
			for _, o := range owners {
				if o.recipe != name && (strings.HasPrefix(o.prefix, t.Prefix) || strings.HasPrefix(t.Prefix, o.prefix)) {
					return nil, fmt.Errorf("recipes %q (%s) and %q (%s) watch overlapping prefixes %q and %q: a key must belong to one recipe",
						o.recipe, o.source, name, r.Source, o.prefix, t.Prefix)
				}
			}
			owners = append(owners, owner{name, r.Source, t.Prefix})
			if t.Mode == abi.ModeWriteThrough {
				w.writeThrough++
			}
			w.entries = append(w.entries, watchEntry{
				prefix: []byte(t.Prefix),
				watch:  frontend.Watch{Recipe: name, Stream: StreamKey(name), Data: t.Data, Mode: t.Mode, HighWater: r.HighWater},
			})
		}
	}
	sort.SliceStable(w.entries, func(i, j int) bool { return len(w.entries[i].prefix) > len(w.entries[j].prefix) })
	return w, nil
}

// Match returns the watch of the trigger with the longest prefix of key.
func (w *Watcher) Match(key []byte) (frontend.Watch, bool) {
	for i := range w.entries {
		if bytes.HasPrefix(key, w.entries[i].prefix) {
			return w.entries[i].watch, true
		}
	}
	return frontend.Watch{}, false
}

// Len returns the number of triggers.
func (w *Watcher) Len() int { return len(w.entries) }

// WriteThroughs returns the number of write-through triggers.
func (w *Watcher) WriteThroughs() int { return w.writeThrough }

// Owned reports whether key is the change stream of a loaded recipe; the
// front end refuses client writes to it (frontend.StreamGuard).
func (w *Watcher) Owned(key []byte) (string, bool) {
	for i := range w.entries {
		if string(key) == w.entries[i].watch.Stream {
			return w.entries[i].watch.Recipe, true
		}
	}
	return "", false
}

var _ frontend.StreamGuard = (*Watcher)(nil)
