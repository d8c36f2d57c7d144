package apply

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
)

// Defaults of Config.
const (
	DefaultGroup     = "cogs"
	DefaultBatchSize = 1000
	DefaultBatchAge  = 100 * time.Millisecond
	DefaultLeaseTTL  = 10 * time.Second
	DefaultRetryMin  = 100 * time.Millisecond
	DefaultRetryMax  = 30 * time.Second
	// MaxBatchSize bounds Config.BatchSize and a recipe's batch_size.
	MaxBatchSize = 100_000
	// MaxPartitions bounds Config.Partitions.
	MaxPartitions = 16
)

// Keys are the Redis keys of one recipe. They share the recipe name as
// their hash tag, so that in Redis Cluster they sit in one slot.
type Keys struct {
	Stream string // the change stream: cogs:{<recipe>}:changes
	DLQ    string // the dead-letter stream: cogs:{<recipe>}:dlq
	Lease  string // the applier lease: cogs:{<recipe>}:lease
	// Partitions is the set of the partition counts (Config.Partitions)
	// the stream was ever applied with: cogs:{<recipe>}:partitions.
	Partitions string
}

// KeysOf returns the keys of the recipe named recipe. They stay the same
// across the recipe's versions, so a hot replace never orphans entries.
func KeysOf(recipe string) Keys {
	p := "cogs:{" + recipe + "}:"
	return Keys{Stream: p + "changes", DLQ: p + "dlq", Lease: p + "lease", Partitions: p + "partitions"}
}

// Mapper is a loaded recipe: *engine.Recipe.
type Mapper interface {
	Meta() abi.Recipe
	Map(ctx context.Context, changes []abi.Change) ([]abi.Result, error)
}

// Config configures an Applier. Redis, Recipe and Targets are required;
// zero fields of the rest take their defaults.
type Config struct {
	// Redis is the upstream Redis, on the database holding the streams.
	Redis redis.UniversalClient
	// Recipe maps the changes; SetRecipe replaces it between batches.
	Recipe Mapper
	// Targets are the target connections by name; every trigger of the
	// recipe names one.
	Targets map[string]connectors.Connector
	// Keys are the recipe's keys. Default: KeysOf(Recipe.Meta().Name).
	Keys Keys
	// Group is the consumer group. Default "cogs".
	Group string
	// Consumer is this host's consumer name in the group, and the holder
	// named in the lease. Default: "<hostname>-<pid>".
	Consumer string

	// BatchSize is the most changes in a batch; a recipe's batch_size
	// parameter overrides it. Default 1000.
	BatchSize int
	// BatchAge is how long a batch stays open for more changes after its
	// first change was captured; a recipe's batch_age_ms parameter
	// overrides it. Default 100ms.
	BatchAge time.Duration
	// LeaseTTL is the lease's time to live: how long after a host died
	// another takes its streams over. Default 10s.
	LeaseTTL time.Duration
	// RetryMin and RetryMax bound the exponential backoff between attempts
	// at a batch that failed transiently. Defaults 100ms and 30s.
	RetryMin, RetryMax time.Duration
	// Partitions splits each batch by a hash of the key into this many
	// parts, applied concurrently, each in its own transaction with its
	// own checkpoint (on its own connection of the target's pool): the
	// changes of one key stay in one partition, in order. Default 1.
	Partitions int
	// MaxAttempts is the most attempts at a batch that keeps failing
	// transiently before its changes are dead-lettered; 0 retries forever
	// (the default).
	MaxAttempts int

	// Logger is the applier's logger. Default: none.
	Logger hclog.Logger
	// Observer, if set, is told about every batch handled (for metrics
	// and benchmarks). It is called from the applier's acknowledging
	// stage, before the batch's entries are acknowledged, and must not
	// block.
	Observer Observer
}

// Observer receives the outcome of each batch.
type Observer interface {
	Batch(b BatchInfo)
}

// BatchInfo describes one handled batch.
type BatchInfo struct {
	Recipe  string
	Entries int // stream entries in the batch
	// Changes counts the entries by fate.
	Applied, Skipped, Coalesced, Duplicate, Failed int
	// Rows counts the row operations committed, by kind.
	Upserts, Inserts, Deletes int
	// Map and Apply are the time spent in the recipe and in the targets
	// (retries included).
	Map, Apply time.Duration
	// Committed is when the last target committed; Lag holds, for each
	// applied, skipped or coalesced change, the time from its capture
	// (its stream ID) to Committed.
	Committed time.Time
	Lag       []time.Duration
}

func (c Config) withDefaults() Config {
	if c.Keys == (Keys{}) && c.Recipe != nil {
		c.Keys = KeysOf(c.Recipe.Meta().Name)
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.Consumer == "" {
		c.Consumer = DefaultConsumer()
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Partitions <= 0 {
		c.Partitions = 1
	}
	if c.BatchAge <= 0 {
		c.BatchAge = DefaultBatchAge
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.RetryMin <= 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax <= 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = c.RetryMin
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	return c
}

// DefaultConsumer is "<hostname>-<pid>".
func DefaultConsumer() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "cogs"
	}
	return h + "-" + strconv.Itoa(os.Getpid())
}

func (c Config) validate() error {
	switch {
	case c.Redis == nil:
		return errors.New("apply: no Redis client")
	case c.Recipe == nil:
		return errors.New("apply: no recipe")
	case c.BatchSize > MaxBatchSize:
		return fmt.Errorf("apply: batch size %d is more than %d", c.BatchSize, MaxBatchSize)
	case c.LeaseTTL < 100*time.Millisecond:
		return fmt.Errorf("apply: lease TTL %v is less than 100ms", c.LeaseTTL)
	case c.Partitions > MaxPartitions:
		return fmt.Errorf("apply: %d partitions, more than %d", c.Partitions, MaxPartitions)
	case c.MaxAttempts < 0:
		return fmt.Errorf("apply: max attempts %d is negative", c.MaxAttempts)
	}
	return CheckTargets(c.Recipe.Meta(), c.Targets)
}

// CheckTargets checks that every trigger of recipe names one of targets.
func CheckTargets(recipe abi.Recipe, targets map[string]connectors.Connector) error {
	for _, t := range recipe.Triggers {
		if _, ok := targets[t.Connection]; !ok {
			return fmt.Errorf("recipe %q: trigger %q names connection %q, which is not configured", recipe.Name, t.Prefix, t.Connection)
		}
	}
	return nil
}

// batchParams returns the batch size and age for recipe: its parameters
// where it declares them (a batch_size above MaxBatchSize counts as
// MaxBatchSize), the configured ones otherwise.
func (c Config) batchParams(recipe abi.Recipe) (int, time.Duration) {
	size, age := c.BatchSize, c.BatchAge
	for _, p := range recipe.Params {
		n := p.Value.Int()
		if n <= 0 {
			continue
		}
		switch p.Name {
		case abi.ParamBatchSize:
			size = int(min(n, MaxBatchSize))
		case abi.ParamBatchAgeMs:
			age = time.Duration(min(n, 3_600_000)) * time.Millisecond
		}
	}
	return size, age
}
