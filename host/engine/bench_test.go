package engine_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/engine"
	"github.com/cogs-dev/cogs/host/enginetest"
)

func personsBatch(n int) []abi.Change {
	changes := make([]abi.Change, n)
	for i := range changes {
		id := strconv.Itoa(i)
		changes[i] = person(id, "First"+id, "Last"+id, strconv.Itoa(20+i%50))
		changes[i].ID = abi.StreamID{Ms: 1700000000000, Seq: uint64(i)}
	}
	return changes
}

// BenchmarkMapPersons reports the cost per change of mapping a batch of
// persons changes through the persons recipe (ns/change).
func BenchmarkMapPersons(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run("batch="+strconv.Itoa(n), func(b *testing.B) {
			ctx := context.Background()
			e, err := engine.New(ctx, engine.Config{CacheDir: enginetest.CacheDir(), PoolSize: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close(ctx)
			r, err := e.Load(ctx, "persons", enginetest.Build(b, "testdata/persons"), nil)
			if err != nil {
				b.Fatal(err)
			}
			changes := personsBatch(n)
			if _, err := r.Map(ctx, changes); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := r.Map(ctx, changes); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/change")
		})
	}
}
