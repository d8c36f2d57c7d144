package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cogs-dev/cogs/connectors"
	"github.com/cogs-dev/cogs/host/apply"
	"github.com/cogs-dev/cogs/host/engine"
	"github.com/cogs-dev/cogs/host/enginetest"
	"github.com/cogs-dev/cogs/host/internal/redistest"
)

// benchTargets are the targets of the apply benchmarks, by name.
var benchTargets = []struct {
	name string
	mk   func(t testing.TB) *target
}{
	{"mariadb", func(t testing.TB) *target { return mariadbTarget(t, mysqlAddr) }},
	{"postgres", postgresTarget},
	{"sqlite", sqliteTarget},
}

// prefill XADDs n persons changes to stream, as the capture script writes
// them: keys person:0..keys-1 in turn.
func prefill(ctx context.Context, rdb *redis.Client, stream string, n, keys int) error {
	for i := 0; i < n; {
		pipe := rdb.Pipeline()
		for j := 0; j < 1000 && i < n; j, i = j+1, i+1 {
			id := strconv.Itoa(i % keys)
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"op", "set", "key", "person:" + id, "kind", "hash",
				"data", hashData("first_name", "First"+id, "last_name", "Last"+id, "age", strconv.Itoa(i%100))}})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

func hashData(kv ...string) string {
	var b []byte
	for _, s := range kv {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	return string(b)
}

// BenchmarkApplyPrefilled measures sustained apply from a stream holding
// b.N persons changes (keys person:0..49999 in turn, so distinct within a
// batch) to each target: one applier, batches of 1,000, split into
// COGS_BENCH_PARTITIONS partitions (default 1). It reports rows/s.
//
//	go test -run '^$' -bench ApplyPrefilled -benchtime 200000x ./host/e2e/
//	COGS_BENCH_PARTITIONS=2 go test -run '^$' -bench ApplyPrefilled -benchtime 200000x ./host/e2e/
func BenchmarkApplyPrefilled(b *testing.B) {
	for _, bt := range benchTargets {
		b.Run(bt.name, func(b *testing.B) {
			ctx := context.Background()
			tg := bt.mk(b)
			rs := redistest.Start(b)
			rdb := client(b, rs.Addr)
			keys := apply.KeysOf("persons")
			if err := prefill(ctx, rdb, keys.Stream, b.N, 50000); err != nil {
				b.Fatal(err)
			}
			target, err := connectors.Open(tg.conn.Type, tg.conn.Options)
			if err != nil {
				b.Fatal(err)
			}
			defer target.Close()
			eng, err := engine.New(ctx, engine.Config{CacheDir: enginetest.CacheDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer eng.Close(ctx)
			rec, err := eng.Load(ctx, "persons", enginetest.Build(b, "../../examples/persons"), nil)
			if err != nil {
				b.Fatal(err)
			}
			var tim timing
			a, err := apply.New(apply.Config{Redis: rdb, Recipe: rec, Targets: map[string]connectors.Connector{"mysql": target},
				Partitions: envInt("COGS_BENCH_PARTITIONS", 1), Observer: &tim})
			if err != nil {
				b.Fatal(err)
			}
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			b.ResetTimer()
			start := time.Now()
			go func() { a.Run(runCtx); close(done) }()
			for a.Stats().Applied < uint64(b.N) {
				if st := a.Stats(); st.Failed > 0 {
					b.Fatalf("failures: %+v", st)
				}
				time.Sleep(time.Millisecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			stop()
			<-done
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rows/s")
			tim.mu.Lock()
			if tim.n > 0 {
				b.ReportMetric(float64(tim.mapD.Microseconds())/1000/float64(tim.n), "map-ms/batch")
				b.ReportMetric(float64(tim.applyD.Microseconds())/1000/float64(tim.n), "apply-ms/batch")
			}
			tim.mu.Unlock()
			if n := tg.count(b, "persons"); n != min(b.N, 50000) {
				b.Errorf("%d rows, want %d", n, min(b.N, 50000))
			}
		})
	}
}

// lags collects the lags an Observer reports.
type lags struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *lags) Batch(b apply.BatchInfo) {
	l.mu.Lock()
	l.d = append(l.d, b.Lag...)
	l.mu.Unlock()
}

func (l *lags) percentile(p float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// BenchmarkLagSteady writes persons through cogs at a steady rate
// (COGS_BENCH_RATE, default 20,000 writes/s, from 48 clients, for
// COGS_BENCH_SECONDS, default 10) and reports the lag from capture to
// commit in the target, p50 and p99. One iteration is one whole run:
//
//	go test -run '^$' -bench LagSteady -benchtime 1x ./host/e2e/
func BenchmarkLagSteady(b *testing.B) {
	rate := envInt("COGS_BENCH_RATE", 20000)
	seconds := envInt("COGS_BENCH_SECONDS", 10)
	persons := recipeFile(b, "../../examples/persons")
	for _, bt := range benchTargets {
		b.Run(bt.name, func(b *testing.B) {
			for range b.N {
				tg := bt.mk(b)
				rs := redistest.Start(b)
				cfg := hostConfig(b, rs.Addr, tg, persons)
				cfg.Apply.BatchAge = 100 * time.Millisecond // the default
				var l lags
				runHost(b, cfg, nil, serveObserver(&l))
				const clients = 48
				var wrote atomic.Int64
				var wg sync.WaitGroup
				start := time.Now()
				for c := range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						rc := redis.NewClient(&redis.Options{Addr: cfg.Listen})
						defer rc.Close()
						per := rate / clients
						tick := time.NewTicker(time.Second / time.Duration(per))
						defer tick.Stop()
						for i := 0; i < per*seconds; i++ {
							<-tick.C
							id := strconv.Itoa(c*1_000_000 + i%5000)
							if err := rc.HSet(context.Background(), "person:"+id, "first_name", "F", "last_name", "L", "age", i%100).Err(); err != nil {
								b.Error(err)
								return
							}
							wrote.Add(1)
						}
					}()
				}
				wg.Wait()
				elapsed := time.Since(start)
				drained(b, client(b, rs.Addr), 60*time.Second, "persons")
				b.ReportMetric(float64(wrote.Load())/elapsed.Seconds(), "writes/s")
				b.ReportMetric(float64(l.percentile(0.50).Microseconds())/1000, "p50-lag-ms")
				b.ReportMetric(float64(l.percentile(0.99).Microseconds())/1000, "p99-lag-ms")
				b.ReportMetric(float64(l.percentile(1).Microseconds())/1000, "max-lag-ms")
			}
		})
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// timing sums the time batches spent in the recipe and in the target.
type timing struct {
	mu           sync.Mutex
	n            int
	mapD, applyD time.Duration
}

func (t *timing) Batch(b apply.BatchInfo) {
	t.mu.Lock()
	t.n++
	t.mapD += b.Map
	t.applyD += b.Apply
	t.mu.Unlock()
}

// BenchmarkBurst is the scenario of RedisGears' write-behind announcement:
// 1 to 48 concurrent clients writing persons (a) straight to MariaDB, one
// autocommitted upsert each, (b) to Redis through cogs, written behind to
// the same MariaDB, and (c) through cogs, written through (the upsert
// committed before Redis is written). Each step runs COGS_BENCH_SECONDS (default 5) and
// reports throughput, p50/p95/p99 latency of the client's writes, and the
// statements per second MariaDB executed (its Questions counter; for (b)
// until the stream is drained):
//
//	go test -run '^$' -bench Burst -benchtime 1x ./host/e2e/
func BenchmarkBurst(b *testing.B) {
	seconds := envInt("COGS_BENCH_SECONDS", 5)
	persons := recipeFile(b, "../../examples/persons")
	wtpersons := recipeFile(b, "testdata/wtpersons")
	for _, clients := range []int{1, 8, 16, 32, 48} {
		for _, via := range []string{"direct", "cogs", "writethrough"} {
			b.Run(fmt.Sprintf("%s/c%d", via, clients), func(b *testing.B) {
				for range b.N {
					tg := mariadbTarget(b, mysqlAddr)
					var write func(c int) (func(i int) error, func())
					var rs *redistest.Server
					var listen string
					if via != "direct" {
						rs = redistest.Start(b)
						recipe, prefix := persons, "person:"
						if via == "writethrough" {
							recipe, prefix = wtpersons, "wperson:"
							// One MariaDB connection per client, as
							// the direct clients have.
							tg.conn.Options["max_connections"] = clients
						}
						cfg := hostConfig(b, rs.Addr, tg, recipe)
						cfg.Apply.BatchAge = 100 * time.Millisecond
						runHost(b, cfg, nil)
						listen = cfg.Listen
						write = func(c int) (func(i int) error, func()) {
							rc := redis.NewClient(&redis.Options{Addr: listen, PoolSize: 1})
							return func(i int) error {
								id := strconv.Itoa(c*1_000_000 + i%10000)
								return rc.HSet(context.Background(), prefix+id, "first_name", "F"+id, "last_name", "L", "age", i%100).Err()
							}, func() { rc.Close() }
						}
					} else {
						write = func(c int) (func(i int) error, func()) {
							conn, err := tg.db.Conn(context.Background())
							if err != nil {
								b.Fatal(err)
							}
							return func(i int) error {
								id := strconv.Itoa(c*1_000_000 + i%10000)
								_, err := conn.ExecContext(context.Background(),
									"INSERT INTO persons (person_id, first, last, age) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE first = VALUES(first), last = VALUES(last), age = VALUES(age)",
									id, "F"+id, "L", i%100)
								return err
							}, func() { conn.Close() }
						}
					}
					q0 := questions(b, tg)
					start := time.Now()
					deadline := start.Add(time.Duration(seconds) * time.Second)
					lat := make([][]time.Duration, clients)
					var wg sync.WaitGroup
					for c := range clients {
						wg.Add(1)
						go func() {
							defer wg.Done()
							w, closeFn := write(c)
							defer closeFn()
							for i := 0; time.Now().Before(deadline); i++ {
								t0 := time.Now()
								if err := w(i); err != nil {
									b.Error(err)
									return
								}
								lat[c] = append(lat[c], time.Since(t0))
							}
						}()
					}
					wg.Wait()
					elapsed := time.Since(start)
					if via == "cogs" {
						drained(b, client(b, rs.Addr), 120*time.Second, "persons")
					}
					dbElapsed := time.Since(start)
					q1 := questions(b, tg)
					var all []time.Duration
					for _, l := range lat {
						all = append(all, l...)
					}
					slices.Sort(all)
					pct := func(p float64) float64 {
						if len(all) == 0 {
							return 0
						}
						return float64(all[min(len(all)-1, int(p*float64(len(all))))].Microseconds()) / 1000
					}
					b.ReportMetric(float64(len(all))/elapsed.Seconds(), "writes/s")
					b.ReportMetric(pct(0.50), "p50-ms")
					b.ReportMetric(pct(0.95), "p95-ms")
					b.ReportMetric(pct(0.99), "p99-ms")
					b.ReportMetric(float64(q1-q0)/dbElapsed.Seconds(), "db-stmts/s")
				}
			})
		}
	}
}

// questions is MariaDB's count of statements executed (global).
func questions(b *testing.B, tg *target) int64 {
	var name string
	var n int64
	if err := tg.db.QueryRow("SHOW GLOBAL STATUS LIKE 'Questions'").Scan(&name, &n); err != nil {
		b.Fatal(err)
	}
	return n
}
