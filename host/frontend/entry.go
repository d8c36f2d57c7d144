package frontend

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/cogs-dev/cogs/abi"
)

// Errors of DecodeEntry.
var (
	ErrEntryFormat = errors.New("frontend: malformed change entry")
	// ErrEntryType: the key held another Redis type than its watch
	// expects (the entry's "type" field); the entry has no post-image.
	ErrEntryType = errors.New("frontend: watched key of an unexpected type")
)

// DecodeEntry decodes the fields of a change stream entry, as the capture
// script writes them (see captureScript), name and value alternating, into
// c's Op, Data, Key, Fields and Doc. The other fields of c (ID, Trigger) are
// the caller's. c.Fields is appended to, so that a caller may reuse it.
// An entry's acknowledgement stream ("ack") is ignored: see DecodeEntryAck.
func DecodeEntry(fields [][]byte, c *abi.Change) error {
	_, err := DecodeEntryAck(fields, c)
	return err
}

// DecodeEntryAck is DecodeEntry, and also returns the key of the entry's
// acknowledgement stream (its "ack" field, {<key>}<uuid>), or "" when the
// writer asked for none. The applier XADDs "status done" to it once the
// change reached the target, or "status failed error <reason>" when the
// target refused it for good, and gives it a TTL of one hour, as rgsync
// does. The ack is returned even when the entry does not decode, so that
// the failure can be acknowledged too.
func DecodeEntryAck(fields [][]byte, c *abi.Change) (ack string, err error) {
	if len(fields)%2 != 0 {
		return "", fmt.Errorf("%w: %d fields and values", ErrEntryFormat, len(fields))
	}
	var op, kind, key, data, typ []byte
	var haveKey, haveData, haveType bool
	for i := 0; i < len(fields); i += 2 {
		v := fields[i+1]
		switch string(fields[i]) {
		case "op":
			op = v
		case "kind":
			kind = v
		case "key":
			key, haveKey = v, true
		case "data":
			data, haveData = v, true
		case "type":
			typ, haveType = v, true
		case "ack":
			ack = string(v)
		}
	}
	return ack, decodeEntry(c, op, kind, key, data, typ, haveKey, haveData, haveType)
}

// decodeEntry decodes the fields DecodeEntryAck found.
func decodeEntry(c *abi.Change, op, kind, key, data, typ []byte, haveKey, haveData, haveType bool) error {
	if !haveKey {
		return fmt.Errorf("%w: no key", ErrEntryFormat)
	}
	c.Key = string(key)
	switch string(kind) {
	case "hash":
		c.Data = abi.DataHash
	case "json":
		c.Data = abi.DataJSON
	case "string":
		c.Data = abi.DataString
	default:
		return fmt.Errorf("%w: kind %q", ErrEntryFormat, kind)
	}
	c.Fields, c.Doc = c.Fields[:0], ""
	switch string(op) {
	case "delete":
		c.Op = abi.ChangeDelete
		return nil
	case "set":
		c.Op = abi.ChangeSet
	default:
		return fmt.Errorf("%w: op %q", ErrEntryFormat, op)
	}
	switch {
	case haveType:
		return fmt.Errorf("%w: key %q is a %s", ErrEntryType, key, typ)
	case !haveData:
		return fmt.Errorf("%w: no data", ErrEntryFormat)
	case c.Data != abi.DataHash:
		c.Doc = string(data)
		return nil
	}
	for len(data) > 0 {
		var name, value []byte
		var ok bool
		if name, data, ok = cutLength(data); !ok {
			return fmt.Errorf("%w: hash data", ErrEntryFormat)
		}
		if value, data, ok = cutLength(data); !ok {
			return fmt.Errorf("%w: hash data", ErrEntryFormat)
		}
		c.Fields = append(c.Fields, abi.Field{Name: string(name), Value: string(value)})
	}
	return nil
}

// cutLength cuts "<length>:<bytes>" off the front of b.
func cutLength(b []byte) (item, rest []byte, ok bool) {
	i := 0
	for i < len(b) && i < 20 && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == 0 || i == len(b) || b[i] != ':' {
		return nil, nil, false
	}
	n, err := strconv.ParseUint(string(b[:i]), 10, 63)
	if err != nil || n > uint64(len(b)-i-1) {
		return nil, nil, false
	}
	b = b[i+1:]
	return b[:n], b[n:], true
}
