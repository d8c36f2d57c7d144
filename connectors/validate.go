package connectors

import (
	"errors"
	"fmt"

	"github.com/cogs-dev/cogs/abi"
)

// ValidateOp checks the shape of a row operation before a connector sends
// it: a table, at least one key column, a known operation, no columns in a
// delete, no empty or repeated column name. A connector refuses an op it
// fails as permanent, with the op's index.
func ValidateOp(op *abi.RowOp) error {
	if op.Table == "" {
		return errors.New("empty table name")
	}
	if len(op.Keys) == 0 {
		return fmt.Errorf("table %q: no key columns", op.Table)
	}
	switch op.Op {
	case abi.RowUpsert, abi.RowInsert:
	case abi.RowDelete:
		if len(op.Cols) != 0 {
			return fmt.Errorf("table %q: delete with non-key columns", op.Table)
		}
	default:
		return fmt.Errorf("table %q: unknown operation %v", op.Table, op.Op)
	}
	seen := make(map[string]bool, len(op.Keys)+len(op.Cols))
	for _, cols := range [][]abi.Column{op.Keys, op.Cols} {
		for _, c := range cols {
			if c.Name == "" {
				return fmt.Errorf("table %q: empty column name", op.Table)
			}
			if seen[c.Name] {
				return fmt.Errorf("table %q: column %q given twice", op.Table, c.Name)
			}
			seen[c.Name] = true
		}
	}
	return nil
}

// ValidateKeys refuses a NULL key column, for targets that do not refuse
// it themselves (the SQL databases do, with their own error).
func ValidateKeys(op *abi.RowOp) error {
	for _, c := range op.Keys {
		if c.Value.IsNull() {
			return fmt.Errorf("table %q: key column %q is NULL", op.Table, c.Name)
		}
	}
	return nil
}

// Arg converts a value to the driver argument of its type: a string, a
// []byte, an int64, a float64, a bool, or nil for NULL.
func Arg(v abi.Value) any {
	switch v.Kind() {
	case abi.KindString:
		return v.Str()
	case abi.KindBytes:
		return []byte(v.Str())
	case abi.KindInt:
		return v.Int()
	case abi.KindFloat:
		return v.Float()
	case abi.KindBool:
		return v.Bool()
	}
	return nil
}
