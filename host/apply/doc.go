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
// time to live (Config.LeaseTTL) that its holder renews every quarter of
// the TTL. A host that dies stops renewing; another takes the lease once it
// expires, claims the pending entries of the consumer group (XAUTOCLAIM)
// and applies them first, in stream order. A holder counts its lease good
// for half a TTL from when its last renewal was sent: past that it starts
// no commit and stops (the batch in flight is rolled back), and its reads
// block at most a quarter of the TTL, so that none is served after another
// host took over. A process frozen for longer than the TTL (SIGSTOP, a VM
// pause) in the middle of a commit is not fenced: the targets would need
// to check the lease themselves.
//
// # Exactly once
//
// Every batch is committed with a checkpoint row (stream, last ID of the
// batch) in the same transaction (connectors.Connector). When an applier
// takes a stream over it reads each target's checkpoint, and skips the
// changes at or below it for that target: a batch that was committed but
// not acknowledged (the host died in between) is not applied twice. A
// connection lost during a commit leaves its outcome unknown: before
// retrying, the applier reads the checkpoint, and a batch whose checkpoint
// is there counts as committed.
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
//     The dead-letter entry has the change's own stream ID, and is written
//     before the commit that moves the checkpoint past the change: a batch
//     replayed after a crash skips the change as committed and finds its
//     dead letter there (and acknowledges it as failed), and never writes
//     it twice.
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
