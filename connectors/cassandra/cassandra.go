// Package cassandra is the Apache Cassandra (and ScyllaDB) connector
// (github.com/gocql/gocql). It registers itself as "cassandra".
//
// Options (see connectors/README.md):
//
//	hosts        comma-separated contact points, host or host:port (default 127.0.0.1)
//	port         default port of the hosts (default 9042)
//	keyspace     (required)
//	username     (default none)
//	password     (default none; use ${env:NAME} or ${file:/path})
//	consistency  write and checkpoint consistency level (default LOCAL_QUORUM)
//	local_dc     prefer the hosts of this data center (default none)
//	concurrency  partition batches in flight at once (default 16)
//	timeout_ms   per-request timeout (default 10000)
//
// # Exactly once without transactions
//
// Cassandra has no multi-partition transaction, so a batch and its
// checkpoint cannot commit together. Instead every write carries USING
// TIMESTAMP derived from the stream ID of its change, and a replayed or
// reordered write can never win over a newer one: replays are harmless.
// A stream ID <ms>-<seq> maps to the microsecond timestamp
//
//	ms*1000 + min(seq, 999)
//
// which is the change's Redis time in microseconds (so cogs' writes and
// other writers' default timestamps compare sensibly), with the sequence
// number in the sub-millisecond digits. Changes of one stream to one row
// therefore keep their order as long as fewer than 1,000 entries of the
// stream share one millisecond; entries beyond the 1,000th of a
// millisecond share its last microsecond (equal timestamps: a delete wins,
// then the larger value).
//
// Several ops of one batch for one row with the same timestamp (one change
// mapped to several ops) keep their order: the connector folds them, in
// order, into at most one row delete and one insert: the delete at ts-1
// (it removes everything older than the change, including an older
// change's writes at ts-1) and the insert of the columns written after the
// last delete at ts. A run ending in a delete is a delete at ts.
//
// Apply does not know the stream IDs of the ops (abi.RowOp carries none),
// so it stamps every op of the batch with the timestamp of the batch's
// checkpoint ID (or, without a checkpoint, with the client clock, strictly
// increasing per connector). Batches of one stream then never lose to an
// earlier batch and a replay of the same batch is harmless, but a replay
// cut at other batch boundaries is only as good as the checkpoint's ID.
// ApplyStamped (see connectors.Stamped) takes each op's stream ID and is what the
// scheduler should call.
//
// The checkpoint is written to cogs_checkpoints after the batch, also
// USING TIMESTAMP of its ID, so an older checkpoint never overwrites a
// newer one. A failed batch may be partly applied; its checkpoint is not
// written, and the retry rewrites the same cells with the same timestamps.
//
// # Bulk form
//
// Ops are grouped by partition (the table's partition key columns, read
// from system_schema once per table); each partition's statements go as
// one UNLOGGED batch (a single mutation on the replicas: atomic and
// isolated within the partition, one round trip), and the partition
// batches run concurrently, token-aware, at most concurrency at a time.
// Multi-partition batches are avoided: they make one coordinator hold and
// forward every partition's writes. Statements are prepared once per
// shape and cached by the driver.
//
// RowInsert is written as an upsert: Cassandra cannot refuse a duplicate
// key without a lightweight transaction, which cannot carry USING
// TIMESTAMP. Table and column names are quoted (case-sensitive).
package cassandra

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
	"github.com/gocql/gocql"
)

func init() {
	connectors.Register("cassandra", func(cfg map[string]any) (connectors.Connector, error) {
		return Open(cfg)
	})
}

// Connector writes to one Cassandra keyspace.
type Connector struct {
	s           session
	ks          string
	concurrency int

	mu   sync.Mutex
	pkey map[string][]string // table -> partition key columns

	lastNow atomic.Int64
}

var (
	_ connectors.Connector = (*Connector)(nil)
	// The scheduler calls ApplyStamped with the stream ID of each op's
	// change.
	_ connectors.Stamped = (*Connector)(nil)
)

// stmtKind is what a statement does, for session implementations that
// interpret statements instead of sending their CQL.
type stmtKind int

const (
	stmtInsert     stmtKind = iota // INSERT of Names = Values
	stmtDelete                     // DELETE of the row with key Names = Values
	stmtCheckpoint                 // INSERT into cogs_checkpoints
)

// stmt is one CQL statement with its bound arguments (the timestamp last
// for an insert, first for a delete).
type stmt struct {
	CQL  string
	Args []any
	// What it does, structured: kind, table, columns and values, and the
	// write timestamp.
	Kind   stmtKind
	Table  string
	Names  []string
	Values []any
	TS     int64
	op     int // index in the batch of the op it writes (the first, when folded)
}

// session is what the connector needs of the driver; tests replace it.
type session interface {
	// exec runs one statement, or several as one UNLOGGED batch.
	exec(ctx context.Context, stmts []stmt) error
	// checkpoint reads (ms, seq) of a stream; found is false when absent.
	checkpoint(ctx context.Context, cql, stream string) (ms, seq int64, found bool, err error)
	// partitionKey returns the partition key columns of a table, in order,
	// or nil when the table does not exist.
	partitionKey(ctx context.Context, keyspace, table string) ([]string, error)
	close()
}

// Open connects and creates cogs_checkpoints if needed.
func Open(cfg map[string]any) (*Connector, error) {
	o := connectors.NewOptions(cfg)
	hosts := o.String("hosts", "127.0.0.1")
	port := o.Int("port", 9042)
	ks := o.String("keyspace", "")
	user := o.String("username", "")
	password := o.String("password", "")
	consistency := o.String("consistency", "LOCAL_QUORUM")
	dc := o.String("local_dc", "")
	conc := o.Int("concurrency", 16)
	timeout := o.Int("timeout_ms", 10000)
	if err := o.Err(); err != nil {
		return nil, err
	}
	if ks == "" {
		return nil, errors.New(`option "keyspace" is required`)
	}
	cons, err := gocql.ParseConsistencyWrapper(consistency)
	if err != nil {
		return nil, fmt.Errorf(`option "consistency": %w`, err)
	}
	if conc < 1 {
		return nil, errors.New(`option "concurrency" must be at least 1`)
	}
	if timeout < 1 {
		return nil, errors.New(`option "timeout_ms" must be at least 1`)
	}
	var hostList []string
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hostList = append(hostList, h)
		}
	}
	if len(hostList) == 0 {
		return nil, errors.New(`option "hosts" names no host`)
	}
	cl := gocql.NewCluster(hostList...)
	cl.Port = port
	cl.Consistency = cons
	cl.Timeout = time.Duration(timeout) * time.Millisecond
	cl.ConnectTimeout = cl.Timeout
	if user != "" {
		cl.Authenticator = gocql.PasswordAuthenticator{Username: user, Password: password}
	}
	if dc != "" {
		cl.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.DCAwareRoundRobinPolicy(dc))
	} else {
		cl.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(gocql.RoundRobinHostPolicy())
	}
	gs, err := cl.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", hosts, err)
	}
	c := newConnector(&gocqlSession{s: gs, cons: cons}, ks, conc)
	ctx, cancel := context.WithTimeout(context.Background(), 4*cl.Timeout)
	defer cancel()
	if err := gs.Query("CREATE TABLE IF NOT EXISTS " + quote(ks) + ".cogs_checkpoints (stream text PRIMARY KEY, ms bigint, seq bigint)").WithContext(ctx).Exec(); err != nil {
		gs.Close()
		return nil, fmt.Errorf("open %s: keyspace %s: %w", hosts, ks, err)
	}
	return c, nil
}

func newConnector(s session, ks string, conc int) *Connector {
	return &Connector{s: s, ks: ks, concurrency: conc, pkey: map[string][]string{}}
}

// Close closes the session.
func (c *Connector) Close() error {
	c.s.close()
	return nil
}

// quote quotes a CQL identifier: "a""b".
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// Timestamp is the write timestamp (microseconds) of a change with stream
// ID id: ms*1000 + min(seq, 999).
func Timestamp(id abi.StreamID) int64 {
	seq := id.Seq
	if seq > 999 {
		seq = 999
	}
	ms := id.Ms
	if ms > math.MaxInt64/1000-1 {
		ms = math.MaxInt64/1000 - 1
	}
	return int64(ms)*1000 + int64(seq)
}

func (c *Connector) checkpointSelect() string {
	return "SELECT ms, seq FROM " + quote(c.ks) + ".cogs_checkpoints WHERE stream = ?"
}

// Checkpoint implements connectors.Connector.
func (c *Connector) Checkpoint(ctx context.Context, stream string) (abi.StreamID, error) {
	ms, seq, found, err := c.s.checkpoint(ctx, c.checkpointSelect(), stream)
	if err != nil {
		return abi.StreamID{}, fmt.Errorf("checkpoint %q: %w", stream, err)
	}
	if !found {
		return abi.StreamID{}, nil
	}
	return abi.StreamID{Ms: uint64(ms), Seq: uint64(seq)}, nil
}

// now returns the client clock in microseconds, strictly increasing.
func (c *Connector) now() int64 {
	for {
		last := c.lastNow.Load()
		t := max(time.Now().UnixMicro(), last+1)
		if c.lastNow.CompareAndSwap(last, t) {
			return t
		}
	}
}

// Apply implements connectors.Connector: every op gets the timestamp of
// cp.ID, or of the client clock when cp is empty.
func (c *Connector) Apply(ctx context.Context, ops []abi.RowOp, cp connectors.Checkpoint) error {
	ts := make([]int64, len(ops))
	t := c.now()
	if cp.Stream != "" {
		t = Timestamp(cp.ID)
	}
	for i := range ts {
		ts[i] = t
	}
	return c.apply(ctx, ops, ts, cp)
}

// ApplyStamped implements connectors.Stamped: ops[i] is written with the timestamp of
// ids[i].
func (c *Connector) ApplyStamped(ctx context.Context, ops []abi.RowOp, ids []abi.StreamID, cp connectors.Checkpoint) error {
	if len(ids) != len(ops) {
		return &connectors.BatchError{Index: -1, Permanent: true, Err: fmt.Errorf("%d stream IDs for %d ops", len(ids), len(ops))}
	}
	ts := make([]int64, len(ops))
	for i, id := range ids {
		ts[i] = Timestamp(id)
	}
	return c.apply(ctx, ops, ts, cp)
}

// partition is the statements of one partition, in order.
type partition struct {
	stmts []stmt
}

func (c *Connector) apply(ctx context.Context, ops []abi.RowOp, ts []int64, cp connectors.Checkpoint) error {
	if err := ctx.Err(); err != nil {
		return &connectors.BatchError{Index: -1, Err: err}
	}
	parts, err := c.plan(ctx, ops, ts)
	if err != nil {
		return err
	}
	if err := c.run(ctx, parts); err != nil {
		return err
	}
	if cp.Stream == "" {
		return nil
	}
	st := stmt{
		CQL:  "INSERT INTO " + quote(c.ks) + ".cogs_checkpoints (stream, ms, seq) VALUES (?, ?, ?) USING TIMESTAMP ?",
		Kind: stmtCheckpoint, Table: "cogs_checkpoints", Names: []string{"stream", "ms", "seq"},
		Values: []any{cp.Stream, int64(cp.ID.Ms), int64(cp.ID.Seq)}, TS: Timestamp(cp.ID), op: -1,
	}
	st.Args = append(append([]any(nil), st.Values...), st.TS)
	if err := c.s.exec(ctx, []stmt{st}); err != nil {
		return &connectors.BatchError{Index: -1, Permanent: Permanent(err), Err: fmt.Errorf("checkpoint: %w", err)}
	}
	return nil
}

// maxPartitionStmts bounds the statements of one batch; a larger
// partition goes in several batches (their order does not matter: the
// timestamps decide).
const maxPartitionStmts = 200

// plan folds the ops of each row and groups the statements by partition,
// in order of first appearance.
func (c *Connector) plan(ctx context.Context, ops []abi.RowOp, ts []int64) ([]partition, error) {
	type rowRun struct {
		part    int
		table   string
		keys    []abi.Column
		ts      int64
		first   int // op index of the run's first op
		del     bool
		cols    []abi.Column // columns written after the last delete
		written bool         // an upsert came after the last delete
	}
	var parts []partition
	partIdx := map[string]int{}
	var runs []*rowRun
	open := map[string]*rowRun{} // row -> its current run
	var buf []byte
	for i := range ops {
		op := &ops[i]
		if err := validate(op); err != nil {
			return nil, &connectors.BatchError{Index: i, Permanent: true, Err: err}
		}
		pk, err := c.partitionKey(ctx, op.Table)
		if err != nil {
			return nil, &connectors.BatchError{Index: i, Permanent: Permanent(err), Err: err}
		}
		if pk == nil {
			return nil, &connectors.BatchError{Index: i, Permanent: true, Err: fmt.Errorf("table %q does not exist in keyspace %q", op.Table, c.ks)}
		}
		buf = appendID(buf[:0], op.Table)
		for _, name := range pk {
			v, ok := keyValue(op, name)
			if !ok {
				return nil, &connectors.BatchError{Index: i, Permanent: true, Err: fmt.Errorf("table %q: partition key column %q missing from the op's keys", op.Table, name)}
			}
			buf = appendValue(buf, v)
		}
		pkey := string(buf)
		p, ok := partIdx[pkey]
		if !ok {
			p = len(parts)
			partIdx[pkey] = p
			parts = append(parts, partition{})
		}
		buf = appendID(buf, "")
		for _, k := range sortedKeys(op.Keys) {
			buf = appendID(buf, k.Name)
			buf = appendValue(buf, k.Value)
		}
		row := string(buf)
		r := open[row]
		if r == nil || r.ts != ts[i] {
			r = &rowRun{part: p, table: op.Table, keys: op.Keys, ts: ts[i], first: i}
			open[row] = r
			runs = append(runs, r)
		}
		if op.Op == abi.RowDelete {
			r.del, r.cols, r.written = true, nil, false
			continue
		}
		r.written = true
		for _, col := range op.Cols {
			j := 0
			for j < len(r.cols) && r.cols[j].Name != col.Name {
				j++
			}
			if j < len(r.cols) {
				r.cols[j].Value = col.Value
			} else {
				r.cols = append(r.cols, col)
			}
		}
	}
	for _, r := range runs {
		p := &parts[r.part]
		if r.del {
			dts := r.ts
			if r.written {
				dts = r.ts - 1
			}
			p.stmts = append(p.stmts, c.deleteStmt(r.table, r.keys, dts, r.first))
		}
		if r.written {
			p.stmts = append(p.stmts, c.insertStmt(r.table, r.keys, r.cols, r.ts, r.first))
		}
	}
	return parts, nil
}

func (c *Connector) insertStmt(table string, keys, cols []abi.Column, ts int64, op int) stmt {
	var b strings.Builder
	b.WriteString("INSERT INTO " + quote(c.ks) + "." + quote(table) + " (")
	st := stmt{Kind: stmtInsert, Table: table, TS: ts, op: op}
	n := 0
	for _, cs := range [][]abi.Column{keys, cols} {
		for _, col := range cs {
			if n > 0 {
				b.WriteString(", ")
			}
			n++
			b.WriteString(quote(col.Name))
			st.Names = append(st.Names, col.Name)
			st.Values = append(st.Values, connectors.Arg(col.Value))
		}
	}
	b.WriteString(") VALUES (")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('?')
	}
	b.WriteString(") USING TIMESTAMP ?")
	st.CQL = b.String()
	st.Args = append(append(make([]any, 0, n+1), st.Values...), ts)
	return st
}

func (c *Connector) deleteStmt(table string, keys []abi.Column, ts int64, op int) stmt {
	var b strings.Builder
	b.WriteString("DELETE FROM " + quote(c.ks) + "." + quote(table) + " USING TIMESTAMP ? WHERE ")
	st := stmt{Kind: stmtDelete, Table: table, TS: ts, op: op, Args: []any{ts}}
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" AND ")
		}
		b.WriteString(quote(k.Name) + " = ?")
		st.Names = append(st.Names, k.Name)
		st.Values = append(st.Values, connectors.Arg(k.Value))
	}
	st.Args = append(st.Args, st.Values...)
	st.CQL = b.String()
	return st
}

// run executes the partitions' batches, at most concurrency at a time.
// The error names the smallest op index among permanent failures, else a
// transient failure.
func (c *Connector) run(ctx context.Context, parts []partition) error {
	type job struct{ stmts []stmt }
	var jobs []job
	for _, p := range parts {
		for len(p.stmts) > 0 {
			n := min(len(p.stmts), maxPartitionStmts)
			jobs = append(jobs, job{p.stmts[:n]})
			p.stmts = p.stmts[n:]
		}
	}
	var (
		mu    sync.Mutex
		worst *connectors.BatchError
	)
	report := func(e *connectors.BatchError) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case worst == nil:
			worst = e
		case e.Permanent && !worst.Permanent:
			worst = e
		case e.Permanent == worst.Permanent && e.Index >= 0 && (worst.Index < 0 || e.Index < worst.Index):
			worst = e
		}
	}
	next := make(chan job)
	var wg sync.WaitGroup
	for w := 0; w < min(c.concurrency, len(jobs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				if e := c.execJob(ctx, j.stmts); e != nil {
					report(e)
				}
			}
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	if worst != nil {
		return worst
	}
	return nil
}

// execJob runs one partition batch; when it fails for good and holds
// several statements, they are run one by one (harmless: same timestamps)
// to name the failing op.
func (c *Connector) execJob(ctx context.Context, stmts []stmt) *connectors.BatchError {
	err := c.s.exec(ctx, stmts)
	if err == nil {
		return nil
	}
	perm := Permanent(err)
	if !perm {
		return &connectors.BatchError{Index: -1, Err: err}
	}
	if len(stmts) == 1 {
		return &connectors.BatchError{Index: stmts[0].op, Permanent: true, Err: err}
	}
	for _, st := range stmts {
		if serr := c.s.exec(ctx, []stmt{st}); serr != nil {
			return &connectors.BatchError{Index: st.op, Permanent: Permanent(serr), Err: serr}
		}
	}
	return &connectors.BatchError{Index: -1, Permanent: true, Err: err}
}

func (c *Connector) partitionKey(ctx context.Context, table string) ([]string, error) {
	c.mu.Lock()
	pk, ok := c.pkey[table]
	c.mu.Unlock()
	if ok {
		return pk, nil
	}
	pk, err := c.s.partitionKey(ctx, c.ks, table)
	if err != nil || pk == nil {
		return pk, err
	}
	c.mu.Lock()
	c.pkey[table] = pk
	c.mu.Unlock()
	return pk, nil
}

func keyValue(op *abi.RowOp, name string) (abi.Value, bool) {
	for _, k := range op.Keys {
		if k.Name == name {
			return k.Value, true
		}
	}
	return abi.Value{}, false
}

func sortedKeys(keys []abi.Column) []abi.Column {
	s := append([]abi.Column(nil), keys...)
	sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
	return s
}

func appendID(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

func appendValue(b []byte, v abi.Value) []byte {
	b = append(b, byte(v.Kind()))
	switch v.Kind() {
	case abi.KindString, abi.KindBytes:
		return appendID(b, v.Str())
	case abi.KindInt:
		return strconv.AppendInt(b, v.Int(), 10)
	case abi.KindFloat:
		return strconv.AppendUint(b, math.Float64bits(v.Float()), 16)
	case abi.KindBool:
		return strconv.AppendBool(b, v.Bool())
	}
	return b
}

// Permanent reports whether err will recur on retry: syntax, invalid
// request (unknown table or column, bad type), unauthorized, configuration
// and marshalling errors are permanent; unavailable, overloaded,
// bootstrapping, timeouts, read/write failures, connection errors and
// cancelled contexts are transient.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var me gocql.MarshalError
	if errors.As(err, &me) {
		return true
	}
	var re gocql.RequestError
	if errors.As(err, &re) {
		switch re.Code() {
		case gocql.ErrCodeSyntax, gocql.ErrCodeInvalid, gocql.ErrCodeUnauthorized, gocql.ErrCodeConfig,
			gocql.ErrCodeAlreadyExists, gocql.ErrCodeFunctionFailure, gocql.ErrCodeProtocol, gocql.ErrCodeCredentials:
			return true
		}
		return false
	}
	// Connection errors, timeouts and other client-side failures.
	return false
}

func validate(op *abi.RowOp) error {
	if err := connectors.ValidateOp(op); err != nil {
		return err
	}
	return connectors.ValidateKeys(op)
}

// gocqlSession is the session over a real cluster.
type gocqlSession struct {
	s    *gocql.Session
	cons gocql.Consistency
}

func (g *gocqlSession) exec(ctx context.Context, stmts []stmt) error {
	if len(stmts) == 1 {
		return g.s.Query(stmts[0].CQL, stmts[0].Args...).WithContext(ctx).Consistency(g.cons).Idempotent(true).Exec()
	}
	b := g.s.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
	b.Cons = g.cons
	for _, st := range stmts {
		b.Query(st.CQL, st.Args...)
	}
	return g.s.ExecuteBatch(b)
}

func (g *gocqlSession) checkpoint(ctx context.Context, cql, stream string) (int64, int64, bool, error) {
	var ms, seq int64
	err := g.s.Query(cql, stream).WithContext(ctx).Consistency(g.cons).Scan(&ms, &seq)
	if errors.Is(err, gocql.ErrNotFound) {
		return 0, 0, false, nil
	}
	return ms, seq, err == nil, err
}

func (g *gocqlSession) partitionKey(ctx context.Context, ks, table string) ([]string, error) {
	iter := g.s.Query("SELECT column_name, kind, position FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?", ks, table).WithContext(ctx).Iter()
	type col struct {
		name string
		pos  int
	}
	var cols []col
	var name, kind string
	var pos int
	for iter.Scan(&name, &kind, &pos) {
		if kind == "partition_key" {
			cols = append(cols, col{name, pos})
		}
	}
	if err := iter.Close(); err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, nil
	}
	sort.Slice(cols, func(i, j int) bool { return cols[i].pos < cols[j].pos })
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.name
	}
	return out, nil
}

func (g *gocqlSession) close() { g.s.Close() }
