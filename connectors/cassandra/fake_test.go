package cassandra

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
	"github.com/cogs-dev/cogs/connectors/conformance"
	"github.com/gocql/gocql"
)

// fake is an in-memory stand-in for a Cassandra keyspace that interprets
// the structured side of the statements it is sent with Cassandra's
// last-write-wins rules: a cell is replaced by a write with a higher
// timestamp; a row delete at T hides every cell and row marker written at
// T or before; on equal timestamps a delete wins over a write, and a NULL
// (a cell tombstone) over a value. It also keeps the log of what it was
// sent, checks value types against the table's columns, and can refuse
// rows (Poison) or drop the connection (Drop).
type fake struct {
	mu     sync.Mutex
	tables map[string]*fakeTable
	log    [][]stmt // every exec call, in the order received
	poison map[string]bool
	// Calls dropFrom <= n < dropTo fail with a connection error, before
	// anything of them is applied.
	calls, dropFrom, dropTo int
	// failNext, when set, is returned by the next exec call.
	failNext error
}

type fakeTable struct {
	pk    []string
	keys  []string
	kinds map[string]abi.Kind
	rows  map[string]*fakeRow
}

type fakeRow struct {
	keys   map[string]any
	marker int64 // row liveness timestamp; -1 none
	tomb   int64 // row deletion timestamp; -1 none
	cells  map[string]fakeCell
}

type fakeCell struct {
	v  any // nil: a cell tombstone
	ts int64
}

type requestError struct {
	code int
	msg  string
}

func (e requestError) Code() int       { return e.code }
func (e requestError) Message() string { return e.msg }
func (e requestError) Error() string   { return e.msg }

var _ gocql.RequestError = requestError{}

func newFake() *fake {
	f := &fake{tables: map[string]*fakeTable{}, poison: map[string]bool{}, dropFrom: -1}
	f.tables["cogs_checkpoints"] = &fakeTable{pk: []string{"stream"}, keys: []string{"stream"},
		kinds: map[string]abi.Kind{"stream": abi.KindString, "ms": abi.KindInt, "seq": abi.KindInt}, rows: map[string]*fakeRow{}}
	return f
}

// Table implements conformance.Store: the first key column is the
// partition key, the others clustering columns.
func (f *fake) Table(t *testing.T, name string, keys, cols []conformance.Col) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tb := &fakeTable{pk: []string{keys[0].Name}, kinds: map[string]abi.Kind{}, rows: map[string]*fakeRow{}}
	for _, k := range keys {
		tb.keys = append(tb.keys, k.Name)
		tb.kinds[k.Name] = k.Kind
	}
	for _, c := range cols {
		tb.kinds[c.Name] = c.Kind
	}
	f.tables[name] = tb
}

func rowID(keys []string, get func(string) any) string {
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%T:%v|", get(k), get(k))
	}
	return b.String()
}

func (f *fake) Row(t *testing.T, table string, keys []abi.Column) (map[string]abi.Value, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tb := f.tables[table]
	if tb == nil {
		t.Fatalf("no table %s", table)
	}
	id := rowID(tb.keys, func(name string) any {
		for _, k := range keys {
			if k.Name == name {
				return connectors.Arg(k.Value)
			}
		}
		return nil
	})
	r := tb.rows[id]
	if r == nil {
		return nil, false
	}
	return r.visible(tb)
}

func (r *fakeRow) visible(tb *fakeTable) (map[string]abi.Value, bool) {
	out := map[string]abi.Value{}
	live := r.marker > r.tomb
	for name, c := range r.cells {
		if c.ts > r.tomb && c.v != nil {
			live = true
			out[name] = value(c.v)
		}
	}
	if !live {
		return nil, false
	}
	for k, v := range r.keys {
		out[k] = value(v)
	}
	return out, true
}

func value(v any) abi.Value {
	switch v := v.(type) {
	case string:
		return abi.String(v)
	case []byte:
		return abi.Bytes(v)
	case int64:
		return abi.Int(v)
	case float64:
		return abi.Float(v)
	case bool:
		return abi.Bool(v)
	}
	return abi.Null()
}

func (f *fake) Count(t *testing.T, table string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	tb := f.tables[table]
	for _, r := range tb.rows {
		if _, ok := r.visible(tb); ok {
			n++
		}
	}
	return n
}

func (f *fake) exec(ctx context.Context, stmts []stmt) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, append([]stmt(nil), stmts...))
	n := f.calls
	f.calls++
	if n >= f.dropFrom && n < f.dropTo {
		return &net.OpError{Op: "write", Net: "tcp", Err: errors.New("connection reset by peer")}
	}
	if err := f.failNext; err != nil {
		f.failNext = nil
		return err
	}
	// Check the whole batch first: a batch is applied whole or not at all.
	type write struct {
		tb *fakeTable
		st *stmt
		id string
	}
	var ws []write
	var part string
	for i := range stmts {
		st := &stmts[i]
		tb := f.tables[st.Table]
		if tb == nil {
			return requestError{gocql.ErrCodeInvalid, "unconfigured table " + st.Table}
		}
		get := func(name string) any {
			for j, n := range st.Names {
				if n == name {
					return st.Values[j]
				}
			}
			return nil
		}
		for j, name := range st.Names {
			kind, ok := tb.kinds[name]
			if !ok {
				return requestError{gocql.ErrCodeInvalid, "Undefined column name " + name}
			}
			if err := checkKind(kind, st.Values[j]); err != nil {
				return err
			}
		}
		for _, k := range tb.keys {
			if get(k) == nil {
				return requestError{gocql.ErrCodeInvalid, "Some clustering keys are missing: " + k}
			}
		}
		p := rowID(tb.pk, get)
		if i > 0 && p != part {
			return errors.New("fake: a batch spans several partitions")
		}
		part = p
		id := rowID(tb.keys, get)
		if f.poison[st.Table+"/"+id] {
			return requestError{gocql.ErrCodeInvalid, "row refused by the fake"}
		}
		ws = append(ws, write{tb, st, id})
	}
	for _, w := range ws {
		r := w.tb.rows[w.id]
		if r == nil {
			r = &fakeRow{keys: map[string]any{}, marker: -1, tomb: -1, cells: map[string]fakeCell{}}
			w.tb.rows[w.id] = r
		}
		st := w.st
		switch st.Kind {
		case stmtDelete:
			r.tomb = max(r.tomb, st.TS)
		case stmtInsert, stmtCheckpoint:
			r.marker = max(r.marker, st.TS)
			for j, name := range st.Names {
				if contains(w.tb.keys, name) {
					r.keys[name] = st.Values[j]
					continue
				}
				old, ok := r.cells[name]
				if !ok || st.TS > old.ts || (st.TS == old.ts && wins(st.Values[j], old.v)) {
					r.cells[name] = fakeCell{st.Values[j], st.TS}
				}
			}
		}
	}
	return nil
}

// wins reports whether v beats old at the same timestamp: a tombstone
// first, then the larger value.
func wins(v, old any) bool {
	if v == nil || old == nil {
		return v == nil && old != nil
	}
	return bytes.Compare([]byte(fmt.Sprint(v)), []byte(fmt.Sprint(old))) > 0
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func checkKind(k abi.Kind, v any) error {
	if v == nil {
		return nil
	}
	ok := false
	switch k {
	case abi.KindString:
		_, ok = v.(string)
	case abi.KindBytes:
		_, ok = v.([]byte)
	case abi.KindInt:
		_, ok = v.(int64)
	case abi.KindFloat:
		_, ok = v.(float64)
	case abi.KindBool:
		_, ok = v.(bool)
	}
	if !ok {
		return gocql.MarshalError(fmt.Sprintf("can not marshal %T into %v", v, k))
	}
	return nil
}

func (f *fake) checkpoint(ctx context.Context, cql, stream string) (int64, int64, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tb := f.tables["cogs_checkpoints"]
	r := tb.rows[rowID(tb.keys, func(string) any { return stream })]
	if r == nil {
		return 0, 0, false, nil
	}
	m, ok := r.visible(tb)
	if !ok {
		return 0, 0, false, nil
	}
	return m["ms"].Int(), m["seq"].Int(), true, nil
}

func (f *fake) partitionKey(ctx context.Context, ks, table string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if tb := f.tables[table]; tb != nil {
		return tb.pk, nil
	}
	return nil, nil
}

func (f *fake) close() {}
