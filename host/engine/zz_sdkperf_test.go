package engine_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/cogs-dev/cogs/host/engine"
)

// BenchmarkZZWasm maps persons batches through the modules listed in
// ZZWASM (comma-separated paths), for experiments with recipe variants.
func BenchmarkZZWasm(b *testing.B) {
	for _, path := range strings.Split(os.Getenv("ZZWASM"), ",") {
		if path == "" {
			b.Skip("ZZWASM not set")
		}
		wasm, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range []int{1, 1000} {
			b.Run(strings.TrimSuffix(path[strings.LastIndex(path, "/")+1:], ".wasm")+"/batch="+strconv.Itoa(n), func(b *testing.B) {
				ctx := context.Background()
				e, err := engine.New(ctx, engine.Config{PoolSize: 1})
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close(ctx)
				r, err := e.Load(ctx, "persons", wasm, nil)
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
}
