package apply

import (
	"context"
	"errors"
	"strings"

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
	fields []any // the entry's fields, name and value alternating
	ack    string
	change abi.Change
	target string // the connection of its trigger
	fate   fate
	by     int // fateCoalesced: the item that supersedes it
	stage  string
	reason string
	rows   []abi.RowOp
}

// handle applies one batch of entries, then writes its dead-letter entries
// and acknowledgements, acknowledges the entries and deletes them from the
// stream. It returns an error only when ctx is done: the batch stays
// pending and is read again by whoever leads next.
func (a *Applier) handle(ctx context.Context, msgs []redis.XMessage) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	rec := a.recipe
	meta := rec.Meta()
	items := make([]item, len(msgs))
	last := -1
	for i := range msgs {
		a.decode(&items[i], &msgs[i], meta)
		if items[i].fate != fateEmpty {
			last = i
		}
	}
	a.update(func(s *Stats) { s.Read += uint64(len(msgs)) })

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
	// Skip what a target already committed.
	for i := range items {
		it := &items[i]
		if it.fate != fatePending {
			continue
		}
		cp, err := a.checkpoint(ctx, it.target, a.cfg.Targets[it.target])
		if err != nil {
			return err
		}
		if !cp.Less(it.id) {
			it.fate = fateDuplicate
		}
	}

	live := make([]int, 0, len(items))
	for i := range items {
		if items[i].fate == fatePending {
			live = append(live, i)
		}
	}
	if err := a.mapItems(ctx, rec, items, live); err != nil {
		return err
	}

	// Apply, one target at a time, in stream order.
	var cpID abi.StreamID
	if last >= 0 {
		cpID = items[last].id
	}
	byTarget := map[string][]int{}
	var order []string
	for _, i := range live {
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
		if err := a.applyTarget(ctx, target, items, byTarget[target], cpID); err != nil {
			return err
		}
		if cp, ok := a.cps[target]; ok && cp.Less(cpID) {
			a.cps[target] = cpID
		}
	}
	if err := a.finish(ctx, items); err != nil {
		return err
	}
	a.count(items, cpID)
	return nil
}

// decode fills it from the entry m.
func (a *Applier) decode(it *item, m *redis.XMessage, meta abi.Recipe) {
	it.sid = m.ID
	it.id, _ = abi.ParseStreamID(m.ID)
	if len(m.Values) == 0 {
		it.fate = fateEmpty // deleted while pending: nothing to do but XACK
		return
	}
	// The capture script's field order, for the dead-letter copy.
	fields := make([][]byte, 0, 2*len(m.Values))
	it.fields = make([]any, 0, 2*len(m.Values))
	for _, name := range [...]string{"op", "key", "kind", "data", "type", "ack"} {
		if v, ok := m.Values[name]; ok {
			s, _ := v.(string)
			fields = append(fields, []byte(name), []byte(s))
			it.fields = append(it.fields, name, s)
		}
	}
	ack, err := frontend.DecodeEntryAck(fields, &it.change)
	it.ack = ack
	it.change.ID = it.id
	if err != nil {
		it.fate, it.stage, it.reason = fateFailed, stageDecode, err.Error()
		return
	}
	best := -1
	for j, t := range meta.Triggers {
		if strings.HasPrefix(it.change.Key, t.Prefix) && (best < 0 || len(t.Prefix) > len(meta.Triggers[best].Prefix)) {
			best = j
		}
	}
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
	for {
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
}

// applyTarget applies the rows of items idx (in stream order) to target
// with the checkpoint cpID. A transient failure is retried with backoff; a
// permanent one dead-letters the change the target names, or splits the
// batch until the failing change is alone.
func (a *Applier) applyTarget(ctx context.Context, target string, items []item, idx []int, cpID abi.StreamID) error {
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
		err := c.Apply(ctx, ops, connectors.Checkpoint{Stream: a.cfg.Keys.Stream, ID: cpID})
		if err == nil {
			a.recovered(target)
			for _, i := range idx {
				items[i].fate = fateApplied
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var be *connectors.BatchError
		if !errors.As(err, &be) || !be.Permanent {
			attempts++
			if a.cfg.MaxAttempts > 0 && attempts >= a.cfg.MaxAttempts {
				a.log.Error("giving up on a batch after repeated transient failures; its changes go to the dead-letter stream",
					"target", target, "attempts", attempts, "changes", len(idx), "error", err)
				for _, i := range idx {
					items[i].fate, items[i].stage, items[i].reason = fateFailed, stageRetries, "target "+target+": "+err.Error()
				}
				return nil
			}
			a.transient(ctx, target, err)
			continue
		}
		a.recovered(target)
		attempts = 0
		if be.Index >= 0 && be.Index < len(owner) {
			bad := owner[be.Index]
			items[bad].fate, items[bad].stage, items[bad].reason = fateFailed, stageTarget, "target "+target+" refused: "+be.Err.Error()
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
			return nil
		}
		h := len(idx) / 2
		if err := a.applyTarget(ctx, target, items, idx[:h], items[idx[h-1]].id); err != nil {
			return err
		}
		return a.applyTarget(ctx, target, items, idx[h:], cpID)
	}
	return nil
}
