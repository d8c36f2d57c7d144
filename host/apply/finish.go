package apply

import (
	"context"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cogs-dev/cogs/abi"
)

// AckTTLSeconds is the time to live of an acknowledgement stream, as in
// rgsync: one hour.
const AckTTLSeconds = 3600

// finish writes the batch's outcome to Redis: the dead-letter entries not
// written yet, the acknowledgements, then XACK and XDEL of every entry. It
// retries until it succeeds or ctx is done; everything it writes is
// idempotent but the acknowledgements, which a retry may repeat.
func (a *Applier) finish(ctx context.Context, items []item) error {
	for {
		err := a.finishOnce(ctx, items)
		if err == nil {
			a.recovered(ackStage)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.transient(ctx, ackStage, err)
	}
}

// deadLetter writes the dead-letter entries of items that have none yet,
// under each change's own ID, retrying until it succeeds or ctx is done.
// The scheduler writes them before the target commit that moves the
// checkpoint past them: a batch replayed after a crash skips the changes at
// or below the checkpoint, and finds their dead letters already there.
func (a *Applier) deadLetter(ctx context.Context, items []*item) error {
	for {
		err := a.deadLetterOnce(ctx, items)
		if err == nil {
			a.recovered(ackStage)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.transient(ctx, ackStage, err)
	}
}

func (a *Applier) deadLetterOnce(ctx context.Context, items []*item) error {
	rdb := a.cfg.Redis
	type dead struct {
		it  *item
		cmd *redis.StringCmd
	}
	var deads []dead
	pipe := rdb.Pipeline()
	for _, it := range items {
		if it.fate == fateFailed && !it.dead {
			deads = append(deads, dead{it, pipe.XAdd(ctx, &redis.XAddArgs{Stream: a.cfg.Keys.DLQ, ID: it.sid, Values: dlqValues(it)})})
		}
	}
	if len(deads) == 0 {
		return nil
	}
	pipe.Exec(ctx)
	for _, d := range deads {
		if err := d.cmd.Err(); err != nil {
			if !strings.Contains(err.Error(), "equal or smaller") {
				return err
			}
			// Either written by an earlier attempt, or the dead-letter
			// stream has a later entry (replayed, say): then add it with
			// a new ID.
			got, err := rdb.XRange(ctx, a.cfg.Keys.DLQ, d.it.sid, d.it.sid).Result()
			if err != nil {
				return err
			}
			if len(got) == 0 {
				if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: a.cfg.Keys.DLQ, Values: dlqValues(d.it)}).Err(); err != nil {
					return err
				}
			}
		}
		d.it.dead = true
	}
	// One line per batch, not per change: a flood of bad changes must not
	// flood the log (the dead-letter stream has them all).
	first := deads[0].it
	a.log.Warn("changes dead-lettered", "count", len(deads), "dlq", a.cfg.Keys.DLQ,
		"first_key", first.change.Key, "first_id", first.sid, "stage", first.stage, "reason", first.reason)
	return nil
}

func (a *Applier) finishOnce(ctx context.Context, items []item) error {
	rdb := a.cfg.Redis
	failed := make([]*item, 0)
	for i := range items {
		if items[i].fate == fateFailed && !items[i].dead {
			failed = append(failed, &items[i])
		}
	}
	if err := a.deadLetterOnce(ctx, failed); err != nil {
		return err
	}
	// A change skipped as already committed may have been dead-lettered by
	// the run that committed its batch: its acknowledgement says so.
	for i := range items {
		it := &items[i]
		if it.fate == fateDuplicate && it.ack != "" {
			got, err := rdb.XRange(ctx, a.cfg.Keys.DLQ, it.sid, it.sid).Result()
			if err != nil {
				return err
			}
			if len(got) == 1 {
				it.fate, it.dead = fateFailed, true
				it.reason, _ = got[0].Values["error"].(string)
			}
		}
	}

	pipe := rdb.Pipeline()
	ids := make([]string, len(items))
	for i := range items {
		it := &items[i]
		ids[i] = it.sid
		if it.ack == "" {
			continue
		}
		final := it
		for final.fate == fateCoalesced {
			final = &items[final.by]
		}
		var values []any
		if final.fate == fateFailed {
			values = []any{"status", "failed", "error", final.reason}
		} else {
			values = []any{"status", "done"}
		}
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: it.ack, Values: values})
		pipe.Expire(ctx, it.ack, AckTTLSeconds*1e9)
	}
	xack := pipe.XAck(ctx, a.cfg.Keys.Stream, a.cfg.Group, ids...)
	xdel := pipe.XDel(ctx, a.cfg.Keys.Stream, ids...)
	cmds, _ := pipe.Exec(ctx)
	if err := xack.Err(); err != nil {
		return err
	}
	if err := xdel.Err(); err != nil {
		return err
	}
	// An acknowledgement that Redis refused (its key holds another type)
	// is logged, not retried: the change itself is done.
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			a.log.Warn("acknowledgement not written", "command", c.Name(), "args", c.Args()[1], "error", err)
		}
	}
	return nil
}

// dlqValues are the fields of it's dead-letter entry: the entry's own, in
// the capture script's order, then the reason and the stage.
func dlqValues(it *item) []any {
	v := make([]any, 0, 2*len(entryFields)+4)
	for _, name := range entryFields {
		if x, ok := it.values[name]; ok {
			v = append(v, name, x)
		}
	}
	return append(v, "error", it.reason, "stage", it.stage)
}

// count adds the batch to the stats.
func (a *Applier) count(b BatchInfo, last abi.StreamID) {
	a.update(func(s *Stats) {
		s.Batches++
		s.Applied += uint64(b.Applied)
		s.Skipped += uint64(b.Skipped)
		s.Coalesced += uint64(b.Coalesced)
		s.Duplicate += uint64(b.Duplicate)
		s.Failed += uint64(b.Failed)
		s.Upserts += uint64(b.Upserts)
		s.Inserts += uint64(b.Inserts)
		s.Deletes += uint64(b.Deletes)
		a.rate.add(time.Now(), uint64(b.Upserts+b.Inserts+b.Deletes))
		if s.LastApplied.Less(last) {
			s.LastApplied = last
		}
	})
}
