package mongodb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors/conformance"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// fake is an in-memory stand-in for a MongoDB database that interprets
// the write models it is sent (UpdateOne with $set, $unset and
// $setOnInsert, ReplaceOne, DeleteOne, InsertOne; upserts; ordered bulk
// writes stopping at the first error) and session transactions (a
// snapshot restored on abort). It logs every call, and can refuse
// documents (Poison), drop the connection in the middle of a bulk write
// (Drop) and return injected errors.
type fake struct {
	mu    sync.Mutex
	tx    bool // the server supports transactions
	colls map[string]map[string]bson.D
	keys  map[string][]string // collection -> key fields (key_mode fields)
	byID  bool

	// Transactions run one at a time (held from begin to end), each
	// restoring a snapshot on abort.
	txMu     sync.Mutex
	inTx     bool
	snapshot map[string]map[string]bson.D

	log    []call
	calls  int
	dropAt int // the call that loses its connection half way; -1 none
	poison map[string]bool
	// failAt injects an error at a call number; commitErr at commit.
	failAt    map[int]error
	commitErr error
	commits   int
	aborts    int
}

type call struct {
	coll   string
	models []mongo.WriteModel
	inTx   bool
}

func newFake(tx, byID bool) *fake {
	return &fake{tx: tx, byID: byID, colls: map[string]map[string]bson.D{}, keys: map[string][]string{},
		dropAt: -1, poison: map[string]bool{}, failAt: map[int]error{}}
}

func canon(d bson.D) string {
	b, err := bson.Marshal(d)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// keyOf is the identity of a document or filter: its _id (key_mode id) or
// its key fields in the collection's order.
func (f *fake) keyOf(coll string, d bson.D) (string, bool) {
	get := func(name string) (any, bool) {
		for _, e := range d {
			if e.Key == name {
				return e.Value, true
			}
		}
		return nil, false
	}
	if f.byID || coll == checkpointColl {
		v, ok := get("_id")
		return canon(bson.D{{Key: "_id", Value: v}}), ok
	}
	var k bson.D
	for _, name := range f.keys[coll] {
		v, ok := get(name)
		if !ok {
			return "", false
		}
		k = append(k, bson.E{Key: name, Value: v})
	}
	return canon(k), true
}

func (f *fake) Table(t *testing.T, name string, keys, cols []conformance.Col) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range keys {
		f.keys[name] = append(f.keys[name], k.Name)
	}
}

func (f *fake) Row(t *testing.T, table string, keys []abi.Column) (map[string]abi.Value, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
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
	d, ok := f.colls[table][k]
	if !ok {
		return nil, false
	}
	row := map[string]abi.Value{}
	for _, e := range d {
		if _, sub := e.Value.(bson.D); sub && e.Key == "_id" {
			continue // a composite _id; the key columns are fields too
		}
		row[e.Key] = fromBSON(e.Value)
	}
	return row, true
}

func fromBSON(v any) abi.Value {
	switch v := v.(type) {
	case string:
		return abi.String(v)
	case bson.Binary:
		return abi.Bytes(v.Data)
	case int64:
		return abi.Int(v)
	case int32:
		return abi.Int(int64(v))
	case float64:
		return abi.Float(v)
	case bool:
		return abi.Bool(v)
	case nil:
		return abi.Null()
	}
	panic(fmt.Sprintf("fake: unexpected BSON value %T", v))
}

func (f *fake) Count(t *testing.T, table string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.colls[table])
}

func (f *fake) begin(ctx context.Context) (context.Context, func(bool) error, error) {
	if !f.tx {
		return nil, nil, mongo.CommandError{Code: 20, Name: "IllegalOperation", Message: "Transaction numbers are only allowed on a replica set member or mongos"}
	}
	f.txMu.Lock()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.inTx {
		f.txMu.Unlock()
		return nil, nil, errors.New("fake: nested transaction")
	}
	f.inTx = true
	f.snapshot = map[string]map[string]bson.D{}
	for c, docs := range f.colls {
		m := make(map[string]bson.D, len(docs))
		for k, d := range docs {
			m[k] = append(bson.D(nil), d...)
		}
		f.snapshot[c] = m
	}
	return ctx, func(commit bool) error {
		defer f.txMu.Unlock()
		f.mu.Lock()
		defer f.mu.Unlock()
		f.inTx = false
		if commit && f.commitErr == nil {
			f.commits++
			return nil
		}
		f.aborts++
		f.colls = f.snapshot
		if commit {
			err := f.commitErr
			f.commitErr = nil
			return err
		}
		return nil
	}, nil
}

func writeErr(i int, m mongo.WriteModel, code int, msg string) error {
	return mongo.BulkWriteException{WriteErrors: []mongo.BulkWriteError{{WriteError: mongo.WriteError{Index: i, Code: code, Message: msg}, Request: m}}}
}

func (f *fake) bulkWrite(ctx context.Context, coll string, models []mongo.WriteModel) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, call{coll, models, f.inTx})
	n := f.calls
	f.calls++
	if err := f.failAt[n]; err != nil {
		return err
	}
	stop := len(models)
	if n == f.dropAt {
		stop = len(models) / 2
	}
	if f.colls[coll] == nil {
		f.colls[coll] = map[string]bson.D{}
	}
	docs := f.colls[coll]
	for i, m := range models[:stop] {
		if err := f.write(coll, docs, i, m); err != nil {
			return err
		}
	}
	if stop < len(models) {
		return mongo.CommandError{Code: 0, Labels: []string{"NetworkError"}, Message: "connection reset by peer"}
	}
	return nil
}

func (f *fake) write(coll string, docs map[string]bson.D, i int, m mongo.WriteModel) error {
	switch m := m.(type) {
	case *mongo.InsertOneModel:
		d := m.Document.(bson.D)
		k, ok := f.keyOf(coll, d)
		if !ok {
			return errors.New("fake: document without its key")
		}
		if f.poison[coll+k] {
			return writeErr(i, m, 121, "Document failed validation")
		}
		if _, dup := docs[k]; dup {
			return writeErr(i, m, 11000, "E11000 duplicate key error")
		}
		docs[k] = d
	case *mongo.DeleteOneModel:
		k, _ := f.keyOf(coll, m.Filter.(bson.D))
		delete(docs, k)
	case *mongo.ReplaceOneModel:
		k, _ := f.keyOf(coll, m.Filter.(bson.D))
		if f.poison[coll+k] {
			return writeErr(i, m, 121, "Document failed validation")
		}
		if _, ok := docs[k]; !ok && (m.Upsert == nil || !*m.Upsert) {
			return nil
		}
		docs[k] = append(bson.D(nil), m.Replacement.(bson.D)...)
	case *mongo.UpdateOneModel:
		filter := m.Filter.(bson.D)
		k, _ := f.keyOf(coll, filter)
		if f.poison[coll+k] {
			return writeErr(i, m, 121, "Document failed validation")
		}
		d, exists := docs[k]
		if !exists {
			if m.Upsert == nil || !*m.Upsert {
				return nil
			}
			d = append(bson.D(nil), filter...)
		}
		for _, u := range m.Update.(bson.D) {
			fields := u.Value.(bson.D)
			switch u.Key {
			case "$set":
				d = set(d, fields)
			case "$setOnInsert":
				if !exists {
					d = set(d, fields)
				}
			case "$unset":
				for _, e := range fields {
					d = unset(d, e.Key)
				}
			default:
				return fmt.Errorf("fake: update operator %s", u.Key)
			}
		}
		docs[k] = d
	default:
		return fmt.Errorf("fake: model %T", m)
	}
	return nil
}

func set(d bson.D, fields bson.D) bson.D {
	for _, e := range fields {
		found := false
		for i := range d {
			if d[i].Key == e.Key {
				d[i].Value = e.Value
				found = true
			}
		}
		if !found {
			d = append(d, e)
		}
	}
	return d
}

func unset(d bson.D, name string) bson.D {
	for i := range d {
		if d[i].Key == name {
			return append(d[:i:i], d[i+1:]...)
		}
	}
	return d
}

func (f *fake) checkpoint(ctx context.Context, stream string) (int64, int64, bool, error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k, _ := f.keyOf(checkpointColl, bson.D{{Key: "_id", Value: stream}})
	d, ok := f.colls[checkpointColl][k]
	if !ok {
		return 0, 0, false, nil
	}
	var ms, seq int64
	for _, e := range d {
		switch e.Key {
		case "ms":
			ms = e.Value.(int64)
		case "seq":
			seq = e.Value.(int64)
		}
	}
	return ms, seq, true, nil
}

func (f *fake) close(ctx context.Context) error { return nil }
