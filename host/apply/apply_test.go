package apply_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
	"github.com/cogs-dev/cogs/connectors/sqlite"
	"github.com/cogs-dev/cogs/host/apply"
	"github.com/cogs-dev/cogs/host/engine"
	"github.com/cogs-dev/cogs/host/enginetest"
	"github.com/cogs-dev/cogs/host/internal/redistest"
)

// env is one test's Redis, SQLite target and persons recipe.
type env struct {
	t      *testing.T
	rdb    *redis.Client
	db     *sql.DB
	target connectors.Connector
	recipe *engine.Recipe
	keys   apply.Keys
	logs   *syncBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })

	path := filepath.Join(t.TempDir(), "target.db")
	target, err := sqlite.Open(map[string]any{"path": path})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Close() })
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE persons (person_id TEXT PRIMARY KEY, first TEXT, last TEXT, age INTEGER CHECK (age >= 0))`); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	eng, err := engine.New(ctx, engine.Config{CacheDir: enginetest.CacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close(context.Background()) })
	rec, err := eng.Load(ctx, "persons", enginetest.Build(t, "../../examples/persons"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, rdb: rdb, db: db, target: target, recipe: rec, keys: apply.KeysOf("persons"), logs: &syncBuffer{}}
}

func (e *env) config() apply.Config {
	return apply.Config{
		Redis:    e.rdb,
		Recipe:   e.recipe,
		Targets:  map[string]connectors.Connector{"mysql": e.target},
		BatchAge: 20 * time.Millisecond,
		LeaseTTL: time.Second,
		RetryMin: 5 * time.Millisecond,
		RetryMax: 50 * time.Millisecond,
		Logger:   hclog.New(&hclog.LoggerOptions{Output: e.logs, Level: hclog.Info}),
	}
}

// start runs an applier with cfg until the test ends.
func (e *env) start(cfg apply.Config) *apply.Applier {
	e.t.Helper()
	a, err := apply.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	e.t.Cleanup(func() { cancel(); <-done })
	return a
}

// hashData is the capture script's encoding of a hash post-image.
func hashData(kv ...string) string {
	var b strings.Builder
	for _, s := range kv {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	return b.String()
}

// set adds a "set" entry for person:<id> to the stream, as the capture
// script would, and returns its ID.
func (e *env) set(id string, first string, age string, extra ...any) string {
	e.t.Helper()
	v := []any{"op", "set", "key", "person:" + id, "kind", "hash",
		"data", hashData("first_name", first, "last_name", "L"+id, "age", age)}
	v = append(v, extra...)
	sid, err := e.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: e.keys.Stream, Values: v}).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return sid
}

func (e *env) del(id string) string {
	e.t.Helper()
	sid, err := e.rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: e.keys.Stream,
		Values: []any{"op", "delete", "key", "person:" + id, "kind", "hash"}}).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return sid
}

// drained waits until the stream is empty and nothing is pending.
func (e *env) drained() {
	e.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := e.rdb.XLen(ctx, e.keys.Stream).Result()
		if err == nil && n == 0 {
			p, err := e.rdb.XPending(ctx, e.keys.Stream, apply.DefaultGroup).Result()
			if err == nil && p.Count == 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("stream not drained: len %d (%v)\nlogs:\n%s", n, err, e.logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rows returns the persons table as "id first age" lines, sorted by id.
func (e *env) rows() []string {
	e.t.Helper()
	r, err := e.db.Query(`SELECT person_id, first, age FROM persons ORDER BY person_id`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Close()
	var out []string
	for r.Next() {
		var id, first string
		var age int
		if err := r.Scan(&id, &first, &age); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %s %d", id, first, age))
	}
	return out
}

func TestIntegrationApply(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 50; i++ {
		e.set(fmt.Sprintf("%02d", i), "F", strconv.Itoa(i))
	}
	e.set("07", "Seven", "70") // coalesced with the first 07 if in one batch
	e.del("03")
	e.set("03", "Three", "33")
	e.del("04")
	a := e.start(e.config())
	e.drained()

	got := e.rows()
	if len(got) != 49 {
		t.Fatalf("%d rows, want 49: %v", len(got), got)
	}
	for _, want := range []string{"03 Three 33", "07 Seven 70", "49 F 49"} {
		if !contains(got, want) {
			t.Errorf("row %q missing: %v", want, got)
		}
	}
	if contains(got, "04 F 4") {
		t.Errorf("deleted row 04 still there")
	}
	st := a.Stats()
	if st.Read != 54 || st.Failed != 0 || st.Applied+st.Coalesced != 54 || st.Coalesced < 3 {
		t.Errorf("stats %+v", st)
	}
	cp, err := e.target.Checkpoint(context.Background(), e.keys.Stream)
	if err != nil || cp != st.LastApplied || cp == (abi.StreamID{}) {
		t.Errorf("checkpoint %v (%v), stats %v", cp, err, st.LastApplied)
	}

	// New changes while running.
	e.set("50", "Late", "1")
	e.drained()
	if got := e.rows(); !contains(got, "50 Late 1") {
		t.Errorf("late row missing: %v", got)
	}
}

func TestIntegrationApplyBatchSize(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 100; i++ {
		e.set(strconv.Itoa(1000+i), "F", "1")
	}
	cfg := e.config()
	cfg.BatchSize = 10
	a := e.start(cfg)
	e.drained()
	if st := a.Stats(); st.Batches != 10 || st.Applied != 100 {
		t.Errorf("stats %+v, want 10 batches of 10", st)
	}
	if n := len(e.rows()); n != 100 {
		t.Errorf("%d rows", n)
	}
}

// The checkpoint makes a batch that was committed but not acknowledged
// (the host died in between) skipped on the next run.
func TestIntegrationApplySkipsCheckpointed(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := 0; i < 20; i++ {
		ids = append(ids, e.set(strconv.Itoa(100+i), "F", "1"))
	}
	cp, _ := abi.ParseStreamID(ids[9])
	if err := e.target.Apply(context.Background(), nil, connectors.Checkpoint{Stream: e.keys.Stream, ID: cp}); err != nil {
		t.Fatal(err)
	}
	a := e.start(e.config())
	e.drained()
	got := e.rows()
	if len(got) != 10 || got[0] != "110 F 1" {
		t.Fatalf("rows %v: want only 110..119", got)
	}
	if st := a.Stats(); st.Duplicate != 10 || st.Applied != 10 {
		t.Errorf("stats %+v", st)
	}
}

func TestIntegrationApplyDeadLetters(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.set("1", "Ann", "41")
	e.set("2", "Bad", "not-a-number", "ack", "{person:2}u-1")      // the recipe rejects it
	e.set("3", "Neg", "-5", "ack", "{person:3}u-2")                // the target's CHECK refuses it
	e.rdb.XAdd(ctx, &redis.XAddArgs{Stream: e.keys.Stream, ID: "", // another type than hash
		Values: []any{"op", "set", "key", "person:4", "kind", "hash", "type", "string"}})
	e.set("5", "Eve", "55", "ack", "{person:5}u-3")
	a := e.start(e.config())
	e.drained()

	if got := e.rows(); strings.Join(got, ",") != "1 Ann 41,5 Eve 55" {
		t.Errorf("rows %v", got)
	}
	dlq, err := e.rdb.XRange(ctx, e.keys.DLQ, "-", "+").Result()
	if err != nil || len(dlq) != 3 {
		t.Fatalf("dead letters %v (%v)", dlq, err)
	}
	want := map[string]string{"person:2": "recipe", "person:3": "target", "person:4": "decode"}
	for _, m := range dlq {
		key, _ := m.Values["key"].(string)
		if m.Values["stage"] != want[key] {
			t.Errorf("%s: stage %v, want %s (%v)", key, m.Values["stage"], want[key], m.Values)
		}
		if m.Values["error"] == "" || m.Values["op"] != "set" {
			t.Errorf("%s: entry %v", key, m.Values)
		}
	}
	if st := a.Stats(); st.Failed != 3 || st.Applied != 2 {
		t.Errorf("stats %+v", st)
	}
	checkAck(t, e.rdb, "{person:2}u-1", "failed")
	checkAck(t, e.rdb, "{person:3}u-2", "failed")
	checkAck(t, e.rdb, "{person:5}u-3", "done")
}

func checkAck(t *testing.T, rdb *redis.Client, key, status string) {
	t.Helper()
	ctx := context.Background()
	msgs, err := rdb.XRange(ctx, key, "-", "+").Result()
	if err != nil || len(msgs) != 1 || msgs[0].Values["status"] != status {
		t.Errorf("ack %s: %v (%v), want status %s", key, msgs, err, status)
		return
	}
	if status == "failed" && msgs[0].Values["error"] == "" {
		t.Errorf("ack %s: no error", key)
	}
	if ttl := rdb.TTL(ctx, key).Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("ack %s: TTL %v", key, ttl)
	}
}

// flaky fails Apply transiently n times, then passes calls through.
type flaky struct {
	connectors.Connector
	mu    sync.Mutex
	n     int
	calls int
}

func (f *flaky) Apply(ctx context.Context, ops []abi.RowOp, cp connectors.Checkpoint) error {
	f.mu.Lock()
	f.calls++
	fail := f.n > 0
	if fail {
		f.n--
	}
	f.mu.Unlock()
	if fail {
		return &connectors.BatchError{Index: -1, Err: errors.New("connection refused")}
	}
	return f.Connector.Apply(ctx, ops, cp)
}

func TestIntegrationApplyRetriesTransient(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 30; i++ {
		e.set(strconv.Itoa(200+i), "F", "2")
	}
	f := &flaky{Connector: e.target, n: 6}
	cfg := e.config()
	cfg.Targets = map[string]connectors.Connector{"mysql": f}
	a := e.start(cfg)
	e.drained()
	if n := len(e.rows()); n != 30 {
		t.Errorf("%d rows", n)
	}
	if st := a.Stats(); st.Failed != 0 || st.State != apply.StateRunning {
		t.Errorf("stats %+v", st)
	}
	logs := e.logs.String()
	if n := strings.Count(logs, "failing; retrying"); n != 1 {
		t.Errorf("%d failure lines, want 1 (one per state change):\n%s", n, logs)
	}
	if n := strings.Count(logs, "recovered"); n != 1 {
		t.Errorf("%d recovery lines, want 1:\n%s", n, logs)
	}
}

func TestIntegrationApplyMaxAttempts(t *testing.T) {
	e := newEnv(t)
	e.set("300", "F", "3")
	f := &flaky{Connector: e.target, n: 1 << 30}
	cfg := e.config()
	cfg.Targets = map[string]connectors.Connector{"mysql": f}
	cfg.MaxAttempts = 3
	e.start(cfg)
	e.drained()
	dlq := e.rdb.XRange(context.Background(), e.keys.DLQ, "-", "+").Val()
	if len(dlq) != 1 || dlq[0].Values["stage"] != "retries" {
		t.Fatalf("dead letters %v", dlq)
	}
	if f.calls != 3 {
		t.Errorf("%d attempts, want 3", f.calls)
	}
}

// trapping fails every batch that holds the key bad, as a recipe that
// traps on one change does.
type trapping struct {
	apply.Mapper
	bad   string
	calls int
}

func (m *trapping) Map(ctx context.Context, changes []abi.Change) ([]abi.Result, error) {
	m.calls++
	for _, c := range changes {
		if c.Key == m.bad {
			return nil, &engine.RecipeError{Recipe: "persons", Op: "map", Kind: engine.ErrTrap, Detail: "unreachable"}
		}
	}
	return m.Mapper.Map(ctx, changes)
}

func TestIntegrationApplyIsolatesRecipeFailure(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 16; i++ {
		e.set(strconv.Itoa(400+i), "F", "4")
	}
	cfg := e.config()
	m := &trapping{Mapper: e.recipe, bad: "person:405"}
	cfg.Recipe = m
	a := e.start(cfg)
	e.drained()
	if n := len(e.rows()); n != 15 {
		t.Errorf("%d rows, want 15", n)
	}
	dlq := e.rdb.XRange(context.Background(), e.keys.DLQ, "-", "+").Val()
	if len(dlq) != 1 || dlq[0].Values["key"] != "person:405" || !strings.Contains(dlq[0].Values["error"].(string), "trapped") {
		t.Fatalf("dead letters %v", dlq)
	}
	if st := a.Stats(); st.Failed != 1 || st.Applied != 15 {
		t.Errorf("stats %+v", st)
	}
}

// A second applier stands by while the first holds the lease, and takes
// over, with the first's pending entries, when it stops.
func TestIntegrationApplyLeaseTakeover(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		e.set(strconv.Itoa(500+i), "F", "5")
	}
	// A consumer that read the entries and died: they are pending.
	e.rdb.XGroupCreateMkStream(ctx, e.keys.Stream, apply.DefaultGroup, "0")
	if _, err := e.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: apply.DefaultGroup, Consumer: "dead",
		Streams: []string{e.keys.Stream, ">"}, Count: 100}).Result(); err != nil {
		t.Fatal(err)
	}
	// And its lease is still there for a while.
	e.rdb.Set(ctx, e.keys.Lease, "dead/x", 300*time.Millisecond)

	cfg1 := e.config()
	cfg1.Consumer = "one"
	a1, err := apply.New(cfg1)
	if err != nil {
		t.Fatal(err)
	}
	ctx1, stop1 := context.WithCancel(ctx)
	done1 := make(chan struct{})
	go func() { a1.Run(ctx1); close(done1) }()
	defer func() { stop1(); <-done1 }()
	e.drained()
	if n := len(e.rows()); n != 10 {
		t.Fatalf("%d rows after takeover from a dead consumer", n)
	}
	if !strings.Contains(e.logs.String(), "claimed pending entries") {
		t.Errorf("no claim logged:\n%s", e.logs.String())
	}

	cfg2 := e.config()
	cfg2.Consumer = "two"
	a2 := e.start(cfg2)
	time.Sleep(200 * time.Millisecond)
	if st := a2.Stats(); st.State != apply.StateStandby {
		t.Fatalf("second applier is %s while the first leads", st.State)
	}
	stop1()
	<-done1
	e.set("510", "After", "6")
	e.drained()
	if got := e.rows(); !contains(got, "510 After 6") {
		t.Errorf("second applier did not take over: %v", got)
	}
	if st := a2.Stats(); st.Applied != 1 {
		t.Errorf("second applier stats %+v", st)
	}
}

func TestIntegrationApplySetRecipe(t *testing.T) {
	e := newEnv(t)
	a := e.start(e.config())
	e.set("600", "F", "6")
	e.drained()
	m := &trapping{Mapper: e.recipe, bad: "person:601"}
	old, err := a.SetRecipe(context.Background(), m)
	if err != nil || old != apply.Mapper(e.recipe) {
		t.Fatalf("SetRecipe: %v, %v", old, err)
	}
	e.set("601", "F", "6")
	e.drained()
	if m.calls == 0 {
		t.Errorf("new recipe not used")
	}
	if n := e.rdb.XLen(context.Background(), e.keys.DLQ).Val(); n != 1 {
		t.Errorf("%d dead letters, want 1", n)
	}
	// A recipe naming an unknown connection is refused.
	bad := &metaOverride{Mapper: e.recipe, conn: "nowhere"}
	if _, err := a.SetRecipe(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("SetRecipe with an unknown connection: %v", err)
	}
}

type metaOverride struct {
	apply.Mapper
	conn string
}

func (m *metaOverride) Meta() abi.Recipe {
	r := m.Mapper.Meta()
	r.Triggers = append([]abi.Trigger(nil), r.Triggers...)
	r.Triggers[0].Connection = m.conn
	return r
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestIntegrationApplyPartitions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		for i := 0; i < 100; i++ {
			e.set(strconv.Itoa(700+i), "R"+strconv.Itoa(round), strconv.Itoa(round))
		}
	}
	cfg := e.config()
	cfg.Partitions = 3
	cfg.BatchSize = 70
	a := e.start(cfg)
	e.drained()
	got := e.rows()
	if len(got) != 100 || got[0] != "700 R2 2" || got[99] != "799 R2 2" {
		t.Fatalf("rows %v", got)
	}
	if st := a.Stats(); st.Applied+st.Coalesced != 300 || st.Failed != 0 {
		t.Errorf("stats %+v", st)
	}
	for p := 0; p < 3; p++ {
		name := fmt.Sprintf("%s#%d/3", e.keys.Stream, p)
		if cp, err := e.target.Checkpoint(ctx, name); err != nil || cp == (abi.StreamID{}) {
			t.Errorf("checkpoint %s: %v, %v", name, cp, err)
		}
	}
	if got := e.rdb.SMembers(ctx, e.keys.Partitions).Val(); len(got) != 1 || got[0] != "3" {
		t.Errorf("partitions used: %v", got)
	}
}

// Entries committed under one partition count are not applied again under
// another.
func TestIntegrationApplyPartitionsChanged(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var last string
	for i := 0; i < 30; i++ {
		last = e.set(strconv.Itoa(800+i), "F", "8")
	}
	id, _ := abi.ParseStreamID(last)
	for p := 0; p < 3; p++ {
		cp := connectors.Checkpoint{Stream: fmt.Sprintf("%s#%d/3", e.keys.Stream, p), ID: id}
		if err := e.target.Apply(ctx, nil, cp); err != nil {
			t.Fatal(err)
		}
	}
	e.rdb.SAdd(ctx, e.keys.Partitions, 3)
	e.set("900", "New", "9")
	a := e.start(e.config()) // one partition
	e.drained()
	if got := e.rows(); len(got) != 1 || got[0] != "900 New 9" {
		t.Errorf("rows %v: want only the entry after the old checkpoints", got)
	}
	if st := a.Stats(); st.Duplicate != 30 || st.Applied != 1 {
		t.Errorf("stats %+v", st)
	}
}

// checking is a target that records, at each Apply, how many dead letters
// the stream had.
type checking struct {
	connectors.Connector
	rdb  *redis.Client
	dlq  string
	mu   sync.Mutex
	seen []int64
}

func (c *checking) Apply(ctx context.Context, ops []abi.RowOp, cp connectors.Checkpoint) error {
	n := c.rdb.XLen(ctx, c.dlq).Val()
	c.mu.Lock()
	c.seen = append(c.seen, n)
	c.mu.Unlock()
	return c.Connector.Apply(ctx, ops, cp)
}

// A change the recipe rejects is dead-lettered before the commit that
// moves the checkpoint past it: a host dying between the commit and the
// acknowledgement cannot lose it (the replay skips it as committed).
func TestIntegrationApplyDeadLettersBeforeCommit(t *testing.T) {
	e := newEnv(t)
	e.set("1", "Ann", "41")
	e.set("2", "Bad", "old", "ack", "{person:2}u-9")
	e.set("3", "Cy", "3")
	cfg := e.config()
	c := &checking{Connector: e.target, rdb: e.rdb, dlq: e.keys.DLQ}
	cfg.Targets = map[string]connectors.Connector{"mysql": c}
	e.start(cfg)
	e.drained()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) == 0 || c.seen[0] != 1 {
		t.Errorf("dead letters at each commit: %v, want 1 already at the first", c.seen)
	}
	checkAck(t, e.rdb, "{person:2}u-9", "failed")
}

// A batch committed but not acknowledged, one of whose changes was
// dead-lettered: the replay skips the batch, and acknowledges that change
// as failed, not done.
func TestIntegrationApplyReplayKeepsFailedAck(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.set("1", "Ann", "41")
	bad := e.set("2", "Bad", "old", "ack", "{person:2}u-8")
	last := e.set("3", "Cy", "3")
	// As the run that died left it: the dead letter, and the checkpoint.
	e.rdb.XAdd(ctx, &redis.XAddArgs{Stream: e.keys.DLQ, ID: bad, Values: []any{"key", "person:2", "error", "rejected by recipe: age is not an integer", "stage", "recipe"}})
	id, _ := abi.ParseStreamID(last)
	if err := e.target.Apply(ctx, nil, connectors.Checkpoint{Stream: e.keys.Stream, ID: id}); err != nil {
		t.Fatal(err)
	}
	a := e.start(e.config())
	e.drained()
	if st := a.Stats(); st.Duplicate != 3 {
		t.Errorf("stats %+v", st)
	}
	checkAck(t, e.rdb, "{person:2}u-8", "failed")
	if n := e.rdb.XLen(ctx, e.keys.DLQ).Val(); n != 1 {
		t.Errorf("%d dead letters, want the one", n)
	}
}
