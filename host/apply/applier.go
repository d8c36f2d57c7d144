package apply

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/cogs-dev/cogs/abi"
)

// State is what an Applier is doing.
type State string

const (
	StateStandby  State = "standby"  // another host holds the lease
	StateRunning  State = "running"  // applying (or waiting for changes)
	StateRetrying State = "retrying" // a target or Redis fails; retrying with backoff
	StateStopped  State = "stopped"  // Run returned
)

// Stats are an Applier's counters since it started.
type Stats struct {
	State     State
	LastError string // the error of the ongoing retries (StateRetrying)
	Recipe    string // the recipe's name and version
	Version   string

	Batches   uint64 // batches committed
	Read      uint64 // stream entries read
	Coalesced uint64 // changes superseded by a later change to the same key in their batch
	Duplicate uint64 // changes at or below a target's checkpoint (already applied)
	Skipped   uint64 // changes the recipe skipped
	Applied   uint64 // changes whose rows were committed
	Failed    uint64 // changes dead-lettered
	Upserts   uint64 // row operations committed, by kind
	Inserts   uint64
	Deletes   uint64
	// Map calls that failed: the recipe trapped (or ran out of memory),
	// timed out, or failed otherwise (an ABI violation, its own failure).
	Traps, Timeouts, MapErrors uint64

	// RowsPerSecond is the rate of committed row operations over the last
	// minute (or since the start, when shorter).
	RowsPerSecond float64

	// LastApplied is the ID of the last entry of the last batch handled.
	LastApplied abi.StreamID
}

// An Applier applies one recipe's change stream. Run it once; it is safe
// for concurrent use.
type Applier struct {
	cfg   Config
	log   hclog.Logger
	token string // this run's lease value

	// mu is held while a batch is handled; SetRecipe takes it to switch
	// recipes between two batches.
	mu     sync.Mutex
	recipe Mapper

	cpMu sync.Mutex
	cps  map[string]abi.StreamID // checkpoint per target and name, loaded when leading
	// partsSeen are the partition counts used on the stream, this one
	// among them (read when leading).
	partsSeen []int

	statsMu sync.Mutex
	stats   Stats
	rate    rate // committed row operations, per second

	failMu  sync.Mutex
	failing map[string]*failure // ongoing transient failures by target ("" for Redis)

	// leaseUntil (Unix nanoseconds) is when the lease may no longer be
	// relied on: half a TTL after the last renewal was sent.
	leaseUntil atomic.Int64
}

// errLeaseLost stops a commit that would start after the lease may have
// expired.
var errLeaseLost = errors.New("apply: the lease may have expired")

// leased reports whether a commit may still start.
func (a *Applier) leased() error {
	if time.Now().UnixNano() > a.leaseUntil.Load() {
		return errLeaseLost
	}
	return nil
}

// failure is an ongoing run of transient failures.
type failure struct {
	since    time.Time
	attempts int
}

// New returns an Applier for cfg.
func New(cfg Config) (*Applier, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var b [8]byte
	rand.Read(b[:])
	m := cfg.Recipe.Meta()
	a := &Applier{
		cfg:     cfg,
		log:     cfg.Logger.With("recipe", m.Name),
		token:   cfg.Consumer + "/" + hex.EncodeToString(b[:]),
		recipe:  cfg.Recipe,
		failing: map[string]*failure{},
	}
	a.stats.State = StateStandby
	a.stats.Recipe, a.stats.Version = m.Name, m.Version
	return a, nil
}

// Keys returns the applier's Redis keys.
func (a *Applier) Keys() Keys { return a.cfg.Keys }

// Stats returns a copy of the applier's counters.
func (a *Applier) Stats() Stats {
	a.statsMu.Lock()
	defer a.statsMu.Unlock()
	s := a.stats
	s.RowsPerSecond = a.rate.perSecond(time.Now())
	return s
}

// rate counts events in one-second buckets over the last minute.
type rate struct {
	start   time.Time
	buckets [60]uint64
	sec     [60]int64 // the second each bucket counts
}

func (r *rate) add(now time.Time, n uint64) {
	if r.start.IsZero() {
		r.start = now
	}
	s := now.Unix()
	i := s % 60
	if r.sec[i] != s {
		r.sec[i], r.buckets[i] = s, 0
	}
	r.buckets[i] += n
}

func (r *rate) perSecond(now time.Time) float64 {
	if r.start.IsZero() {
		return 0
	}
	s := now.Unix()
	var total uint64
	for i := range r.buckets {
		if r.sec[i] > s-60 && r.sec[i] <= s {
			total += r.buckets[i]
		}
	}
	window := min(now.Sub(r.start).Seconds(), 60)
	if window < 1 {
		window = 1
	}
	return float64(total) / window
}

func (a *Applier) update(f func(s *Stats)) {
	a.statsMu.Lock()
	f(&a.stats)
	a.statsMu.Unlock()
}

// SetRecipe replaces the recipe between two batches: it waits for the
// batch in flight (or ctx) and returns the recipe it replaced, which the
// caller may close. The new recipe's triggers must name configured
// targets.
func (a *Applier) SetRecipe(ctx context.Context, m Mapper) (Mapper, error) {
	if err := CheckTargets(m.Meta(), a.cfg.Targets); err != nil {
		return nil, err
	}
	locked := make(chan struct{})
	go func() { a.mu.Lock(); close(locked) }()
	select {
	case <-locked:
	case <-ctx.Done():
		go func() { <-locked; a.mu.Unlock() }()
		return nil, ctx.Err()
	}
	defer a.mu.Unlock()
	old := a.recipe
	a.recipe = m
	meta := m.Meta()
	a.update(func(s *Stats) { s.Recipe, s.Version = meta.Name, meta.Version })
	a.log.Info("recipe replaced", "version", meta.Version, "previous", old.Meta().Version)
	return old, nil
}

// Run applies the stream until ctx is cancelled, then returns nil. It
// waits for the lease while another host holds it.
func (a *Applier) Run(ctx context.Context) error {
	defer a.update(func(s *Stats) { s.State = StateStopped })
	standbyLogged := false
	for ctx.Err() == nil {
		sent := time.Now()
		ok, err := a.cfg.Redis.SetNX(ctx, a.cfg.Keys.Lease, a.token, a.cfg.LeaseTTL).Result()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			a.transient(ctx, "", err)
			continue
		}
		a.recovered("")
		if !ok {
			if !standbyLogged {
				holder, _ := a.cfg.Redis.Get(ctx, a.cfg.Keys.Lease).Result()
				a.log.Info("standing by: another host applies the stream", "lease", a.cfg.Keys.Lease, "holder", holder)
				standbyLogged = true
			}
			a.update(func(s *Stats) { s.State = StateStandby })
			sleep(ctx, a.cfg.LeaseTTL/3)
			continue
		}
		standbyLogged = false
		a.lead(ctx, sent)
	}
	return nil
}

var renewScript = redis.NewScript(`
if redis.call('get', KEYS[1]) == ARGV[1] then
	return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0`)

var releaseScript = redis.NewScript(`
if redis.call('get', KEYS[1]) == ARGV[1] then
	return redis.call('del', KEYS[1])
end
return 0`)

// lead applies the stream while the lease is held: it renews the lease in
// the background and cancels everything when the lease is lost.
func (a *Applier) lead(ctx context.Context, acquired time.Time) {
	lctx, cancel := context.WithCancel(ctx)
	ttl := a.cfg.LeaseTTL
	a.leaseUntil.Store(acquired.Add(ttl / 2).UnixNano())
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		defer cancel()
		t := time.NewTicker(ttl / 4)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
			// The lease runs from when the renewal was sent, not from
			// when its answer came back.
			sent := time.Now()
			rctx, rcancel := context.WithTimeout(lctx, ttl/4)
			n, err := renewScript.Run(rctx, a.cfg.Redis, []string{a.cfg.Keys.Lease}, a.token, ttl.Milliseconds()).Int()
			rcancel()
			switch {
			case err == nil && n == 1:
				a.leaseUntil.Store(sent.Add(ttl / 2).UnixNano())
			case err == nil:
				a.log.Warn("lease lost: another host took the stream over", "lease", a.cfg.Keys.Lease)
				return
			case time.Now().UnixNano() > a.leaseUntil.Load():
				// Half the lease is left: stop before another host can
				// start. The batch in flight is rolled back, and no
				// commit starts after this point (leased).
				a.log.Warn("lease not renewed in time; stopping", "lease", a.cfg.Keys.Lease, "error", err)
				return
			}
		}
	}()
	a.log.Info("applying", "stream", a.cfg.Keys.Stream, "consumer", a.cfg.Consumer)
	a.update(func(s *Stats) { s.State = StateRunning })

	a.cpMu.Lock()
	a.cps = map[string]abi.StreamID{}
	a.cpMu.Unlock()
	err := a.apply(lctx)
	cancel()
	<-renewed
	rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
	releaseScript.Run(rctx, a.cfg.Redis, []string{a.cfg.Keys.Lease}, a.token)
	rcancel()
	if err != nil && ctx.Err() == nil {
		a.log.Info("stopped applying", "reason", err)
	}
}

// apply prepares the stream (group, claimed entries) and applies batches
// until ctx is done.
func (a *Applier) apply(ctx context.Context) error {
	for {
		err := a.cfg.Redis.XGroupCreateMkStream(ctx, a.cfg.Keys.Stream, a.cfg.Group, "0").Err()
		if err == nil || strings.HasPrefix(err.Error(), "BUSYGROUP") {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.transient(ctx, "", err)
	}
	for {
		err := a.loadPartitions(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.transient(ctx, "", err)
	}
	for start := "0-0"; ; {
		ids, next, err := a.cfg.Redis.XAutoClaimJustID(ctx, &redis.XAutoClaimArgs{
			Stream: a.cfg.Keys.Stream, Group: a.cfg.Group, Consumer: a.cfg.Consumer,
			MinIdle: 0, Start: start, Count: 1000,
		}).Result()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			a.transient(ctx, "", err)
			continue
		}
		a.recovered("")
		if len(ids) > 0 {
			a.log.Info("claimed pending entries", "count", len(ids))
		}
		if next == "0-0" || next == "" {
			break
		}
		start = next
	}
	// Three stages: this goroutine reads and maps batch n+2 while another
	// applies batch n+1 to the targets and a third acknowledges batch n in
	// Redis. The channels hold one batch each, so a target that is down
	// stops the reading too.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	prepared := make(chan *batch, 1)
	committed := make(chan *batch, 1)
	done := make(chan struct{})
	go func() {
		defer close(committed)
		failed := false
		for b := range prepared {
			if failed {
				continue
			}
			if err := a.commit(ctx, b); err != nil {
				failed = true
				cancel()
				continue
			}
			committed <- b
		}
	}()
	go func() {
		defer close(done)
		failed := false
		for b := range committed {
			if failed {
				continue
			}
			if err := a.conclude(ctx, b); err != nil {
				failed = true
				cancel()
			}
		}
	}()
	defer func() {
		close(prepared)
		<-done
	}()
	pending := "0" // read our own pending entries first, then new ones
	for ctx.Err() == nil {
		a.mu.Lock()
		size, age := a.cfg.batchParams(a.recipe.Meta())
		a.mu.Unlock()
		msgs, err := a.read(ctx, &pending, size, age)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			a.transient(ctx, "", err)
			continue
		}
		a.recovered("")
		if len(msgs) == 0 {
			continue
		}
		b, err := a.prepare(ctx, msgs)
		if err != nil {
			return err
		}
		select {
		case prepared <- b:
		case <-ctx.Done():
		}
	}
	return ctx.Err()
}

// read returns the next batch: while *pending is not "", the consumer's
// own pending entries after it; then new entries, waiting up to age after
// the first one's capture for the batch to fill.
func (a *Applier) read(ctx context.Context, pending *string, size int, age time.Duration) ([]redis.XMessage, error) {
	rd := func(id string, count int, block time.Duration) ([]redis.XMessage, error) {
		res, err := a.cfg.Redis.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: a.cfg.Group, Consumer: a.cfg.Consumer,
			Streams: []string{a.cfg.Keys.Stream, id}, Count: int64(count), Block: block,
		}).Result()
		if errors.Is(err, redis.Nil) {
			return nil, nil
		}
		if err != nil || len(res) == 0 {
			return nil, err
		}
		return res[0].Messages, nil
	}
	if *pending != "" {
		msgs, err := rd(*pending, size, -1)
		if err != nil {
			return nil, err
		}
		if len(msgs) == 0 {
			*pending = ""
			return nil, nil
		}
		*pending = msgs[len(msgs)-1].ID
		return msgs, nil
	}
	// Reads block at most a quarter of the lease (and a second), so that
	// none is still waiting in Redis when another host takes over: an
	// entry it returned then would be pending here, out of that host's
	// sight.
	blockCap := min(time.Second, a.cfg.LeaseTTL/4)
	msgs, err := rd(">", size, blockCap)
	if err != nil || len(msgs) == 0 {
		return msgs, err
	}
	now := time.Now()
	deadline := now.Add(age)
	if id, ok := abi.ParseStreamID(msgs[0].ID); ok {
		if d := time.UnixMilli(int64(id.Ms)).Add(age); d.Before(deadline) {
			deadline = d
		}
	}
	for len(msgs) < size {
		wait := min(time.Until(deadline), blockCap)
		if wait < time.Millisecond {
			break
		}
		more, err := rd(">", size-len(msgs), wait)
		if err != nil {
			// What was read is pending: handle it, and let the next
			// read report the error.
			break
		}
		msgs = append(msgs, more...)
	}
	return msgs, nil
}

// transient records a transient failure of target ("" for Redis), logs it
// when it starts, and sleeps the backoff for the number of failures so far.
func (a *Applier) transient(ctx context.Context, target string, err error) {
	a.failMu.Lock()
	f := a.failing[target]
	if f == nil {
		f = &failure{since: time.Now()}
		a.failing[target] = f
		a.log.Warn(failingWhat(target)+" failing; retrying with backoff", "error", err)
	}
	f.attempts++
	n := f.attempts
	a.failMu.Unlock()
	a.update(func(s *Stats) { s.State, s.LastError = StateRetrying, err.Error() })
	sleep(ctx, a.backoff(n))
}

// ackStage names the Redis writes of the acknowledging stage among the
// failing parts, apart from the reading stage's ("").
const ackStage = "\x00ack"

// failingWhat names a failing part in the log.
func failingWhat(target string) string {
	switch target {
	case "":
		return "redis"
	case ackStage:
		return "redis (acknowledging)"
	}
	return "target " + target
}

// recovered ends a run of transient failures of target, logging it.
func (a *Applier) recovered(target string) {
	a.failMu.Lock()
	defer a.failMu.Unlock()
	f := a.failing[target]
	if f == nil {
		return
	}
	delete(a.failing, target)
	a.log.Info(failingWhat(target)+" recovered", "attempts", f.attempts, "after", time.Since(f.since).Round(time.Millisecond))
	if len(a.failing) == 0 {
		a.update(func(s *Stats) { s.State, s.LastError = StateRunning, "" })
	}
}

// backoff is the wait before attempt n+1: RetryMin doubled n-1 times, at
// most RetryMax, with up to a quarter of jitter.
func (a *Applier) backoff(n int) time.Duration {
	d := a.cfg.RetryMin
	for i := 1; i < n && d < a.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, a.cfg.RetryMax)
	var b [1]byte
	rand.Read(b[:])
	return d - d/4*time.Duration(b[0])/255
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// cpName is the stream name under which partition p of parts stores its
// checkpoint: the stream's name when there is one partition, and
// "<stream>#<p>/<parts>" otherwise.
func (a *Applier) cpName(p, parts int) string {
	if parts == 1 {
		return a.cfg.Keys.Stream
	}
	return a.cfg.Keys.Stream + "#" + strconv.Itoa(p) + "/" + strconv.Itoa(parts)
}

// partition is the partition of key among parts: FNV-1a of the key.
func partition(key string, parts int) int {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int(h % uint32(parts))
}

// applied reports whether it's change was committed by its target before:
// its ID is at or below the checkpoint of its key's partition, under the
// current partition count or any used before (Keys.Partitions).
func (a *Applier) applied(ctx context.Context, it *item) (bool, error) {
	for _, parts := range a.partsSeen {
		cp, err := a.checkpoint(ctx, it.target, a.cpName(partition(it.change.Key, parts), parts))
		if err != nil {
			return false, err
		}
		if !cp.Less(it.id) {
			return true, nil
		}
	}
	return false, nil
}

// loadPartitions records the current partition count in Keys.Partitions
// and reads every count used before into partsSeen, so that the
// checkpoints written under them are honoured.
func (a *Applier) loadPartitions(ctx context.Context) error {
	rdb := a.cfg.Redis
	if err := rdb.SAdd(ctx, a.cfg.Keys.Partitions, a.cfg.Partitions).Err(); err != nil {
		return err
	}
	seen, err := rdb.SMembers(ctx, a.cfg.Keys.Partitions).Result()
	if err != nil {
		return err
	}
	a.partsSeen = a.partsSeen[:0]
	for _, s := range seen {
		if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= MaxPartitions {
			a.partsSeen = append(a.partsSeen, n)
		}
	}
	return nil
}

// checkpoint returns the checkpoint name of target, reading it the first
// time.
func (a *Applier) checkpoint(ctx context.Context, target, name string) (abi.StreamID, error) {
	key := target + "\x00" + name
	a.cpMu.Lock()
	id, ok := a.cps[key]
	a.cpMu.Unlock()
	if ok {
		return id, nil
	}
	c := a.cfg.Targets[target]
	for {
		id, err := c.Checkpoint(ctx, name)
		if err == nil {
			a.recovered(target)
			a.cpMu.Lock()
			if cp, ok := a.cps[key]; !ok || cp.Less(id) {
				a.cps[key] = id
			}
			id = a.cps[key]
			a.cpMu.Unlock()
			return id, nil
		}
		if ctx.Err() != nil {
			return abi.StreamID{}, ctx.Err()
		}
		a.transient(ctx, target, err)
	}
}
