// Package connectors defines the interface every target database
// implements and a registry of them by name.
//
// A connector package registers itself from init() and is selected by a
// blank import:
//
//	import _ "github.com/cogs-dev/cogs/connectors/sqlite"
//	c, err := connectors.Open("sqlite", map[string]any{"path": "/var/lib/cogs.db"})
package connectors

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"

	"github.com/cogs-dev/cogs/abi"
)

// Connector writes batches of row operations to one target database.
//
// Apply writes the whole batch and the checkpoint in one target
// transaction: either all of it is committed or none of it. Skipping
// entries at or below the stored checkpoint when replaying a stream is the
// caller's job; Apply writes whatever it is given and stores cp as given.
//
// Connectors never create user tables; they create only their own
// checkpoint table, cogs_checkpoints.
type Connector interface {
	// Apply writes one batch atomically together with the checkpoint
	// (stream -> last applied ID) in cogs_checkpoints. When it fails it
	// returns a *BatchError naming the failed operation (when known) and
	// whether the failure is permanent (constraint, type) or transient
	// (connection, deadlock).
	Apply(ctx context.Context, ops []abi.RowOp, cp Checkpoint) error
	// Checkpoint returns the last applied ID for a stream (zero if none).
	Checkpoint(ctx context.Context, stream string) (abi.StreamID, error)
	// Close releases the connector's connections.
	Close() error
}

// Stamped is implemented by connectors whose exactly-once rests on write
// timestamps (Cassandra) rather than on a transaction: ApplyStamped is
// Apply with the stream ID of the change each op comes from (ids[i] for
// ops[i]), from which the write's timestamp is derived, so that a replayed
// or reordered older change can never overwrite a newer one. The scheduler
// calls it instead of Apply when a connector has it.
type Stamped interface {
	ApplyStamped(ctx context.Context, ops []abi.RowOp, ids []abi.StreamID, cp Checkpoint) error
}

// Checkpoint is the position of a stream stored with a batch. A Checkpoint
// with an empty Stream is not stored.
type Checkpoint struct {
	Stream string
	ID     abi.StreamID
}

// BatchError is the error Apply returns when a batch fails. Nothing of the
// batch was applied.
type BatchError struct {
	// Index is the index in the batch of the operation that failed, or -1
	// when the failure is not attributable to one operation (begin,
	// commit, checkpoint, a connection lost).
	Index int
	// Permanent reports that retrying the same operation will fail again
	// (a constraint or type violation); otherwise the failure is
	// transient (connection, deadlock, lock timeout) and the whole batch
	// may be retried.
	Permanent bool
	Err       error
}

func (e *BatchError) Error() string {
	kind := "transient"
	if e.Permanent {
		kind = "permanent"
	}
	if e.Index < 0 {
		return "apply batch (" + kind + "): " + e.Err.Error()
	}
	return "apply batch: op " + strconv.Itoa(e.Index) + " (" + kind + "): " + e.Err.Error()
}

func (e *BatchError) Unwrap() error { return e.Err }

// IsPermanent reports whether err is a *BatchError with Permanent set.
func IsPermanent(err error) bool {
	var be *BatchError
	return errors.As(err, &be) && be.Permanent
}

// OpenFunc opens a connector from its configuration section.
type OpenFunc func(cfg map[string]any) (Connector, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]OpenFunc{}
)

// Register makes a connector available by name. It is meant to be called
// from init() and panics when the name is empty or already taken.
func Register(name string, open OpenFunc) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if name == "" || open == nil {
		panic("connectors: Register with empty name or nil open")
	}
	if _, dup := registry[name]; dup {
		panic("connectors: Register called twice for " + strconv.Quote(name))
	}
	registry[name] = open
}

// ErrUnknown is returned by Open for a name nobody registered.
var ErrUnknown = errors.New("unknown connector")

// Open opens the connector registered under name with cfg.
func Open(name string, cfg map[string]any) (Connector, error) {
	registryMu.RLock()
	open := registry[name]
	registryMu.RUnlock()
	if open == nil {
		return nil, fmt.Errorf("connector %q: %w (known: %v)", name, ErrUnknown, Names())
	}
	c, err := open(cfg)
	if err != nil {
		return nil, fmt.Errorf("connector %q: %w", name, err)
	}
	return c, nil
}

// Names lists the registered connectors, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
