package mongodb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
	"github.com/cogs-dev/cogs/connectors/conformance"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

func col(name string, v abi.Value) abi.Column { return abi.Column{Name: name, Value: v} }

func openFake(t *testing.T, tx, byID, replace bool) (*Connector, *fake) {
	f := newFake(tx, byID)
	return &Connector{b: f, tx: tx, byID: byID, replace: replace}, f
}

// The shared suite against the fake database: it checks what the
// connector sends, interpreted by the fake; it is not a test of a server.
func TestConformanceFake(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tx, byID bool
	}{
		{"transactions/id", true, true},
		{"transactions/fields", true, false},
		{"standalone/id", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conformance.RunStore(t, conformance.StoreTarget{
				Open: func(t *testing.T) (connectors.Connector, conformance.Store) {
					c, f := openFake(t, tc.tx, tc.byID, false)
					return c, f
				},
				Atomic:                 tc.tx,
				RejectsDuplicateInsert: tc.tx,
				Poison: func(t *testing.T, s conformance.Store, table string, keys []abi.Column) {
					f := s.(*fake)
					op := abi.RowOp{Table: table, Keys: keys}
					var filter bson.D
					if f.byID {
						filter = bson.D{{Key: "_id", Value: id(&op)}}
					} else {
						for _, k := range keys {
							filter = append(filter, bson.E{Key: k.Name, Value: Value(k.Value)})
						}
					}
					k, _ := f.keyOf(table, filter)
					f.mu.Lock()
					f.poison[table+k] = true
					f.mu.Unlock()
				},
				Drop: func(t *testing.T, c connectors.Connector) {
					f := c.(*Connector).b.(*fake)
					f.mu.Lock()
					f.dropAt = f.calls
					f.mu.Unlock()
				},
			})
		})
	}
}

// render shows a write model as the relaxed extended JSON of its parts.
func render(t *testing.T, m mongo.WriteModel) string {
	t.Helper()
	js := func(v any) string {
		b, err := bson.MarshalExtJSON(v, false, false)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	switch m := m.(type) {
	case *mongo.UpdateOneModel:
		return fmt.Sprintf("updateOne %s %s upsert=%v", js(m.Filter), js(m.Update), *m.Upsert)
	case *mongo.ReplaceOneModel:
		return fmt.Sprintf("replaceOne %s %s upsert=%v", js(m.Filter), js(m.Replacement), *m.Upsert)
	case *mongo.DeleteOneModel:
		return "deleteOne " + js(m.Filter)
	case *mongo.InsertOneModel:
		return "insertOne " + js(m.Document)
	}
	return fmt.Sprintf("%T", m)
}

func renderLog(t *testing.T, f *fake) string {
	var b strings.Builder
	for _, c := range f.log {
		fmt.Fprintf(&b, "%s tx=%v\n", c.coll, c.inTx)
		for _, m := range c.models {
			b.WriteString("  " + render(t, m) + "\n")
		}
	}
	return b.String()
}

func TestModelsSent(t *testing.T) {
	ops := []abi.RowOp{
		{Op: abi.RowUpsert, Table: "p", Keys: []abi.Column{col("id", abi.Int(7))},
			Cols: []abi.Column{col("name", abi.String("Ann")), col("gone", abi.Null()), col("b", abi.Bytes([]byte{1, 2})), col("f", abi.Float(0.5)), col("ok", abi.Bool(true))}},
		{Op: abi.RowInsert, Table: "p", Keys: []abi.Column{col("id", abi.Int(8))}, Cols: []abi.Column{col("name", abi.String("Bo"))}},
		{Op: abi.RowDelete, Table: "c", Keys: []abi.Column{col("org", abi.String("acme")), col("n", abi.Int(1))}},
		{Op: abi.RowUpsert, Table: "p", Keys: []abi.Column{col("id", abi.Int(9))}},
	}
	cp := connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 5, Seq: 6}}
	for _, tc := range []struct {
		name              string
		tx, byID, replace bool
		want              string
	}{
		{"transactions id merge", true, true, false, `p tx=true
  updateOne {"_id":7} {"$set":{"id":7,"name":"Ann","b":{"$binary":{"base64":"AQI=","subType":"00"}},"f":0.5,"ok":true},"$unset":{"gone":""}} upsert=true
  insertOne {"_id":8,"id":8,"name":"Bo"}
c tx=true
  deleteOne {"_id":{"org":"acme","n":1}}
p tx=true
  updateOne {"_id":9} {"$set":{"id":9}} upsert=true
cogs_checkpoints tx=true
  updateOne {"_id":"s"} {"$set":{"ms":5,"seq":6}} upsert=true
commits=1 aborts=0
`},
		{"standalone fields replace", false, false, true, `p tx=false
  replaceOne {"id":7} {"id":7,"name":"Ann","b":{"$binary":{"base64":"AQI=","subType":"00"}},"f":0.5,"ok":true} upsert=true
  replaceOne {"id":8} {"id":8,"name":"Bo"} upsert=true
c tx=false
  deleteOne {"org":"acme","n":1}
p tx=false
  replaceOne {"id":9} {"id":9} upsert=true
cogs_checkpoints tx=false
  updateOne {"_id":"s"} {"$set":{"ms":5,"seq":6}} upsert=true
commits=0 aborts=0
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, f := openFake(t, tc.tx, tc.byID, tc.replace)
			f.keys["p"] = []string{"id"}
			f.keys["c"] = []string{"org", "n"}
			if err := c.Apply(context.Background(), ops, cp); err != nil {
				t.Fatal(err)
			}
			got := renderLog(t, f) + fmt.Sprintf("commits=%d aborts=%d\n", f.commits, f.aborts)
			if got != tc.want {
				t.Errorf("sent:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
	// A key column named _id is the _id, not $set again.
	c, _ := openFake(t, true, true, false)
	m := c.Model(&abi.RowOp{Op: abi.RowUpsert, Table: "t", Keys: []abi.Column{col("_id", abi.String("k"))}})
	if got, want := render(t, m), `updateOne {"_id":"k"} {"$setOnInsert":{"_id":"k"}} upsert=true`; got != want {
		t.Errorf("model = %s, want %s", got, want)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	ops := func() []abi.RowOp {
		return []abi.RowOp{
			{Op: abi.RowUpsert, Table: "a", Keys: []abi.Column{col("id", abi.Int(1))}},
			{Op: abi.RowUpsert, Table: "b", Keys: []abi.Column{col("id", abi.Int(1))}},
			{Op: abi.RowUpsert, Table: "b", Keys: []abi.Column{col("id", abi.Int(2))}},
		}
	}
	for _, tc := range []struct {
		name   string
		call   int // the call that fails: 0 a, 1 b, 2 checkpoint, 3 commit
		err    error
		index  int
		perm   bool
		commit bool
	}{
		{"duplicate key in second run", 1, writeErr(1, nil, 11000, "E11000 duplicate key"), 2, true, false},
		{"validation", 0, writeErr(0, nil, 121, "Document failed validation"), 0, true, false},
		{"write conflict", 1, mongo.CommandError{Code: 112, Name: "WriteConflict", Labels: []string{"TransientTransactionError"}}, -1, false, false},
		{"network", 0, mongo.CommandError{Labels: []string{"NetworkError"}, Message: "reset"}, -1, false, false},
		{"not primary", 0, mongo.CommandError{Code: 10107, Name: "NotWritablePrimary"}, -1, false, false},
		{"write concern timeout", 1, mongo.BulkWriteException{WriteConcernError: &mongo.WriteConcernError{Code: 64, Name: "WriteConcernFailed"}}, -1, false, false},
		{"unsatisfiable write concern", 1, mongo.BulkWriteException{WriteConcernError: &mongo.WriteConcernError{Code: 100, Name: "UnsatisfiableWriteConcern"}}, -1, true, false},
		{"checkpoint", 2, mongo.CommandError{Code: 91, Name: "ShutdownInProgress"}, -1, false, false},
		{"commit", 3, mongo.CommandError{Code: 251, Labels: []string{"TransientTransactionError"}}, -1, false, true},
		{"commit unknown", 3, mongo.CommandError{Code: 50, Labels: []string{"UnknownTransactionCommitResult"}}, -1, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, f := openFake(t, true, true, false)
			if tc.commit {
				f.commitErr = tc.err
			} else {
				f.failAt[tc.call] = tc.err
			}
			err := c.Apply(ctx, ops(), connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 1}})
			var be *connectors.BatchError
			if !errors.As(err, &be) || be.Index != tc.index || be.Permanent != tc.perm {
				t.Errorf("apply = %v, want index %d permanent %v", err, tc.index, tc.perm)
			}
			if f.commits != 0 || f.aborts != 1 {
				t.Errorf("commits %d aborts %d, want 0 1", f.commits, f.aborts)
			}
			for _, coll := range []string{"a", "b", checkpointColl} {
				if n := len(f.colls[coll]); n != 0 {
					t.Errorf("%s holds %d documents after the failed batch", coll, n)
				}
			}
		})
	}
}

func TestPermanent(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{writeErr(0, nil, 11000, "dup"), true},
		{mongo.CommandError{Code: 2, Name: "BadValue"}, true},
		{mongo.CommandError{Code: 11600, Name: "InterruptedAtShutdown"}, false},
		{mongo.CommandError{Code: 189, Name: "PrimarySteppedDown"}, false},
		{mongo.CommandError{Code: 2, Labels: []string{"RetryableWriteError"}}, false},
		{fmt.Errorf("w: %w", mongo.CommandError{Labels: []string{"NetworkError"}}), false},
		{mongo.MarshalError{Value: 1, Err: errors.New("x")}, true},
		{context.DeadlineExceeded, false},
		{mongo.ErrClientDisconnected, false},
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
		{map[string]any{}, `option "database" is required`},
		{map[string]any{"database": "d", "url": "x"}, `unknown option "url"`},
		{map[string]any{"database": "d", "write": "upsert"}, `option "write"`},
		{map[string]any{"database": "d", "key_mode": "pk"}, `option "key_mode"`},
		{map[string]any{"database": "d", "transactions": "yes"}, `option "transactions"`},
		{map[string]any{"database": "d", "password": "${env:COGS_TEST_UNSET_VARIABLE}"}, "COGS_TEST_UNSET_VARIABLE is not set"},
		{map[string]any{"database": "d", "uri": "mongodb://127.0.0.1:1", "timeout_ms": 200}, "open d"},
	} {
		_, err := connectors.Open("mongodb", tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
}
