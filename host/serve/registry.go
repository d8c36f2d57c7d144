package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
	"github.com/cogs-dev/cogs/host/apply"
	"github.com/cogs-dev/cogs/host/engine"
	"github.com/cogs-dev/cogs/host/frontend"
)

// Keys of the recipe registry in Redis.
const (
	// RecipesKey is the set of the names of the loaded recipes.
	RecipesKey = "cogs:recipes"
	// GenerationKey counts the changes to the registry; hosts poll it.
	GenerationKey = "cogs:recipes:gen"
)

// RecipeKey is the hash holding a loaded recipe: wasm, config, version,
// sum, high_water, source, loaded_at.
func RecipeKey(name string) string { return "cogs:{" + name + "}:recipe" }

// syncInterval is how often a host looks for changes other hosts made.
const syncInterval = 200 * time.Millisecond

// RefusedError is a recipe refused by Load; the running recipes are
// untouched.
type RefusedError struct {
	// Reason is one of the Reason constants.
	Reason string
	Err    error
}

// Reasons of a RefusedError.
const (
	ReasonTooLarge   = "too large"
	ReasonInvalid    = "invalid module"
	ReasonABI        = "unsupported ABI"
	ReasonInit       = "init failed"
	ReasonNoTriggers = "no triggers"
	ReasonOverlap    = "overlapping prefix"
	ReasonConnection = "unknown connection"
	ReasonVersion    = "version not higher"
)

func (e *RefusedError) Error() string { return "recipe refused (" + e.Reason + "): " + e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// ErrNoRecipe is returned for a recipe name that is not loaded.
var ErrNoRecipe = errors.New("no such recipe")

// Registry is the set of recipes a host runs: loaded, replaced and deleted
// at runtime, persisted in Redis so that a restarted host and every host
// of a fleet run the same set, and each applied by its Applier. It is the
// front end's Watcher of their triggers.
type Registry struct {
	eng      *engine.Engine
	rdb      *redis.Client
	targets  map[string]connectors.Connector
	applyCfg apply.Config // Redis, Targets, batching, Logger, Observer
	log      hclog.Logger
	maxSize  int64
	ctx      context.Context // the appliers run under it

	mu       sync.Mutex // serialises changes
	recipes  map[string]*loaded
	gen      int64             // the generation last reconciled
	failed   map[string]string // name -> sum of a stored recipe that failed to load here
	watcher  atomic.Pointer[Watcher]
	running  atomic.Pointer[map[string]*loaded] // a copy of recipes, for lookups without r.mu
	appliers sync.WaitGroup
}

// loaded is one running recipe.
type loaded struct {
	rec       *engine.Recipe
	meta      abi.Recipe
	config    []byte
	sum       string
	size      int
	source    string
	highWater int64
	loadedAt  time.Time
	applier   *apply.Applier
	stop      context.CancelFunc
	done      chan struct{}
}

func newRegistry(ctx context.Context, eng *engine.Engine, rdb *redis.Client, targets map[string]connectors.Connector,
	applyCfg apply.Config, maxSize int64, log hclog.Logger) *Registry {
	r := &Registry{eng: eng, rdb: rdb, targets: targets, applyCfg: applyCfg, log: log, maxSize: maxSize, ctx: ctx,
		recipes: map[string]*loaded{}, failed: map[string]string{}}
	w, _ := NewWatcher(nil)
	r.watcher.Store(w)
	return r
}

var (
	_ frontend.Watcher     = (*Registry)(nil)
	_ frontend.StreamGuard = (*Registry)(nil)
)

// Match implements frontend.Watcher.
func (r *Registry) Match(key []byte) (frontend.Watch, bool) { return r.watcher.Load().Match(key) }

// Len is the number of triggers watched.
func (r *Registry) Len() int { return r.watcher.Load().Len() }

// WriteThroughs is the number of write-through triggers.
func (r *Registry) WriteThroughs() int { return r.watcher.Load().WriteThroughs() }

// Owned implements frontend.StreamGuard.
func (r *Registry) Owned(key []byte) (string, bool) { return r.watcher.Load().Owned(key) }

// LoadOptions qualify Load.
type LoadOptions struct {
	// Replace loads a version equal to or lower than the loaded one.
	Replace bool
	// Source says where the recipe came from, for RECIPE LIST.
	Source string
	// HighWater is the stream length from which writes are refused.
	HighWater int64
	// Name names the module in errors until it declares its own name.
	// Default "upload".
	Name string
	// KeepNewer keeps a running recipe of the same name whose version is
	// higher, or equal with other contents (as a preload from the
	// configuration does, so that a RECIPE LOAD survives a restart);
	// LoadResult.Kept says so.
	KeepNewer bool
}

// LoadResult is what Load did.
type LoadResult struct {
	Recipe   abi.Recipe
	Previous string // the version it replaced, "" if none
	// Kept is the version of the running recipe that KeepNewer kept, or
	// that was already running with the same contents (Same).
	Kept string
	Same bool
}

// Load compiles, instantiates and initialises a recipe, checks it against
// the running ones, stores it in Redis and switches to it: a new name gets
// its applier; a loaded name keeps its applier and stream, and switches
// between two batches. Anything refused is a *RefusedError, and the
// running recipes are untouched.
func (r *Registry) Load(ctx context.Context, wasm, config []byte, opts LoadOptions) (LoadResult, error) {
	if r.maxSize > 0 && int64(len(wasm)) > r.maxSize {
		return LoadResult{}, &RefusedError{ReasonTooLarge, fmt.Errorf("the module is %d bytes, more than the limit of %d (admin.max_recipe_size)", len(wasm), r.maxSize)}
	}
	name := opts.Name
	if name == "" {
		name = "upload"
	}
	rec, err := r.eng.Load(ctx, name, wasm, config)
	if err != nil {
		return LoadResult{}, refusal(err)
	}
	meta := rec.Meta()
	l := &loaded{rec: rec, meta: meta, config: config, sum: sum(wasm, config), size: len(wasm),
		source: opts.Source, highWater: opts.HighWater, loadedAt: time.Now()}

	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.recipes[meta.Name]
	replace := opts.Replace
	if old != nil && opts.KeepNewer {
		nv, _ := abi.ParseSemver(meta.Version)
		ov, _ := abi.ParseSemver(old.meta.Version)
		if c := nv.Compare(ov); c < 0 || old.sum == l.sum || (c == 0 && old.source != l.source) {
			rec.Close(context.Background())
			return LoadResult{Recipe: old.meta, Kept: old.meta.Version, Same: old.sum == l.sum}, nil
		}
		replace = true
	}
	if err := r.check(l, old, replace); err != nil {
		rec.Close(context.Background())
		return LoadResult{}, err
	}
	gen, err := r.store(ctx, l, wasm)
	if err != nil {
		rec.Close(context.Background())
		return LoadResult{}, fmt.Errorf("storing the recipe in Redis: %w", err)
	}
	if gen == r.gen+1 {
		r.gen = gen // no other change to reconcile in between
	}
	res := LoadResult{Recipe: meta}
	if old != nil {
		res.Previous = old.meta.Version
	}
	if err := r.install(l); err != nil {
		return LoadResult{}, err
	}
	return res, nil
}

// refusal turns an engine load error into a RefusedError.
func refusal(err error) error {
	reason := ReasonInit
	switch {
	case strings.Contains(err.Error(), "declares no triggers"):
		// abi.ValidateRecipe's refusal, reported by the engine as an
		// init failure.
		reason = ReasonNoTriggers
	case errors.Is(err, engine.ErrInvalidModule):
		reason = ReasonInvalid
	case errors.Is(err, engine.ErrABIVersion):
		reason = ReasonABI
	}
	return &RefusedError{reason, err}
}

// check checks l against the running recipes (r.mu held): it has
// triggers, its connections exist, its prefixes overlap no other recipe's,
// and its version is higher than old's unless replace.
func (r *Registry) check(l, old *loaded, replace bool) error {
	m := l.meta
	if len(m.Triggers) == 0 {
		return &RefusedError{ReasonNoTriggers, fmt.Errorf("recipe %q declares no triggers", m.Name)}
	}
	if err := apply.CheckTargets(m, r.targets); err != nil {
		return &RefusedError{ReasonConnection, err}
	}
	others := make([]Watched, 0, len(r.recipes)+1)
	for name, o := range r.recipes {
		if name != m.Name {
			others = append(others, Watched{Recipe: o.meta, Source: o.source, HighWater: o.highWater})
		}
	}
	if _, err := NewWatcher(append(others, Watched{Recipe: m, Source: l.source, HighWater: l.highWater})); err != nil {
		return &RefusedError{ReasonOverlap, err}
	}
	if old != nil && !replace {
		nv, _ := abi.ParseSemver(m.Version)
		ov, _ := abi.ParseSemver(old.meta.Version)
		if nv.Compare(ov) <= 0 {
			return &RefusedError{ReasonVersion, fmt.Errorf("recipe %q version %s is not higher than the loaded %s (give REPLACE to load it anyway)", m.Name, m.Version, old.meta.Version)}
		}
	}
	return nil
}

func sum(wasm, config []byte) string {
	h := sha256.New()
	h.Write(wasm)
	h.Write([]byte{0})
	h.Write(config)
	return hex.EncodeToString(h.Sum(nil))
}

// store writes l to Redis and returns the new generation.
func (r *Registry) store(ctx context.Context, l *loaded, wasm []byte) (int64, error) {
	pipe := r.rdb.TxPipeline()
	key := RecipeKey(l.meta.Name)
	pipe.Del(ctx, key)
	pipe.HSet(ctx, key, "wasm", wasm, "config", l.config, "version", l.meta.Version, "sum", l.sum,
		"high_water", l.highWater, "source", l.source, "loaded_at", l.loadedAt.UnixMilli())
	pipe.SAdd(ctx, RecipesKey, l.meta.Name)
	gen := pipe.Incr(ctx, GenerationKey)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	return gen.Val(), nil
}

// install makes l the running recipe of its name (r.mu held).
func (r *Registry) install(l *loaded) error {
	name := l.meta.Name
	old := r.recipes[name]
	if old != nil {
		// Same stream, same applier: switch between two batches.
		prev, err := old.applier.SetRecipe(r.ctx, l.rec)
		if err != nil {
			// Only a host shutting down: keep the old one running.
			l.rec.Close(context.Background())
			return fmt.Errorf("recipe %q not switched: %w", name, err)
		}
		l.applier, l.stop, l.done = old.applier, old.stop, old.done
		r.recipes[name] = l
		r.rebuild()
		prev.(*engine.Recipe).Close(context.Background())
		r.log.Info("recipe replaced", "recipe", name, "version", l.meta.Version, "previous", old.meta.Version, "source", l.source)
		return nil
	}
	cfg := r.applyCfg
	cfg.Recipe = l.rec
	a, err := apply.New(cfg)
	if err != nil {
		l.rec.Close(context.Background())
		return fmt.Errorf("recipe %q not started: %w", name, err)
	}
	ctx, stop := context.WithCancel(r.ctx)
	l.applier, l.stop, l.done = a, stop, make(chan struct{})
	r.recipes[name] = l
	r.rebuild()
	r.appliers.Add(1)
	go func() {
		defer r.appliers.Done()
		defer close(l.done)
		a.Run(ctx)
	}()
	r.log.Info("recipe loaded", "recipe", name, "version", l.meta.Version, "source", l.source,
		"prefixes", prefixes(l.meta), "stream", StreamKey(name))
	return nil
}

// uninstall stops and removes the recipe name (r.mu held).
func (r *Registry) uninstall(name string) {
	l := r.recipes[name]
	if l == nil {
		return
	}
	delete(r.recipes, name)
	r.rebuild() // its triggers stop at once
	// The applier finishes the batch in flight on its own; a recipe of the
	// same name loaded meanwhile waits for its lease.
	l.stop()
	r.appliers.Add(1)
	go func() {
		defer r.appliers.Done()
		<-l.done
		l.rec.Close(context.Background())
	}()
	r.log.Info("recipe deleted", "recipe", name, "version", l.meta.Version)
}

// rebuild makes the Watcher of the running recipes, and the copy of them
// that write-through reads, current (r.mu held).
func (r *Registry) rebuild() {
	running := make(map[string]*loaded, len(r.recipes))
	for name, l := range r.recipes {
		running[name] = l
	}
	r.running.Store(&running)
	ws := make([]Watched, 0, len(r.recipes))
	for _, l := range r.recipes {
		ws = append(ws, Watched{Recipe: l.meta, Source: l.source, HighWater: l.highWater})
	}
	w, err := NewWatcher(ws)
	if err != nil {
		// check refuses what would get here.
		r.log.Error("internal error: recipes overlap", "error", err)
		return
	}
	r.watcher.Store(w)
}

func prefixes(m abi.Recipe) []string {
	p := make([]string, len(m.Triggers))
	for i, t := range m.Triggers {
		p[i] = t.Prefix
	}
	return p
}

// Delete stops the recipe name's triggers at once, stops its applier and
// removes it from Redis. Its stream and dead-letter stream stay, unless
// purge, which deletes them too.
func (r *Registry) Delete(ctx context.Context, name string, purge bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recipes[name] == nil {
		n, err := r.rdb.Exists(ctx, RecipeKey(name)).Result()
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w %q", ErrNoRecipe, name)
		}
	}
	if l := r.recipes[name]; purge && l != nil {
		// Stop the applier before its keys go, so that it does not
		// create them again.
		r.uninstall(name)
		<-l.done
	}
	pipe := r.rdb.TxPipeline()
	pipe.Del(ctx, RecipeKey(name))
	pipe.SRem(ctx, RecipesKey, name)
	if purge {
		k := apply.KeysOf(name)
		pipe.Del(ctx, k.Stream, k.DLQ, k.Lease, k.Partitions)
	}
	gen := pipe.Incr(ctx, GenerationKey)
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	if gen.Val() == r.gen+1 {
		r.gen = gen.Val()
	}
	r.uninstall(name)
	return nil
}

// Info describes a running recipe.
type Info struct {
	Name, Version, Source string
	Triggers              []abi.Trigger
	Size                  int
	Sum                   string
	LoadedAt              time.Time
	Keys                  apply.Keys
	Stats                 apply.Stats
}

// List describes the running recipes, by name.
func (r *Registry) List() []Info {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Info, 0, len(r.recipes))
	for _, l := range r.recipes {
		out = append(out, r.info(l))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Status describes the running recipe name.
func (r *Registry) Status(name string) (Info, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.recipes[name]
	if l == nil {
		return Info{}, fmt.Errorf("%w %q", ErrNoRecipe, name)
	}
	return r.info(l), nil
}

func (r *Registry) info(l *loaded) Info {
	return Info{Name: l.meta.Name, Version: l.meta.Version, Source: l.source, Triggers: l.meta.Triggers,
		Size: l.size, Sum: l.sum, LoadedAt: l.loadedAt, Keys: l.applier.Keys(), Stats: l.applier.Stats()}
}

// sync reconciles the running recipes with Redis every syncInterval,
// until ctx is done: what another host loaded, replaced or deleted.
func (r *Registry) sync(ctx context.Context) {
	t := time.NewTicker(syncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.reconcile(ctx); err != nil && ctx.Err() == nil {
			r.log.Debug("reading the recipes in Redis", "error", err)
		}
	}
}

// reconcile runs the recipes stored in Redis, when the generation moved.
func (r *Registry) reconcile(ctx context.Context) error {
	g, err := r.rdb.Get(ctx, GenerationKey).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if g == r.gen {
		return nil
	}
	names, err := r.rdb.SMembers(ctx, RecipesKey).Result()
	if err != nil {
		return err
	}
	stored := map[string]bool{}
	for _, name := range names {
		stored[name] = true
		s, err := r.rdb.HGet(ctx, RecipeKey(name), "sum").Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return err
		}
		if l := r.recipes[name]; (l != nil && l.sum == s) || r.failed[name] == s {
			continue
		}
		h, err := r.rdb.HGetAll(ctx, RecipeKey(name)).Result()
		if err != nil {
			return err
		}
		if err := r.loadStored(ctx, name, h); err != nil {
			r.failed[name] = h["sum"]
			r.log.Error("a recipe stored in Redis does not run on this host", "recipe", name, "version", h["version"], "error", err)
		}
	}
	for name := range r.recipes {
		if !stored[name] {
			r.uninstall(name)
		}
	}
	r.gen = g
	return nil
}

// loadStored runs the stored recipe h (r.mu held).
func (r *Registry) loadStored(ctx context.Context, name string, h map[string]string) error {
	wasm, config := []byte(h["wasm"]), []byte(h["config"])
	if len(config) == 0 {
		config = nil
	}
	rec, err := r.eng.Load(ctx, name, wasm, config)
	if err != nil {
		return err
	}
	meta := rec.Meta()
	if meta.Name != name {
		rec.Close(context.Background())
		return fmt.Errorf("the module declares the name %q", meta.Name)
	}
	hw, _ := strconv.ParseInt(h["high_water"], 10, 64)
	at, _ := strconv.ParseInt(h["loaded_at"], 10, 64)
	l := &loaded{rec: rec, meta: meta, config: config, sum: sum(wasm, config), size: len(wasm),
		source: h["source"], highWater: hw, loadedAt: time.UnixMilli(at)}
	if err := r.check(l, r.recipes[name], true); err != nil {
		rec.Close(context.Background())
		return err
	}
	return r.install(l)
}

// close stops every applier and releases the recipes.
func (r *Registry) close(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, l := range r.recipes {
		l.stop()
		<-l.done
		l.rec.Close(ctx)
		delete(r.recipes, name)
	}
	r.appliers.Wait()
}

// DeadLetter is one entry of a recipe's dead-letter stream.
type DeadLetter struct {
	ID     string
	Fields map[string]string
}

// DeadLetters returns up to count entries of the dead-letter stream of
// recipe name, oldest first, from the ID start on ("-": the first).
func (r *Registry) DeadLetters(ctx context.Context, name, start string, count int64) ([]DeadLetter, error) {
	msgs, err := r.rdb.XRangeN(ctx, apply.KeysOf(name).DLQ, start, "+", count).Result()
	if err != nil {
		return nil, err
	}
	out := make([]DeadLetter, len(msgs))
	for i, m := range msgs {
		f := make(map[string]string, len(m.Values))
		for k, v := range m.Values {
			f[k], _ = v.(string)
		}
		out[i] = DeadLetter{ID: m.ID, Fields: f}
	}
	return out, nil
}

// replayScript re-captures the key of each dead-letter entry ARGV from
// (entries without a key or kind, which cannot be, stay where they are)
// KEYS[1] into the change stream KEYS[2] with its current state, as the
// capture script would record it, and deletes the entry: the key's
// post-image now (or a delete when it is gone), never the older image the
// entry holds, which could overwrite a newer row.
var replayScript = redis.NewScript(`
local n = 0
for _, id in ipairs(ARGV) do
	local e = redis.call('XRANGE', KEYS[1], id, id)
	local t = {}
	if #e == 1 then
		local f = e[1][2]
		for j = 1, #f, 2 do t[f[j]] = f[j+1] end
	end
	local key, kind = t['key'], t['kind']
	if key and kind then
		local fields = {'op', 'delete', 'key', key, 'kind', kind}
		local typ = redis.call('TYPE', key)['ok']
		if kind == 'hash' and typ == 'hash' then
			local h = redis.call('HGETALL', key)
			local parts = {}
			for k = 1, #h do parts[#parts + 1] = #h[k] .. ':' .. h[k] end
			fields = {'op', 'set', 'key', key, 'kind', kind, 'data', table.concat(parts)}
		elseif kind ~= 'hash' and typ == 'string' then
			fields = {'op', 'set', 'key', key, 'kind', kind, 'data', redis.call('GET', key)}
		elseif kind == 'json' and typ == 'ReJSON-RL' then
			fields = {'op', 'set', 'key', key, 'kind', kind, 'data', redis.call('JSON.GET', key)}
		elseif typ ~= 'none' then
			fields = {'op', 'set', 'key', key, 'kind', kind, 'type', typ}
		end
		if t['ack'] then
			fields[#fields + 1] = 'ack'
			fields[#fields + 1] = t['ack']
		end
		redis.call('XADD', KEYS[2], '*', unpack(fields))
		redis.call('XDEL', KEYS[1], id)
		n = n + 1
	end
end
return n`)

// ReplayDeadLetters re-captures the keys of the dead-letter entries ids of
// recipe name (all of them when ids is empty), in order, with their
// current state, and removes the entries; it returns how many it replayed.
func (r *Registry) ReplayDeadLetters(ctx context.Context, name string, ids []string) (int64, error) {
	return r.eachDeadLetters(ctx, name, ids, func(chunk []string) (int64, error) {
		k := apply.KeysOf(name)
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		return replayScript.Run(ctx, r.rdb, []string{k.DLQ, k.Stream}, args...).Int64()
	})
}

// DropDeadLetters deletes the dead-letter entries ids of recipe name (all
// of them when ids is empty) and returns how many it deleted.
func (r *Registry) DropDeadLetters(ctx context.Context, name string, ids []string) (int64, error) {
	return r.eachDeadLetters(ctx, name, ids, func(chunk []string) (int64, error) {
		return r.rdb.XDel(ctx, apply.KeysOf(name).DLQ, chunk...).Result()
	})
}

// eachDeadLetters calls f with chunks of ids, or of every entry's ID.
func (r *Registry) eachDeadLetters(ctx context.Context, name string, ids []string, f func([]string) (int64, error)) (int64, error) {
	var total int64
	if len(ids) > 0 {
		for len(ids) > 0 {
			n := min(len(ids), 500)
			k, err := f(ids[:n])
			total += k
			if err != nil {
				return total, err
			}
			ids = ids[n:]
		}
		return total, nil
	}
	start := "-"
	for {
		msgs, err := r.rdb.XRangeN(ctx, apply.KeysOf(name).DLQ, start, "+", 500).Result()
		if err != nil || len(msgs) == 0 {
			return total, err
		}
		chunk := make([]string, len(msgs))
		for i, m := range msgs {
			chunk[i] = m.ID
		}
		k, err := f(chunk)
		total += k
		if err != nil {
			return total, err
		}
		start = "(" + msgs[len(msgs)-1].ID
	}
}

// streamView is what Redis says of a recipe's streams.
type streamView struct {
	length, pending, dlq int64
	oldest               time.Duration // age of the oldest entry
}

// streamView reads it; a value it cannot read is 0.
func (r *Registry) streamView(ctx context.Context, in Info) streamView {
	var v streamView
	pipe := r.rdb.Pipeline()
	length := pipe.XLen(ctx, in.Keys.Stream)
	pending := pipe.XPending(ctx, in.Keys.Stream, apply.DefaultGroup)
	dlq := pipe.XLen(ctx, in.Keys.DLQ)
	first := pipe.XRangeN(ctx, in.Keys.Stream, "-", "+", 1)
	pipe.Exec(ctx)
	v.length, v.dlq = length.Val(), dlq.Val()
	if p, err := pending.Result(); err == nil {
		v.pending = p.Count
	}
	if msgs := first.Val(); len(msgs) == 1 {
		if id, ok := abi.ParseStreamID(msgs[0].ID); ok {
			v.oldest = max(0, time.Since(time.UnixMilli(int64(id.Ms))))
		}
	}
	return v
}

// WriteThroughError is the failure of a write-through change; the front
// end sends it to the client as "-COGSWRITETHROUGH <message>", and leaves
// Redis unchanged.
type WriteThroughError struct {
	// Unknown reports that the outcome is unknown: the target did not
	// answer in time, and may or may not have committed the change.
	Unknown bool
	Msg     string
}

func (e *WriteThroughError) Error() string { return e.Msg }

// WriteThrough applies one change of a write-through trigger of recipe
// synchronously: the recipe maps it (its Trigger is found from its key),
// and the trigger's target commits the rows (without a stream checkpoint)
// within timeout. It returns nil when
// the target committed them (or the recipe skipped the change), and a
// *WriteThroughError otherwise.
func (r *Registry) WriteThrough(ctx context.Context, recipe string, c abi.Change, timeout time.Duration) error {
	// Not under r.mu, which a load holds while it compiles.
	l := r.lookup(recipe)
	if l == nil {
		return &WriteThroughError{Msg: fmt.Sprintf("recipe %q is not loaded", recipe)}
	}
	best := l.meta.TriggerFor(c.Key)
	if best < 0 {
		return &WriteThroughError{Msg: fmt.Sprintf("no trigger of recipe %q matches key %q", recipe, c.Key)}
	}
	c.Trigger = uint32(best)
	conn := l.meta.Triggers[best].Connection
	target := r.targets[conn]
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := l.rec.Map(ctx, []abi.Change{c})
	if errors.Is(err, engine.ErrClosed) {
		// Replaced meanwhile: the new version maps it.
		l = r.lookup(recipe)
		if l == nil {
			return &WriteThroughError{Msg: fmt.Sprintf("recipe %q is not loaded", recipe)}
		}
		res, err = l.rec.Map(ctx, []abi.Change{c})
	}
	if err != nil {
		return &WriteThroughError{Msg: fmt.Sprintf("recipe %q failed on the change: %v", recipe, oneLine(err.Error()))}
	}
	switch res[0].Outcome {
	case abi.OutcomeSkip:
		return nil
	case abi.OutcomeReject:
		return &WriteThroughError{Msg: fmt.Sprintf("recipe %q rejected the change: %s", recipe, res[0].Reason)}
	}
	if len(res[0].Rows) == 0 {
		return nil
	}
	err = target.Apply(ctx, res[0].Rows, connectors.Checkpoint{})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return &WriteThroughError{Unknown: true, Msg: fmt.Sprintf("target %q did not answer within %v: the outcome is unknown (Redis was not written; read the row back, or repeat the write, which is idempotent for upserts)", conn, timeout)}
	case connectors.IsPermanent(err):
		return &WriteThroughError{Msg: fmt.Sprintf("target %q refused: %s", conn, oneLine(unwrapBatch(err).Error()))}
	}
	return &WriteThroughError{Msg: fmt.Sprintf("target %q unavailable: %s", conn, oneLine(unwrapBatch(err).Error()))}
}

// unwrapBatch returns the driver's error inside a *connectors.BatchError.
func unwrapBatch(err error) error {
	var be *connectors.BatchError
	if errors.As(err, &be) && be.Err != nil {
		return be.Err
	}
	return err
}

// lookup returns the running recipe name, or nil.
func (r *Registry) lookup(name string) *loaded {
	if m := r.running.Load(); m != nil {
		return (*m)[name]
	}
	return nil
}

// writeThrough is the front end's frontend.WriteThrough: the registry's,
// with the configured timeout.
type writeThrough struct {
	reg     *Registry
	timeout time.Duration
}

func (w writeThrough) WriteThrough(ctx context.Context, recipe string, c abi.Change) error {
	return w.reg.WriteThrough(ctx, recipe, c, w.timeout)
}
