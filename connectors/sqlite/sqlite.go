// Package sqlite is the SQLite connector (modernc.org/sqlite, pure Go), the
// embedded default target. It registers itself as "sqlite".
//
// Options:
//
//	path             database file (required); created if missing
//	busy_timeout_ms  how long to wait for a lock held by another process (default 5000)
//
// Each batch is one BEGIN IMMEDIATE transaction on a single connection;
// a batch of one statement without checkpoint (a write-through change)
// is that statement alone, which SQLite runs as its own transaction.
package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"

	"github.com/cogs-dev/cogs/connectors"
	"github.com/cogs-dev/cogs/connectors/internal/sqlbatch"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

func init() {
	connectors.Register("sqlite", func(cfg map[string]any) (connectors.Connector, error) {
		return Open(cfg)
	})
}

// Connector writes to one SQLite database file.
type Connector struct {
	sqlbatch.Engine
}

var _ connectors.Connector = (*Connector)(nil)

// Quote quotes an identifier: "a""b".
func Quote(name string) string { return sqlbatch.QuoteDouble(name) }

// Dialect is SQLite's SQL.
var Dialect = sqlbatch.Dialect{
	Quote:            Quote,
	Placeholder:      func(int) string { return "?" },
	MaxParams:        32766,
	MaxRows:          500,
	MaxBytes:         4 << 20,
	TupleInValues:    true,
	UpsertClause:     sqlbatch.OnConflict,
	Permanent:        Permanent,
	CheckpointUpsert: `INSERT INTO cogs_checkpoints (stream, ms, seq) VALUES (?, ?, ?) ON CONFLICT (stream) DO UPDATE SET ms = excluded.ms, seq = excluded.seq`,
	CheckpointSelect: `SELECT ms, seq FROM cogs_checkpoints WHERE stream = ?`,
}

// Permanent reports whether err will recur on retry: constraint, type,
// size and SQL errors are permanent; busy, locked, I/O, full disk and
// anything that is not an SQLite error are transient.
func Permanent(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
		sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_PROTOCOL:
		return false
	}
	return true
}

// Open opens the connector and creates cogs_checkpoints if needed.
func Open(cfg map[string]any) (*Connector, error) {
	o := connectors.NewOptions(cfg)
	path := o.String("path", "")
	busy := o.Int("busy_timeout_ms", 5000)
	if err := o.Err(); err != nil {
		return nil, err
	}
	if path == "" {
		return nil, errors.New(`option "path" is required`)
	}
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_txlock=immediate" +
		fmt.Sprintf("&_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)", busy)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS cogs_checkpoints (stream TEXT PRIMARY KEY, ms INTEGER NOT NULL, seq INTEGER NOT NULL)`); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &Connector{sqlbatch.Engine{DB: db, D: Dialect}}, nil
}
