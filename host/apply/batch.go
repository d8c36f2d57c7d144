package apply

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
	"github.com/cogs-dev/cogs/host/engine"
	"github.com/cogs-dev/cogs/host/frontend"
)

// fate is what became of one entry of a batch.
type fate uint8

const (
	fatePending   fate = iota
	fateApplied        // its rows were committed (or it had none)
	fateSkipped        // the recipe skipped it
	fateCoalesced      // a later change to the same key in the batch supersedes it
	fateDuplicate      // at or below its target's checkpoint: applied before
	fateFailed         // dead-lettered
	fateEmpty          // the entry was deleted from the stream while pending
)

// Stages of a dead-lettered change (the "stage" field).
const (
	stageDecode  = "decode"
	stageRecipe  = "recipe"
	stageTarget  = "target"
	stageRetries = "retries"
)

// item is one stream entry of a batch.
type item struct {
	sid    string // the entry's ID as Redis wrote it
	id     abi.StreamID
	values map[string]any // the entry's fields, as read
	ack    string
	change abi.Change
	target string // the connection of its trigger
	fate   fate
	by     int // fateCoalesced: the item that supersedes it
	stage  string
	reason string
	dead   bool // its dead-letter entry is written
	rows   []abi.RowOp
}

// batch is a batch of entries, mapped and ready to be applied.
type batch struct {
	recipe string
	items  []item
	live   []int        // the items that were mapped
	cpID   abi.StreamID // the last entry's ID: the checkpoint
	mapped time.Duration

	applied   time.Duration // in the targets
	committed time.Time
}

// prepare decodes a batch of entries, coalesces them per key, sets aside
// the changes a target already committed, and maps the rest through the
// recipe. It returns an error only when ctx is done.
//
// The recipe lock (a.mu) is held while the batch is decoded against the
// recipe's triggers and while it is mapped, not while the targets'
// checkpoints are read (a target that is down would hold up SetRecipe); a
// replace in between starts the batch over with the new recipe.
func (a *Applier) prepare(ctx context.Context, msgs []redis.XMessage) (*batch, error) {
	a.update(func(s *Stats) { s.Read += uint64(len(msgs)) })
	for {
		a.mu.Lock()
		rec := a.recipe
		b := a.decodeBatch(rec.Meta(), msgs)
		a.mu.Unlock()

		// Skip what a target already committed.
		items := b.items
		for i := range items {
			it := &items[i]
			if it.fate != fatePending {
				continue
			}
			dup, err := a.applied(ctx, it)
			if err != nil {
				return nil, err
			}
			if dup {
				it.fate = fateDuplicate
			}
		}
		b.live = make([]int, 0, len(items))
		for i := range items {
			if items[i].fate == fatePending {
				b.live = append(b.live, i)
			}
		}

		a.mu.Lock()
		if a.recipe != rec {
			a.mu.Unlock()
			continue // replaced meanwhile
		}
		start := time.Now()
		err := a.mapItems(ctx, rec, items, b.live)
		a.mu.Unlock()
		if err != nil {
			return nil, err
		}
		b.mapped = time.Since(start)
		return b, nil
	}
}

// decodeBatch decodes the entries against meta's triggers and coalesces
// the changes of each key to the last one.
func (a *Applier) decodeBatch(meta abi.Recipe, msgs []redis.XMessage) *batch {
	b := &batch{recipe: meta.Name, items: make([]item, len(msgs))}
	items := b.items
	for i := range msgs {
		a.decode(&items[i], &msgs[i], meta)
		if items[i].fate != fateEmpty {
			b.cpID = items[i].id
		}
	}
	// Coalesce: only the last change to a key in the batch is mapped.
	latest := make(map[string]int, len(items))
	for i := len(items) - 1; i >= 0; i-- {
		it := &items[i]
		if it.fate != fatePending {
			continue
		}
		if j, ok := latest[it.change.Key]; ok {
			it.fate, it.by = fateCoalesced, j
			continue
		}
		latest[it.change.Key] = i
	}
	return b
}

// commit applies a prepared batch to its targets, one target at a time in
// stream order (conclude then writes its dead-letter entries and
// acknowledgements, acknowledges the entries and deletes them from the
// stream). It returns an error only when ctx is done: the batch stays
// pending and is read again by whoever leads next.
func (a *Applier) commit(ctx context.Context, b *batch) error {
	start := time.Now()
	items := b.items
	// The changes that failed in decoding or in the recipe are
	// dead-lettered before a commit moves the checkpoint past them.
	var failed []*item
	for i := range items {
		if items[i].fate == fateFailed {
			failed = append(failed, &items[i])
		}
	}
	if err := a.deadLetter(ctx, failed); err != nil {
		return err
	}
	byTarget := map[string][]int{}
	var order []string
	for _, i := range b.live {
		it := &items[i]
		if it.fate != fatePending {
			continue
		}
		if len(it.rows) == 0 {
			it.fate = fateApplied
			continue
		}
		if _, ok := byTarget[it.target]; !ok {
			order = append(order, it.target)
		}
		byTarget[it.target] = append(byTarget[it.target], i)
	}
	for _, target := range order {
		if err := a.applyPartitions(ctx, target, items, byTarget[target], b.cpID); err != nil {
			return err
		}
	}
	b.applied = time.Since(start)
	b.committed = time.Now()
	return nil
}

// conclude writes a committed batch's outcome to Redis (finish) and
// counts it.
// The batch is counted first: it is committed, and whoever sees the
// stream drained sees the counters that include it.
func (a *Applier) conclude(ctx context.Context, b *batch) error {
	info := a.info(b.recipe, b.items, b.mapped, b.applied, b.committed)
	a.count(info, b.cpID)
	if a.cfg.Observer != nil {
		a.cfg.Observer.Batch(info)
	}
	// The batch is committed: finishing it is always right, even when the
	// applier is stopping (then for a bounded time).
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(5*time.Second, cancel) })
	defer stop()
	return a.finish(fctx, b.items)
}

// info describes the handled batch for the Observer.
func (a *Applier) info(recipe string, items []item, mapped, applied time.Duration, committed time.Time) BatchInfo {
	b := BatchInfo{Recipe: recipe, Entries: len(items), Map: mapped, Apply: applied, Committed: committed}
	for i := range items {
		it := &items[i]
		switch it.fate {
		case fateApplied:
			b.Applied++
			for _, r := range it.rows {
				switch r.Op {
				case abi.RowUpsert:
					b.Upserts++
				case abi.RowInsert:
					b.Inserts++
				case abi.RowDelete:
					b.Deletes++
				}
			}
		case fateSkipped:
			b.Skipped++
		case fateCoalesced:
			b.Coalesced++
		case fateDuplicate:
			b.Duplicate++
		case fateFailed:
			b.Failed++
		}
		switch it.fate {
		case fateApplied, fateSkipped, fateCoalesced:
			if a.cfg.Observer == nil {
				continue
			}
			b.Lag = append(b.Lag, committed.Sub(time.UnixMilli(int64(it.id.Ms))))
		}
	}
	return b
}

// entryFields are the fields of a change entry, in the capture script's
// order.
var entryFields = [...]string{"op", "key", "kind", "data", "type", "ack"}

// decode fills it from the entry m.
func (a *Applier) decode(it *item, m *redis.XMessage, meta abi.Recipe) {
	it.sid = m.ID
	it.id, _ = abi.ParseStreamID(m.ID)
	if len(m.Values) == 0 {
		it.fate = fateEmpty // deleted while pending: nothing to do but XACK
		return
	}
	it.values = m.Values
	fields := make([][]byte, 0, 2*len(m.Values))
	for _, name := range entryFields {
		if v, ok := m.Values[name]; ok {
			s, _ := v.(string)
			fields = append(fields, []byte(name), []byte(s))
		}
	}
	ack, err := frontend.DecodeEntryAck(fields, &it.change)
	it.ack = ack
	it.change.ID = it.id
	if err != nil {
		it.fate, it.stage, it.reason = fateFailed, stageDecode, err.Error()
		return
	}
	best := meta.TriggerFor(it.change.Key)
	if best < 0 {
		it.fate, it.stage = fateFailed, stageDecode
		it.reason = "no trigger of recipe " + meta.Name + " " + meta.Version + " matches key " + it.change.Key
		return
	}
	it.change.Trigger = uint32(best)
	it.target = meta.Triggers[best].Connection
}

// mapItems maps the live items in one call; when the recipe fails on the
// batch, it splits it in halves until the failing changes are alone and
// dead-letters them.
func (a *Applier) mapItems(ctx context.Context, rec Mapper, items []item, live []int) error {
	if len(live) == 0 {
		return nil
	}
	changes := make([]abi.Change, len(live))
	for k, i := range live {
		changes[k] = items[i].change
	}
	results, err := rec.Map(ctx, changes)
	if err == nil {
		for k, i := range live {
			it := &items[i]
			r := results[k]
			switch r.Outcome {
			case abi.OutcomeRows:
				it.rows = r.Rows
			case abi.OutcomeSkip:
				it.fate = fateSkipped
			case abi.OutcomeReject:
				it.fate, it.stage, it.reason = fateFailed, stageRecipe, "rejected by recipe: "+r.Reason
			}
		}
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, engine.ErrClosed) {
		// Only a host shutting down closes a recipe in use.
		return err
	}
	a.update(func(s *Stats) {
		switch {
		case errors.Is(err, engine.ErrTrap), errors.Is(err, engine.ErrMemoryLimit):
			s.Traps++
		case errors.Is(err, engine.ErrTimeout):
			s.Timeouts++
		default:
			s.MapErrors++
		}
	})
	if len(live) == 1 {
		it := &items[live[0]]
		it.fate, it.stage, it.reason = fateFailed, stageRecipe, err.Error()
		return nil
	}
	h := len(live) / 2
	if err := a.mapItems(ctx, rec, items, live[:h]); err != nil {
		return err
	}
	return a.mapItems(ctx, rec, items, live[h:])
}

// applyPartitions applies the rows of items idx (in stream order) to
// target: with Config.Partitions above 1, the items of each partition of
// the keys concurrently, each partition in its own transaction with its own
// checkpoint.
func (a *Applier) applyPartitions(ctx context.Context, target string, items []item, idx []int, cpID abi.StreamID) error {
	parts := a.cfg.Partitions
	if parts == 1 {
		return a.applyTarget(ctx, target, a.cpName(0, 1), items, idx, cpID)
	}
	split := make([][]int, parts)
	for _, i := range idx {
		p := partition(items[i].change.Key, parts)
		split[p] = append(split[p], i)
	}
	errs := make(chan error, parts)
	n := 0
	for p, pidx := range split {
		if len(pidx) == 0 {
			continue
		}
		n++
		go func() { errs <- a.applyTarget(ctx, target, a.cpName(p, parts), items, pidx, cpID) }()
	}
	var err error
	for range n {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	return err
}

// applyTarget applies the rows of items idx (in stream order) to target
// with the checkpoint (cpName, cpID). A transient failure is retried with
// backoff; a permanent one dead-letters the change the target names, or
// splits the batch until the failing change is alone.
func (a *Applier) applyTarget(ctx context.Context, target, cpName string, items []item, idx []int, cpID abi.StreamID) error {
	c := a.cfg.Targets[target]
	attempts := 0
	for len(idx) > 0 {
		var ops []abi.RowOp
		owner := make([]int, 0, len(idx))
		for _, i := range idx {
			for range items[i].rows {
				owner = append(owner, i)
			}
			ops = append(ops, items[i].rows...)
		}
		if err := a.leased(); err != nil {
			return err
		}
		var err error
		cp := connectors.Checkpoint{Stream: cpName, ID: cpID}
		if st, ok := c.(connectors.Stamped); ok {
			ids := make([]abi.StreamID, len(owner))
			for j, i := range owner {
				ids[j] = items[i].id
			}
			err = st.ApplyStamped(ctx, ops, ids, cp)
		} else {
			err = c.Apply(ctx, ops, cp)
		}
		if err == nil {
			a.recovered(target)
			for _, i := range idx {
				items[i].fate = fateApplied
			}
			a.cpMu.Lock()
			if cp, ok := a.cps[target+"\x00"+cpName]; ok && cp.Less(cpID) {
				a.cps[target+"\x00"+cpName] = cpID
			}
			a.cpMu.Unlock()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var be *connectors.BatchError
		if !errors.As(err, &be) || !be.Permanent {
			// A connection lost during the commit leaves its outcome
			// unknown: the checkpoint says whether it committed.
			if cp, cerr := c.Checkpoint(ctx, cpName); cerr == nil && !cp.Less(cpID) {
				a.recovered(target)
				for _, i := range idx {
					items[i].fate = fateApplied
				}
				return nil
			}
			attempts++
			if a.cfg.MaxAttempts > 0 && attempts >= a.cfg.MaxAttempts {
				a.log.Error("giving up on a batch after repeated transient failures; its changes go to the dead-letter stream",
					"target", target, "attempts", attempts, "changes", len(idx), "error", err)
				dead := make([]*item, 0, len(idx))
				for _, i := range idx {
					items[i].fate, items[i].stage, items[i].reason = fateFailed, stageRetries, "target "+target+": "+err.Error()
					dead = append(dead, &items[i])
				}
				return a.deadLetter(ctx, dead)
			}
			a.transient(ctx, target, err)
			continue
		}
		a.recovered(target)
		attempts = 0
		if be.Index >= 0 && be.Index < len(owner) {
			bad := owner[be.Index]
			items[bad].fate, items[bad].stage, items[bad].reason = fateFailed, stageTarget, "target "+target+" refused: "+be.Err.Error()
			if err := a.deadLetter(ctx, []*item{&items[bad]}); err != nil {
				return err
			}
			rest := idx[:0:0]
			for _, i := range idx {
				if i != bad {
					rest = append(rest, i)
				}
			}
			idx = rest
			continue
		}
		if len(idx) == 1 {
			it := &items[idx[0]]
			it.fate, it.stage, it.reason = fateFailed, stageTarget, "target "+target+" refused: "+be.Err.Error()
			return a.deadLetter(ctx, []*item{it})
		}
		h := len(idx) / 2
		if err := a.applyTarget(ctx, target, cpName, items, idx[:h], items[idx[h-1]].id); err != nil {
			return err
		}
		return a.applyTarget(ctx, target, cpName, items, idx[h:], cpID)
	}
	return nil
}
