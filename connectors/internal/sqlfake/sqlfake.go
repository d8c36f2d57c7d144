// Package sqlfake is a fake database/sql driver for connector tests: it
// records what a connector asks of it (prepare, begin, exec with its
// arguments, commit, rollback) and fails the calls a test chooses, so that
// the exact statements, parameters and transaction boundaries of a batch
// can be checked without a server.
package sqlfake

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

func init() { sql.Register("cogsfake", Driver{}) }

var fakes sync.Map // dsn -> *DB

// DB is one fake database: what was asked of it, and how it answers.
type DB struct {
	mu  sync.Mutex
	log []string
	// Fail, when set, is asked before every begin, exec, query and
	// commit (query is empty for begin and commit); an error fails it.
	Fail func(call, query string, args []driver.NamedValue) error
	// Checkpoints answers queries: stream -> (ms, seq).
	Checkpoints map[string][2]int64
	// format renders an argument in the log.
	format func(any) string
}

// Open returns a database handle with one connection on a new fake;
// format renders an argument in the log.
func Open(t *testing.T, format func(any) string) (*sql.DB, *DB) {
	t.Helper()
	f := &DB{Checkpoints: map[string][2]int64{}, format: format}
	fakes.Store(t.Name(), f)
	db, err := sql.Open("cogsfake", t.Name())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() {
		db.Close()
		fakes.Delete(t.Name())
	})
	return db, f
}

func (f *DB) record(call, query string, args []driver.NamedValue) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	line := call
	if query != "" {
		line += ": " + query
	}
	if len(args) > 0 {
		parts := make([]string, len(args))
		for i, a := range args {
			parts[i] = f.format(a.Value)
		}
		line += " | " + strings.Join(parts, ", ")
	}
	f.log = append(f.log, line)
	if f.Fail != nil && call != "prepare" && call != "rollback" {
		return f.Fail(call, query, args)
	}
	return nil
}

// Take returns the log so far and clears it.
func (f *DB) Take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.log
	f.log = nil
	return l
}

// Driver is the fake driver; Open(dsn) opens a connection to the fake
// registered for the test named dsn.
type Driver struct{}

func (Driver) Open(dsn string) (driver.Conn, error) {
	f, ok := fakes.Load(dsn)
	if !ok {
		return nil, fmt.Errorf("no fake database %q", dsn)
	}
	return &fakeConn{db: f.(*DB)}, nil
}

type fakeConn struct{ db *DB }

var (
	_ driver.ExecerContext     = (*fakeConn)(nil)
	_ driver.QueryerContext    = (*fakeConn)(nil)
	_ driver.ConnBeginTx       = (*fakeConn)(nil)
	_ driver.NamedValueChecker = (*fakeConn)(nil)
)

func (c *fakeConn) Prepare(query string) (driver.Stmt, error) {
	if err := c.db.record("prepare", query, nil); err != nil {
		return nil, err
	}
	return &fakeStmt{c: c, query: query}, nil
}

func (c *fakeConn) Close() error { return nil }

func (c *fakeConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *fakeConn) BeginTx(context.Context, driver.TxOptions) (driver.Tx, error) {
	if err := c.db.record("begin", "", nil); err != nil {
		return nil, err
	}
	return fakeTx{c}, nil
}

// CheckNamedValue accepts every argument as it is, as go-ora and
// go-mssqldb do for the types the connectors bind.
func (c *fakeConn) CheckNamedValue(*driver.NamedValue) error { return nil }

func (c *fakeConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := c.db.record("exec", query, args); err != nil {
		return nil, err
	}
	return driver.RowsAffected(1), nil
}

func (c *fakeConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if err := c.db.record("query", query, args); err != nil {
		return nil, err
	}
	r := &fakeRows{}
	if len(args) == 1 {
		if s, ok := args[0].Value.(string); ok {
			c.db.mu.Lock()
			if cp, ok := c.db.Checkpoints[s]; ok {
				r.rows = [][]driver.Value{{cp[0], cp[1]}}
			}
			c.db.mu.Unlock()
		}
	}
	return r, nil
}

type fakeTx struct{ c *fakeConn }

func (t fakeTx) Commit() error   { return t.c.db.record("commit", "", nil) }
func (t fakeTx) Rollback() error { return t.c.db.record("rollback", "", nil) }

type fakeStmt struct {
	c     *fakeConn
	query string
}

func (s *fakeStmt) Close() error  { return nil }
func (s *fakeStmt) NumInput() int { return -1 }
func (s *fakeStmt) Exec(args []driver.Value) (driver.Result, error) {
	return nil, driver.ErrSkip
}
func (s *fakeStmt) Query(args []driver.Value) (driver.Rows, error) {
	return nil, driver.ErrSkip
}
func (s *fakeStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.c.ExecContext(ctx, s.query, args)
}
func (s *fakeStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.QueryContext(ctx, s.query, args)
}

type fakeRows struct {
	rows [][]driver.Value
}

func (r *fakeRows) Columns() []string { return []string{"ms", "seq"} }
func (r *fakeRows) Close() error      { return nil }
func (r *fakeRows) Next(dest []driver.Value) error {
	if len(r.rows) == 0 {
		return io.EOF
	}
	copy(dest, r.rows[0])
	r.rows = r.rows[1:]
	return nil
}
