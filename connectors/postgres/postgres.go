// Package postgres is the PostgreSQL connector (jackc/pgx through
// database/sql). It registers itself as "postgres".
//
// Options:
//
//	host             (default 127.0.0.1)
//	port             (default 5432)
//	user             (default postgres)
//	password         (default none; use ${env:NAME} or ${file:/path})
//	database         (required)
//	schema           schema searched first, where cogs_checkpoints lives (default: the server's search_path)
//	sslmode          disable, prefer, require, verify-ca, verify-full (default prefer)
//	max_connections  connections in the pool (default 4)
//	bulk             unnest (default) or values
//
// Upserts are INSERT ... ON CONFLICT (keys) DO UPDATE SET col = EXCLUDED.col
// through pgx's statement cache. With bulk "unnest" each group of rows
// binds one array per column (INSERT ... SELECT * FROM unnest($1::bigint[],
// ...), DELETE ... WHERE k = ANY($1::bigint[])), typed from the table's
// catalog, looked up once per table and forgotten when a batch fails; about
// twice as fast as bulk "values", multi-row VALUES lists. The key columns
// must carry a primary key or unique constraint.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
	"github.com/cogs-dev/cogs/connectors/internal/sqlbatch"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

func init() {
	connectors.Register("postgres", func(cfg map[string]any) (connectors.Connector, error) {
		return Open(cfg)
	})
}

// Connector writes to one PostgreSQL database.
type Connector struct {
	sqlbatch.Engine

	mu    sync.Mutex
	types map[string]map[string]string // table -> column -> array type
}

// Apply implements connectors.Connector.
func (c *Connector) Apply(ctx context.Context, ops []abi.RowOp, cp connectors.Checkpoint) error {
	err := c.Engine.Apply(ctx, ops, cp)
	if err != nil {
		// The failure may come from a changed table: look its types up again.
		c.mu.Lock()
		clear(c.types)
		c.mu.Unlock()
	}
	return err
}

// arrayTypes returns the array type of each column of table, without type
// modifiers (a cast to varchar(10)[] would truncate silently; the insert
// into the column then checks the length).
func (c *Connector) arrayTypes(ctx context.Context, table string, cols []string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, ok := c.types[table]
	if !ok {
		rows, err := c.DB.QueryContext(ctx, `SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped`, Quote(table))
		if err != nil {
			return nil, fmt.Errorf("table %q: %w", table, err)
		}
		defer rows.Close()
		m = map[string]string{}
		for rows.Next() {
			var name, typ string
			if err := rows.Scan(&name, &typ); err != nil {
				return nil, fmt.Errorf("table %q: %w", table, err)
			}
			m[name] = typ + "[]"
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("table %q: %w", table, err)
		}
		c.types[table] = m
	}
	out := make([]string, len(cols))
	for i, col := range cols {
		t, ok := m[col]
		if !ok {
			return nil, &pgconn.PgError{Code: "42703", Message: fmt.Sprintf("column %q of relation %q does not exist", col, table)}
		}
		out[i] = t
	}
	return out, nil
}

var _ connectors.Connector = (*Connector)(nil)

// Quote quotes an identifier: "a""b".
func Quote(name string) string { return sqlbatch.QuoteDouble(name) }

// Dialect is PostgreSQL's SQL.
var Dialect = sqlbatch.Dialect{
	Quote:                  Quote,
	Placeholder:            func(n int) string { return fmt.Sprintf("$%d", n) },
	MaxParams:              65535,
	MaxRows:                500,
	MaxBytes:               4 << 20,
	DriverCachesStatements: true,
	UpsertClause:           sqlbatch.OnConflict,
	Permanent:              Permanent,
	CheckpointUpsert:       "INSERT INTO cogs_checkpoints (stream, ms, seq) VALUES ($1, $2, $3) ON CONFLICT (stream) DO UPDATE SET ms = EXCLUDED.ms, seq = EXCLUDED.seq",
	CheckpointSelect:       "SELECT ms, seq FROM cogs_checkpoints WHERE stream = $1",
}

// Permanent reports whether err will recur on retry. Server errors are
// permanent (class 23 constraints, 22 data, 42 schema, ...) except
// serialization failures (40001), deadlocks (40P01), lock timeouts (55P03)
// and the connection, resource, intervention and system classes (08, 53,
// 57, 58). A value pgx cannot encode for its column is permanent; other
// client-side errors (connection, context) are transient.
func Permanent(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", "40P01", "55P03":
			return false
		}
		switch pe.Code[:2] {
		case "08", "53", "57", "58":
			return false
		}
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) || pgconn.SafeToRetry(err) {
		return false
	}
	return strings.Contains(err.Error(), "failed to encode")
}

func quoteValue(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `'`, `\'`) + "'"
}

// Open opens the connector and creates cogs_checkpoints if needed.
func Open(cfg map[string]any) (*Connector, error) {
	o := connectors.NewOptions(cfg)
	host := o.String("host", "127.0.0.1")
	port := o.Int("port", 5432)
	user := o.String("user", "postgres")
	password := o.String("password", "")
	database := o.String("database", "")
	schema := o.String("schema", "")
	sslmode := o.String("sslmode", "prefer")
	conns := o.Int("max_connections", 4)
	bulk := o.String("bulk", "unnest")
	if err := o.Err(); err != nil {
		return nil, err
	}
	if database == "" {
		return nil, errors.New(`option "database" is required`)
	}
	if bulk != "unnest" && bulk != "values" {
		return nil, fmt.Errorf(`option "bulk": want unnest or values, got %q`, bulk)
	}
	if conns < 1 {
		return nil, errors.New(`option "max_connections" must be at least 1`)
	}
	cc, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=%s",
		quoteValue(host), port, quoteValue(user), quoteValue(password), quoteValue(database), quoteValue(sslmode)))
	if err != nil {
		return nil, err
	}
	if schema != "" {
		cc.RuntimeParams["search_path"] = Quote(schema)
	}
	db := stdlib.OpenDB(*cc)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if _, err := db.Exec("CREATE TABLE IF NOT EXISTS cogs_checkpoints (stream TEXT PRIMARY KEY, ms BIGINT NOT NULL, seq BIGINT NOT NULL)"); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s:%d/%s: %w", host, port, database, err)
	}
	c := &Connector{Engine: sqlbatch.Engine{DB: db, D: Dialect}, types: map[string]map[string]string{}}
	if bulk == "unnest" {
		c.D.ArrayTypes = c.arrayTypes
		c.D.ArrayMaxRows = 5000
	}
	return c, nil
}
