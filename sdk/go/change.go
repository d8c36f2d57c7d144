package cogs

import (
	"strconv"
	"unsafe"

	"github.com/cogs-dev/cogs/abi"
)

// Change is one change of a watched key. Strings and Values obtained from
// it are valid until Map returns.
//
// A Change holds no strings, only offsets into the buffer the change
// record was copied into: storing a pointer costs a write-barrier check,
// which under standard Go's Wasm port is a costly jump, and a change is
// decoded for every key written.
type Change struct {
	buf       []byte // the record; set by the caller of decodeChange
	op        abi.ChangeOp
	data      abi.DataKind
	trigger   uint32
	prefixLen uint32 // length of the matching trigger's prefix
	id        abi.StreamID
	key       span
	doc       span
	nfields   int
	refs      []fieldRef // refs[:nfields] locate the hash fields
	fields    []abi.Field
	fieldsOK  bool // fields holds the hash post-image of this change
}

// span is a string within Change.buf.
type span struct{ off, len uint32 }

// fieldRef is one hash field within Change.buf.
type fieldRef struct{ name, value span }

// str returns the string at s in c.buf.
func (c *Change) str(s span) string {
	if !wordTricks && s.len == 0 {
		// Natively, an empty span at the end of buf would form a pointer
		// past its allocation, which -race's checkptr refuses.
		return ""
	}
	return unsafe.String((*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(c.buf)), s.off)), s.len)
}

// Key returns the Redis key.
func (c *Change) Key() string { return c.str(c.key) }

// KeySuffix returns the key without its trigger's prefix ("person:42" -> "42").
func (c *Change) KeySuffix() string {
	return c.str(span{c.key.off + c.prefixLen, c.key.len - c.prefixLen})
}

// Trigger returns the trigger that matched the key.
func (c *Change) Trigger() *Trigger { return &declared.Triggers[c.trigger] }

// ID returns the change's stream entry ID.
func (c *Change) ID() abi.StreamID { return c.id }

// Op returns what happened to the key.
func (c *Change) Op() abi.ChangeOp { return c.op }

// Deleted reports whether the key no longer exists (deleted, or expired for
// a trigger with ExpiryDeletes).
func (c *Change) Deleted() bool { return c.op != abi.ChangeSet }

// Fields returns the hash post-image.
func (c *Change) Fields() []abi.Field {
	if !c.fieldsOK {
		c.fields = c.fields[:0]
		for _, r := range c.refs[:c.nfields] {
			c.fields = append(c.fields, abi.Field{Name: c.str(r.name), Value: c.str(r.value)})
		}
		c.fieldsOK = true
	}
	return c.fields
}

// Doc returns the JSON document or string post-image.
func (c *Change) Doc() string { return c.str(c.doc) }

// record returns the change as an abi.Change (strings alias c.buf).
func (c *Change) record() abi.Change {
	return abi.Change{Op: c.op, Data: c.data, Trigger: c.trigger, ID: c.id,
		Key: c.Key(), Fields: c.Fields(), Doc: c.Doc()}
}

// Get returns the value of a hash field and whether it is present.
func (c *Change) Get(name string) (string, bool) {
	v := c.lookup(name)
	return v.Str(), v.Kind() == abi.KindString
}

// lookup returns the value of the first field named name as a string
// Value, or NULL. Names of up to 16 bytes are compared without
// calls, each field's name loaded as two words (see halves).
func (c *Change) lookup(name string) Value {
	n := len(name)
	if wordTricks && n <= smallMax {
		// halves(name), by hand: the compiler does not inline it here.
		p := unsafe.Pointer(unsafe.StringData(name))
		p = unsafe.Add(p, (uintptr(unsafe.Pointer(&pad[8]))-uintptr(p))&uintptr((n-1)>>63))
		short := clamp0(8 - n)
		lo := load8(p, -short) >> (8 * uint(short) & 63)
		hi := load8(p, n-8) & uint64((8-n)>>63)
		base := unsafe.Pointer(unsafe.SliceData(c.buf))
		for i := range c.refs[:c.nfields] {
			r := &c.refs[i]
			// The field name, read as halves does; it is in c.buf, so
			// its data pointer is never nil.
			fn := int(r.name.len)
			fp := unsafe.Add(base, r.name.off)
			short := clamp0(8 - fn)
			flo := load8(fp, -short) >> (8 * uint(short)) // 0 for an empty name
			fhi := load8(fp, fn-8) & uint64((8-fn)>>63)
			if (flo^lo)|(fhi^hi)|uint64(fn^n) == 0 {
				return abi.String(c.str(r.value))
			}
		}
		return abi.Null()
	}
	for _, r := range c.refs[:c.nfields] {
		if c.str(r.name) == name {
			return abi.String(c.str(r.value))
		}
	}
	return abi.Null()
}

// Has reports whether the hash has the field.
func (c *Change) Has(name string) bool {
	_, ok := c.Get(name)
	return ok
}

// Value returns a hash field as a string Value, or NULL when it is absent.
func (c *Change) Value(name string) Value { return c.lookup(name) }

// Int returns a hash field parsed as a base-10 int64 Value, NULL when the
// field is absent, and NULL with ok=false when it is not an integer.
func (c *Change) Int(name string) Value {
	v, _ := c.IntOK(name)
	return v
}

// IntOK is Int that also reports whether a present field parsed.
//
// The field is parsed as strconv.ParseInt(s, 10, 64) does. Up to 16 bytes, digits and an optional sign, are parsed without a loop: the
// digits are loaded as two words (see halves), checked and converted
// eight at a time with SWAR arithmetic.
func (c *Change) IntOK(name string) (Value, bool) {
	v := c.lookup(name)
	s := v.Str()
	n := len(s)
	if wordTricks && uint(n-1) < 16 && v.Kind() == abi.KindString {
		c0 := s[0]
		sign := b2i(c0 == '-') | b2i(c0 == '+')
		d := n - sign // digits, 0 to 16
		p := unsafe.Add(unsafe.Pointer(unsafe.StringData(s)), sign)
		short := clamp0(8 - d)
		lo := load8(p, -short) >> (8 * uint(short)) // first min(d, 8) digits
		hi := load8(p, d-8) & uint64((8-d)>>63)     // last 8 digits if d > 8
		// a holds the first la digits, hi the last lb: (d, 0) or (d-8, 8).
		long := b2i(d > 8)
		la, lb := d-8*long, 8*long
		a := lo & (1<<(8*uint(la)) - 1)
		na, oka := eightDigits(a, la)
		nb, okb := eightDigits(hi, lb)
		if oka&okb&b2i(d > 0) != 0 {
			i := int64(na*pow10[lb&15] + nb)
			neg := int64(b2i(c0 == '-'))
			return abi.Int((i ^ -neg) + neg), true
		}
		return abi.Null(), false
	}
	if v.Kind() != abi.KindString {
		return v, true
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return abi.Null(), false
	}
	return abi.Int(i), true
}

var pow10 = [16]uint64{0: 1, 8: 100000000}

// eightDigits returns the value of the n (0 to 8) ASCII digits held in the
// low bytes of w (the first digit lowest, the bytes above them zero), and
// 1 if they are all digits, 0 otherwise.
func eightDigits(w uint64, n int) (uint64, int) {
	// Pad to eight digits with leading zeros.
	w = w<<(8*uint(8-n)) | 0x3030303030303030>>(8*uint(n))
	ok := b2i((w&0xf0f0f0f0f0f0f0f0)|((w+0x0606060606060606)&0xf0f0f0f0f0f0f0f0)>>4 == 0x3333333333333333)
	w -= 0x3030303030303030
	w = w*10 + w>>8
	w = ((w&0x000000ff000000ff)*(100+1000000<<32) + (w>>16&0x000000ff000000ff)*(1+10000<<32)) >> 32
	return w, ok
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
