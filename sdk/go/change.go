package cogs

import (
	"strconv"

	"github.com/cogs-dev/cogs/abi"
)

// Change is one change of a watched key. Strings and Values obtained from
// it are valid until Map returns.
type Change struct {
	raw     abi.Change
	prefix  string // the matching trigger's prefix
	trigger *Trigger
}

// Key returns the Redis key.
func (c *Change) Key() string { return c.raw.Key }

// KeySuffix returns the key without its trigger's prefix ("person:42" -> "42").
func (c *Change) KeySuffix() string { return c.raw.Key[len(c.prefix):] }

// Trigger returns the trigger that matched the key.
func (c *Change) Trigger() *Trigger { return c.trigger }

// ID returns the change's stream entry ID.
func (c *Change) ID() abi.StreamID { return c.raw.ID }

// Op returns what happened to the key.
func (c *Change) Op() abi.ChangeOp { return c.raw.Op }

// Deleted reports whether the key no longer exists (deleted, or expired for
// a trigger with ExpiryDeletes).
func (c *Change) Deleted() bool { return c.raw.Op != abi.ChangeSet }

// Fields returns the hash post-image.
func (c *Change) Fields() []abi.Field { return c.raw.Fields }

// Doc returns the JSON document or string post-image.
func (c *Change) Doc() string { return c.raw.Doc }

// Get returns the value of a hash field and whether it is present.
func (c *Change) Get(name string) (string, bool) {
	for i := range c.raw.Fields {
		if c.raw.Fields[i].Name == name {
			return c.raw.Fields[i].Value, true
		}
	}
	return "", false
}

// Has reports whether the hash has the field.
func (c *Change) Has(name string) bool {
	_, ok := c.Get(name)
	return ok
}

// Value returns a hash field as a string Value, or NULL when it is absent.
func (c *Change) Value(name string) Value {
	if s, ok := c.Get(name); ok {
		return abi.String(s)
	}
	return abi.Null()
}

// Int returns a hash field parsed as a base-10 int64 Value, NULL when the
// field is absent, and NULL with ok=false when it is not an integer.
func (c *Change) Int(name string) Value {
	v, _ := c.IntOK(name)
	return v
}

// IntOK is Int that also reports whether a present field parsed.
func (c *Change) IntOK(name string) (Value, bool) {
	s, ok := c.Get(name)
	if !ok {
		return abi.Null(), true
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return abi.Null(), false
	}
	return abi.Int(i), true
}

// Float returns a hash field parsed as a float64 Value (NULL when absent or
// not a number).
func (c *Change) Float(name string) Value {
	v, _ := c.FloatOK(name)
	return v
}

// FloatOK is Float that also reports whether a present field parsed.
func (c *Change) FloatOK(name string) (Value, bool) {
	s, ok := c.Get(name)
	if !ok {
		return abi.Null(), true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return abi.Null(), false
	}
	return abi.Float(f), true
}

// Bool returns a hash field parsed as a bool Value ("1", "t", "true", "0",
// "f", "false" in any case; NULL when absent or anything else).
func (c *Change) Bool(name string) Value {
	v, _ := c.BoolOK(name)
	return v
}

// BoolOK is Bool that also reports whether a present field parsed.
func (c *Change) BoolOK(name string) (Value, bool) {
	s, ok := c.Get(name)
	if !ok {
		return abi.Null(), true
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return abi.Null(), false
	}
	return abi.Bool(b), true
}
