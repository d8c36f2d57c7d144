// Package apply is the write-behind half of cogs: for each recipe, one
// Applier reads the recipe's change stream through a consumer group,
// closes batches by size or age, coalesces the changes of each key to the
// last one, maps the batch through the recipe in one Wasm call, and
// applies the rows to the target connections, each in one transaction
// together with the exactly-once checkpoint. Entries are acknowledged and
// deleted from the stream only after the target committed.
//
// # Ownership
//
// Of all the cogs hosts running against one Redis, one applies a given
// stream at a time: the one holding its lease, a key set with NX and a
// time to live (Config.LeaseTTL) that its holder renews at a third of the
// TTL. A host that dies stops renewing; another takes the lease once it
// expires, claims the pending entries of the consumer group (XAUTOCLAIM)
// and applies them first, in stream order. A holder that fails to renew
// for the whole TTL cancels the batch in flight (its transaction rolls
// back) before another host can take over.
//
// # Exactly once
//
// Every batch is committed with a checkpoint row (stream, last ID of the
// batch) in the same transaction (connectors.Connector). When an applier
// takes a stream over it reads each target's checkpoint, and skips the
// changes at or below it for that target: a batch that was committed but
// not acknowledged (the host died in between) is not applied twice.
//
// # Failures
//
//   - A transient failure (the target unreachable, a deadlock, a lost
//     connection) retries the same batch with exponential backoff from
//     Config.RetryMin to Config.RetryMax, forever unless Config.MaxAttempts
//     is set. It is logged when it starts and when it ends, not at every
//     attempt.
//   - A change that fails for good is isolated and written, with the
//     reason, to the recipe's dead-letter stream; the rest of its batch is
//     applied. A change fails for good when the recipe rejects it, when the
//     recipe traps, times out or fails on it (the batch is split in halves
//     until the failing change is alone), when the target refuses its rows
//     for good (constraint, type; the connector names the row, or the
//     batch is split until it is alone), or when its entry does not decode.
//     The dead-letter entry has the change's own stream ID, so a batch
//     retried after a crash does not dead-letter a change twice.
//   - A change whose writer asked for an acknowledgement (rgsync's "#"
//     field) gets "status done" in its acknowledgement stream once it is
//     committed (or skipped by the recipe, or coalesced into a later change
//     that was), and "status failed error <reason>" when it is
//     dead-lettered; the stream expires after an hour.
//
// # Dead-letter entries
//
// The dead-letter stream (Keys.DLQ) holds, under the change's own ID, the
// fields of the original entry (op, key, kind, data or type, ack) followed
// by "error" (the reason) and "stage": "decode" (the entry is malformed or
// the key held another type), "recipe" (rejected, or the recipe failed on
// it), "target" (the target refused its rows) or "retries" (MaxAttempts
// transient failures).
package apply
