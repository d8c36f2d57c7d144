package cogs

import (
	"github.com/cogs-dev/cogs/abi"
)

// Value is a typed column value: NULL, string, bytes, int64, float64 or bool.
type Value = abi.Value

// Null returns the NULL value.
func Null() Value { return abi.Null() }

// String returns a string value.
func String(s string) Value { return abi.String(s) }

// Bytes returns a bytes value (the slice is copied).
func Bytes(b []byte) Value { return abi.Bytes(b) }

// Int returns an int64 value.
func Int(i int64) Value { return abi.Int(i) }

// Float returns a float64 value.
func Float(f float64) Value { return abi.Float(f) }

// Bool returns a bool value.
func Bool(b bool) Value { return abi.Bool(b) }

// DataKind is the Redis type a trigger watches.
type DataKind = abi.DataKind

// Data kinds.
const (
	Hash       = abi.DataHash
	JSON       = abi.DataJSON
	StringData = abi.DataString
)

// Mode is how a trigger's changes reach the target.
type Mode = abi.Mode

// Modes. The zero Mode in a Trigger means WriteBehind.
const (
	WriteBehind  = abi.ModeWriteBehind
	WriteThrough = abi.ModeWriteThrough
)

// Trigger watches the keys that start with Prefix.
type Trigger struct {
	Prefix     string   // key prefix, e.g. "person:"
	Data       DataKind // Hash (the default), JSON or StringData
	Mode       Mode     // WriteBehind (the default) or WriteThrough
	Connection string   // name of the target connection in the host's configuration
	// ExpiryDeletes asks for a change (Expired) when a watched key expires
	// or is evicted. Off by default: a cache entry leaving Redis is not a
	// delete in the system of record.
	ExpiryDeletes bool
}

// Recipe describes a recipe. Register it from an init function.
type Recipe struct {
	Name     string // [a-z][a-z0-9_-]*, at most 64 bytes
	Version  string // semantic version, e.g. "1.2.0"
	Triggers []Trigger

	// BatchSize and BatchAgeMs override the host's batching for this
	// recipe's streams when non-zero.
	BatchSize  int
	BatchAgeMs int

	// Init, if set, runs once per instance before the recipe is declared to
	// the host. It receives the load-time configuration (CONFIG of RECIPE
	// LOAD, often JSON; nil when none was given) and may complete r, for
	// example by setting Triggers from the configuration. A non-nil error
	// fails the load with its message.
	Init func(config []byte, r *Recipe) error

	// Map turns one change into row operations on out. Leaving out empty
	// skips the change.
	Map func(c *Change, out *Output)
}

var registered *Recipe

// Register makes r the recipe of this module. Call it once, from init.
func Register(r Recipe) {
	if registered != nil {
		panic("cogs: Register called twice")
	}
	registered = &r
}
