package cassandra

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"testing"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
	"github.com/cogs-dev/cogs/connectors/conformance"
	"github.com/gocql/gocql"
)

func col(name string, v abi.Value) abi.Column { return abi.Column{Name: name, Value: v} }

func key(id int64) []abi.Column { return []abi.Column{col("id", abi.Int(id))} }

func up(table string, id int64, cols ...abi.Column) abi.RowOp {
	return abi.RowOp{Op: abi.RowUpsert, Table: table, Keys: key(id), Cols: cols}
}

func del(table string, id int64) abi.RowOp {
	return abi.RowOp{Op: abi.RowDelete, Table: table, Keys: key(id)}
}

func openFake(t *testing.T) (*Connector, *fake) {
	f := newFake()
	c := newConnector(f, "ks", 4)
	t.Cleanup(func() { c.Close() })
	return c, f
}

// The shared suite against the fake keyspace: it checks what the
// connector sends, folded by the fake with Cassandra's rules; it is not a
// test of a server.
func TestConformanceFake(t *testing.T) {
	conformance.RunStore(t, conformance.StoreTarget{
		Open: func(t *testing.T) (connectors.Connector, conformance.Store) {
			c, f := openFake(t)
			return c, f
		},
		Poison: func(t *testing.T, s conformance.Store, table string, keys []abi.Column) {
			f := s.(*fake)
			f.mu.Lock()
			defer f.mu.Unlock()
			tb := f.tables[table]
			f.poison[table+"/"+rowID(tb.keys, func(name string) any { return connectors.Arg(keys[0].Value) })] = true
		},
		Drop: func(t *testing.T, c connectors.Connector) {
			f := c.(*Connector).s.(*fake)
			f.mu.Lock()
			defer f.mu.Unlock()
			f.dropFrom, f.dropTo = f.calls+2000, f.calls+2100
		},
	})
}

func TestTimestamp(t *testing.T) {
	for _, tc := range []struct {
		id   abi.StreamID
		want int64
	}{
		{abi.StreamID{}, 0},
		{abi.StreamID{Ms: 1700000000123, Seq: 0}, 1700000000123000},
		{abi.StreamID{Ms: 1700000000123, Seq: 7}, 1700000000123007},
		{abi.StreamID{Ms: 1700000000123, Seq: 999}, 1700000000123999},
		{abi.StreamID{Ms: 1700000000123, Seq: 5000}, 1700000000123999},
		{abi.StreamID{Ms: math.MaxUint64, Seq: 1}, (math.MaxInt64/1000-1)*1000 + 1},
	} {
		if got := Timestamp(tc.id); got != tc.want {
			t.Errorf("Timestamp(%v) = %d, want %d", tc.id, got, tc.want)
		}
	}
	// Order is kept below 1,000 entries per millisecond.
	prev := int64(-1)
	for ms := uint64(1); ms < 4; ms++ {
		for seq := uint64(0); seq < 1000; seq++ {
			ts := Timestamp(abi.StreamID{Ms: ms, Seq: seq})
			if ts <= prev {
				t.Fatalf("Timestamp(%d-%d) = %d, not after %d", ms, seq, ts, prev)
			}
			prev = ts
		}
	}
}

// sent renders the log of exec calls: one line per call, statements
// separated by " ; ", arguments after " <- ".
func sent(f *fake) string {
	var b strings.Builder
	for _, call := range f.log {
		for i, st := range call {
			if i > 0 {
				b.WriteString(" ; ")
			}
			fmt.Fprintf(&b, "%s <- %v", st.CQL, st.Args)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func TestStatementsSent(t *testing.T) {
	c, f := openFake(t)
	c.concurrency = 1 // one worker: the log is in plan order
	f.Table(t, "p", []conformance.Col{{Name: "id", Kind: abi.KindInt}}, []conformance.Col{{Name: "name", Kind: abi.KindString}, {Name: "b", Kind: abi.KindBytes}, {Name: "ok", Kind: abi.KindBool}, {Name: "f", Kind: abi.KindFloat}})
	f.Table(t, "c", []conformance.Col{{Name: "org", Kind: abi.KindString}, {Name: "n", Kind: abi.KindInt}}, []conformance.Col{{Name: "v", Kind: abi.KindString}})
	ck := func(org string, n int64) []abi.Column {
		return []abi.Column{col("org", abi.String(org)), col("n", abi.Int(n))}
	}
	ops := []abi.RowOp{
		up("p", 1, col("name", abi.String("Ann")), col("b", abi.Bytes([]byte{1})), col("ok", abi.Bool(true)), col("f", abi.Float(0.5))), // 0
		up("p", 2, col("name", abi.Null())), // 1
		{Op: abi.RowUpsert, Table: "c", Keys: ck("acme", 1), Cols: []abi.Column{col("v", abi.String("x"))}}, // 2
		{Op: abi.RowInsert, Table: "c", Keys: ck("acme", 2), Cols: []abi.Column{col("v", abi.String("y"))}}, // 3
		del("p", 1), // 4: from change 11: p1 deleted then written again
		up("p", 1, col("name", abi.String("Bob"))),           // 5
		{Op: abi.RowDelete, Table: "c", Keys: ck("acme", 1)}, // 6
		up("p", 3),  // 7
		del("p", 3), // 8: ends in a delete
	}
	ids := []abi.StreamID{{Ms: 10, Seq: 1}, {Ms: 10, Seq: 2}, {Ms: 10, Seq: 3}, {Ms: 10, Seq: 3}, {Ms: 11}, {Ms: 11}, {Ms: 12}, {Ms: 13}, {Ms: 13}}
	if err := c.ApplyStamped(context.Background(), ops, ids, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 13}}); err != nil {
		t.Fatal(err)
	}
	want := `INSERT INTO "ks"."p" ("id", "name", "b", "ok", "f") VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ? <- [1 Ann [1] true 0.5 10001] ; DELETE FROM "ks"."p" USING TIMESTAMP ? WHERE "id" = ? <- [10999 1] ; INSERT INTO "ks"."p" ("id", "name") VALUES (?, ?) USING TIMESTAMP ? <- [1 Bob 11000]
INSERT INTO "ks"."p" ("id", "name") VALUES (?, ?) USING TIMESTAMP ? <- [2 <nil> 10002]
INSERT INTO "ks"."c" ("org", "n", "v") VALUES (?, ?, ?) USING TIMESTAMP ? <- [acme 1 x 10003] ; INSERT INTO "ks"."c" ("org", "n", "v") VALUES (?, ?, ?) USING TIMESTAMP ? <- [acme 2 y 10003] ; DELETE FROM "ks"."c" USING TIMESTAMP ? WHERE "org" = ? AND "n" = ? <- [12000 acme 1]
DELETE FROM "ks"."p" USING TIMESTAMP ? WHERE "id" = ? <- [13000 3]
INSERT INTO "ks".cogs_checkpoints (stream, ms, seq) VALUES (?, ?, ?) USING TIMESTAMP ? <- [s 13 0 13000]
`
	if got := sent(f); got != want {
		t.Errorf("sent:\n%s\nwant:\n%s", got, want)
	}
	row, _ := f.Row(t, "p", key(1))
	if row["name"].Str() != "Bob" || !row["b"].IsNull() {
		t.Errorf("p 1 = %v", row)
	}
	if _, ok := f.Row(t, "p", key(3)); ok {
		t.Error("p 3 exists")
	}
	if _, ok := f.Row(t, "c", ck("acme", 1)); ok {
		t.Error("c acme 1 exists")
	}
}

// TestReplayAndReorder applies changes out of order and twice: the newest
// change of each row wins whatever the order.
func TestReplayAndReorder(t *testing.T) {
	c, f := openFake(t)
	f.Table(t, "p", []conformance.Col{{Name: "id", Kind: abi.KindInt}}, []conformance.Col{{Name: "v", Kind: abi.KindString}})
	ctx := context.Background()
	changes := []struct {
		op abi.RowOp
		id abi.StreamID
	}{
		{up("p", 1, col("v", abi.String("a"))), abi.StreamID{Ms: 100, Seq: 0}},
		{up("p", 1, col("v", abi.String("b"))), abi.StreamID{Ms: 100, Seq: 1}},
		{del("p", 2), abi.StreamID{Ms: 101, Seq: 0}},
		{up("p", 2, col("v", abi.String("c"))), abi.StreamID{Ms: 100, Seq: 5}},
		{up("p", 3, col("v", abi.String("old"))), abi.StreamID{Ms: 99, Seq: 999}},
		{del("p", 3), abi.StreamID{Ms: 100, Seq: 0}},
		{up("p", 3, col("v", abi.String("new"))), abi.StreamID{Ms: 102, Seq: 0}},
	}
	// Newest last, then everything again in reverse, then one by one.
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5, 6}, {6, 5, 4, 3, 2, 1, 0}, {3, 0, 6, 1, 4, 2, 5}} {
		for _, i := range order {
			ch := changes[i]
			if err := c.ApplyStamped(ctx, []abi.RowOp{ch.op}, []abi.StreamID{ch.id}, connectors.Checkpoint{}); err != nil {
				t.Fatal(err)
			}
		}
		if row, ok := f.Row(t, "p", key(1)); !ok || row["v"].Str() != "b" {
			t.Errorf("order %v: row 1 = %v, want b", order, row)
		}
		if row, ok := f.Row(t, "p", key(2)); ok {
			t.Errorf("order %v: row 2 = %v, want deleted", order, row)
		}
		if row, ok := f.Row(t, "p", key(3)); !ok || row["v"].Str() != "new" {
			t.Errorf("order %v: row 3 = %v, want new", order, row)
		}
	}
	// An older checkpoint never overwrites a newer one.
	for _, ms := range []uint64{5, 3} {
		if err := c.Apply(ctx, nil, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: ms}}); err != nil {
			t.Fatal(err)
		}
	}
	if id, err := c.Checkpoint(ctx, "s"); err != nil || id != (abi.StreamID{Ms: 5}) {
		t.Errorf("checkpoint = %v, %v; want 5-0", id, err)
	}
}

func TestApplyStampedLength(t *testing.T) {
	c, _ := openFake(t)
	err := c.ApplyStamped(context.Background(), []abi.RowOp{up("p", 1)}, nil, connectors.Checkpoint{})
	if !connectors.IsPermanent(err) {
		t.Errorf("ApplyStamped with no IDs = %v", err)
	}
}

func TestErrors(t *testing.T) {
	c, f := openFake(t)
	f.Table(t, "p", []conformance.Col{{Name: "id", Kind: abi.KindInt}}, []conformance.Col{{Name: "n", Kind: abi.KindInt}})
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		inj   error
		ops   []abi.RowOp
		index int
		perm  bool
	}{
		{"type mismatch", nil, []abi.RowOp{up("p", 1, col("n", abi.Int(1))), up("p", 2, col("n", abi.String("x")))}, 1, true},
		{"unknown column", nil, []abi.RowOp{up("p", 1, col("zz", abi.Int(1)))}, 0, true},
		{"unknown table", nil, []abi.RowOp{up("p", 1), up("nope", 1)}, 1, true},
		{"write timeout", &gocql.RequestErrWriteTimeout{}, []abi.RowOp{up("p", 1)}, -1, false},
		{"unavailable", &gocql.RequestErrUnavailable{}, []abi.RowOp{up("p", 1)}, -1, false},
		{"overloaded", requestError{gocql.ErrCodeOverloaded, "overloaded"}, []abi.RowOp{up("p", 1)}, -1, false},
		{"no connections", gocql.ErrNoConnections, []abi.RowOp{up("p", 1)}, -1, false},
		{"timeout", gocql.ErrTimeoutNoResponse, []abi.RowOp{up("p", 1)}, -1, false},
		{"network", &net.OpError{Op: "read", Err: errors.New("reset")}, []abi.RowOp{up("p", 1)}, -1, false},
		{"syntax", requestError{gocql.ErrCodeSyntax, "bad"}, []abi.RowOp{up("p", 1)}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.failNext = tc.inj
			err := c.Apply(ctx, tc.ops, connectors.Checkpoint{Stream: "e", ID: abi.StreamID{Ms: 1}})
			f.failNext = nil
			var be *connectors.BatchError
			if !errors.As(err, &be) || be.Index != tc.index || be.Permanent != tc.perm {
				t.Errorf("apply = %v, want index %d permanent %v", err, tc.index, tc.perm)
			}
			if id, _ := c.Checkpoint(ctx, "e"); id != (abi.StreamID{}) {
				t.Errorf("checkpoint moved to %v", id)
			}
		})
	}
	// A partition batch refused for good is replayed statement by
	// statement to name the op.
	f.Table(t, "c", []conformance.Col{{Name: "org", Kind: abi.KindString}, {Name: "n", Kind: abi.KindInt}}, []conformance.Col{{Name: "v", Kind: abi.KindString}})
	ops := []abi.RowOp{
		{Op: abi.RowUpsert, Table: "c", Keys: []abi.Column{col("org", abi.String("a")), col("n", abi.Int(1))}, Cols: []abi.Column{col("v", abi.String("ok"))}},
		{Op: abi.RowUpsert, Table: "c", Keys: []abi.Column{col("org", abi.String("a")), col("n", abi.Int(2))}, Cols: []abi.Column{col("v", abi.Int(3))}},
	}
	err := c.Apply(ctx, ops, connectors.Checkpoint{})
	var be *connectors.BatchError
	if !errors.As(err, &be) || be.Index != 1 || !be.Permanent {
		t.Errorf("apply = %v, want permanent at 1", err)
	}
}

func TestPermanent(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{requestError{gocql.ErrCodeInvalid, "x"}, true},
		{requestError{gocql.ErrCodeSyntax, "x"}, true},
		{requestError{gocql.ErrCodeUnauthorized, "x"}, true},
		{fmt.Errorf("w: %w", gocql.MarshalError("x")), true},
		{&gocql.RequestErrWriteTimeout{}, false},
		{&gocql.RequestErrReadTimeout{}, false},
		{&gocql.RequestErrUnavailable{}, false},
		{requestError{gocql.ErrCodeBootstrapping, "x"}, false},
		{requestError{gocql.ErrCodeServer, "x"}, false},
		{gocql.ErrNoConnections, false},
		{gocql.ErrConnectionClosed, false},
		{context.Canceled, false},
	} {
		if got := Permanent(tc.err); got != tc.want {
			t.Errorf("Permanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		cfg  map[string]any
		want string
	}{
		{map[string]any{}, `option "keyspace" is required`},
		{map[string]any{"keyspace": "k", "host": "x"}, `unknown option "host"`},
		{map[string]any{"keyspace": "k", "consistency": "MOST"}, `option "consistency"`},
		{map[string]any{"keyspace": "k", "concurrency": 0}, `"concurrency" must be at least 1`},
		{map[string]any{"keyspace": "k", "password": "${env:COGS_TEST_UNSET_VARIABLE}"}, "COGS_TEST_UNSET_VARIABLE is not set"},
		{map[string]any{"keyspace": "k", "hosts": " , "}, `"hosts" names no host`},
		{map[string]any{"keyspace": "k", "hosts": "127.0.0.1", "port": 1, "timeout_ms": 300}, "open 127.0.0.1"},
	} {
		_, err := connectors.Open("cassandra", tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
}
