package mongodb_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
	"github.com/cogs-dev/cogs/connectors/conformance"
	"github.com/cogs-dev/cogs/connectors/mongodb"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// No MongoDB can be installed on the development machine: these tests run
// only when COGS_TEST_MONGODB_URI names a server, also under
// COGS_REQUIRE_INTEGRATION=1. Each case gets its own database, dropped at
// the end.
func server(t *testing.T) (string, *mongo.Client) {
	t.Helper()
	uri := os.Getenv("COGS_TEST_MONGODB_URI")
	if uri == "" {
		t.Skip("COGS_TEST_MONGODB_URI not set")
	}
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetServerSelectionTimeout(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Disconnect(context.Background()) })
	if err := client.Ping(context.Background(), nil); err != nil {
		t.Fatalf("MongoDB at %s: %v", uri, err)
	}
	return uri, client
}

type store struct {
	db   *mongo.Database
	byID bool
}

func (s *store) Table(t *testing.T, name string, keys, cols []conformance.Col) {
	if s.byID {
		return
	}
	idx := bson.D{}
	for _, k := range keys {
		idx = append(idx, bson.E{Key: k.Name, Value: 1})
	}
	if _, err := s.db.Collection(name).Indexes().CreateOne(context.Background(), mongo.IndexModel{Keys: idx, Options: options.Index().SetUnique(true)}); err != nil {
		t.Fatal(err)
	}
}

func (s *store) filter(keys []abi.Column) bson.D {
	if s.byID {
		if len(keys) == 1 {
			return bson.D{{Key: "_id", Value: mongodb.Value(keys[0].Value)}}
		}
		sub := bson.D{}
		for _, k := range keys {
			sub = append(sub, bson.E{Key: k.Name, Value: mongodb.Value(k.Value)})
		}
		return bson.D{{Key: "_id", Value: sub}}
	}
	f := bson.D{}
	for _, k := range keys {
		f = append(f, bson.E{Key: k.Name, Value: mongodb.Value(k.Value)})
	}
	return f
}

func (s *store) Row(t *testing.T, table string, keys []abi.Column) (map[string]abi.Value, bool) {
	var d bson.D
	err := s.db.Collection(table).FindOne(context.Background(), s.filter(keys)).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	row := map[string]abi.Value{}
	for _, e := range d {
		switch v := e.Value.(type) {
		case string:
			row[e.Key] = abi.String(v)
		case bson.Binary:
			row[e.Key] = abi.Bytes(v.Data)
		case int64:
			row[e.Key] = abi.Int(v)
		case int32:
			row[e.Key] = abi.Int(int64(v))
		case float64:
			row[e.Key] = abi.Float(v)
		case bool:
			row[e.Key] = abi.Bool(v)
		case nil:
			row[e.Key] = abi.Null()
		}
	}
	return row, true
}

func (s *store) Count(t *testing.T, table string) int {
	n, err := s.db.Collection(table).CountDocuments(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func TestIntegrationConformance(t *testing.T) {
	uri, client := server(t)
	for _, keyMode := range []string{"id", "fields"} {
		t.Run(keyMode, func(t *testing.T) {
			conformance.RunStore(t, conformance.StoreTarget{
				Open: func(t *testing.T) (connectors.Connector, conformance.Store) {
					name := fmt.Sprintf("cogs_test_%d", time.Now().UnixNano())
					db := client.Database(name)
					t.Cleanup(func() { db.Drop(context.Background()) })
					c, err := connectors.Open("mongodb", map[string]any{"uri": uri, "database": name, "key_mode": keyMode})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { c.Close() })
					return c, &store{db: db, byID: keyMode == "id"}
				},
				// Atomic batches and refused duplicate inserts need
				// transactions (a replica set), which Open detects.
				Atomic:                 transactionsOf(t, uri),
				RejectsDuplicateInsert: transactionsOf(t, uri),
				Poison: func(t *testing.T, s conformance.Store, table string, keys []abi.Column) {
					st := s.(*store)
					validator := bson.D{{Key: keys[0].Name, Value: bson.D{{Key: "$ne", Value: mongodb.Value(keys[0].Value)}}}}
					err := st.db.RunCommand(context.Background(), bson.D{{Key: "collMod", Value: table}, {Key: "validator", Value: validator}}).Err()
					if err != nil {
						t.Fatal(err)
					}
				},
			})
		})
	}
}

// transactionsOf opens a connector to learn whether the server runs
// transactions.
func transactionsOf(t *testing.T, uri string) bool {
	c, err := connectors.Open("mongodb", map[string]any{"uri": uri, "database": "cogs_test_probe"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.(*mongodb.Connector).Transactions()
}
