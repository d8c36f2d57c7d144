package conformance

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
)

// BenchApply measures upserts of persons rows (id, name, email, age) in
// batches of the given size, with a checkpoint per batch, on a table it
// creates in db, and reports rows/s. Keys cycle over 100,000 ids, so most
// batches update existing rows.
func BenchApply(b *testing.B, conn connectors.Connector, db *sql.DB, tg Target, batch int) {
	name := fmt.Sprintf("bench_persons_%d", time.Now().UnixNano())
	q := tg.Quote
	ddl := fmt.Sprintf("CREATE TABLE %s (id %s NOT NULL PRIMARY KEY, name %s, email %s, age %s)", q(name), tg.Types.Int, tg.Types.Key, tg.Types.Key, tg.Types.Int)
	if _, err := db.Exec(ddl); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Exec("DROP TABLE " + q(name)) })
	ops := make([]abi.RowOp, batch)
	ctx := context.Background()
	var next int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range ops {
			id := next % 100000
			next++
			ops[j] = abi.RowOp{Op: abi.RowUpsert, Table: name,
				Keys: []abi.Column{{Name: "id", Value: abi.Int(id)}},
				Cols: []abi.Column{
					{Name: "name", Value: abi.String(fmt.Sprintf("person %d", id))},
					{Name: "email", Value: abi.String(fmt.Sprintf("p%d@example.com", id))},
					{Name: "age", Value: abi.Int(id % 90)},
				}}
		}
		if err := conn.Apply(ctx, ops, connectors.Checkpoint{Stream: name, ID: abi.StreamID{Ms: uint64(i + 1)}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "rows/s")
}
