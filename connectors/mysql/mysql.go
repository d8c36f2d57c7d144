// Package mysql is the MySQL and MariaDB connector (go-sql-driver/mysql).
// It registers itself as "mysql".
//
// Options:
//
//	address          host:port (default 127.0.0.1:3306)
//	user             (default root)
//	password         (default none; use ${env:NAME} or ${file:/path})
//	database         (required)
//	max_connections  connections in the pool (default 4)
//
// Upserts are multi-row INSERT ... ON DUPLICATE KEY UPDATE col = VALUES(col)
// (understood by both MySQL and MariaDB), prepared once per statement shape
// and batch; the rows of one statement are sorted by key, which keeps
// concurrent writers from deadlocking. Note that ON DUPLICATE KEY fires on
// any unique key of the table, not only the primary key.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/cogs-dev/cogs/connectors"
	"github.com/cogs-dev/cogs/connectors/internal/sqlbatch"
	driver "github.com/go-sql-driver/mysql"
)

func init() {
	connectors.Register("mysql", func(cfg map[string]any) (connectors.Connector, error) {
		return Open(cfg)
	})
}

// Connector writes to one MySQL or MariaDB database.
type Connector struct {
	sqlbatch.Engine
}

var _ connectors.Connector = (*Connector)(nil)

// Quote quotes an identifier: `a“b`.
func Quote(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

// Dialect is MySQL's SQL.
var Dialect = sqlbatch.Dialect{
	Quote:       Quote,
	Placeholder: func(int) string { return "?" },
	MaxParams:   65535,
	MaxRows:     500,
	MaxBytes:    4 << 20,
	UpsertClause: func(keys, cols []string) string {
		var b strings.Builder
		b.WriteString(" ON DUPLICATE KEY UPDATE ")
		if len(cols) == 0 {
			b.WriteString(Quote(keys[0]) + " = " + Quote(keys[0]))
			return b.String()
		}
		for i, c := range cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(Quote(c) + " = VALUES(" + Quote(c) + ")")
		}
		return b.String()
	},
	Permanent:        Permanent,
	CheckpointUpsert: "INSERT INTO cogs_checkpoints (stream, ms, seq) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE ms = VALUES(ms), seq = VALUES(seq)",
	CheckpointSelect: "SELECT ms, seq FROM cogs_checkpoints WHERE stream = ?",
}

// transient are the server errors worth retrying: lock waits, deadlocks,
// shutdowns, lost or refused connections, read-only during a failover.
var transient = map[uint16]bool{
	1040: true,                                     // too many connections
	1053: true,                                     // server shutdown in progress
	1152: true,                                     // aborted connection
	1158: true, 1159: true, 1160: true, 1161: true, // network read/write errors
	1205: true, // lock wait timeout
	1213: true, // deadlock
	1290: true, // --read-only
	1317: true, // query interrupted
	1836: true, // read-only mode
	1927: true, // connection killed (MariaDB)
	2006: true, // server has gone away
	2013: true, // lost connection during query
	4031: true, // disconnected by the server (inactivity)
}

// Permanent reports whether err will recur on retry. Server errors are
// permanent (duplicate key 1062, bad value 1366, data too long 1406,
// foreign key 1452, unknown column 1054, ...) unless listed as transient;
// errors that are not the server's (connection, context) are transient.
func Permanent(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if errors.Is(err, driver.ErrPktTooLarge) {
		return true
	}
	var me *driver.MySQLError
	if errors.As(err, &me) {
		return !transient[me.Number]
	}
	return false
}

// Open opens the connector and creates cogs_checkpoints if needed.
func Open(cfg map[string]any) (*Connector, error) {
	o := connectors.NewOptions(cfg)
	mc := driver.NewConfig()
	mc.Net = "tcp"
	mc.Addr = o.String("address", "127.0.0.1:3306")
	mc.User = o.String("user", "root")
	mc.Passwd = o.String("password", "")
	mc.DBName = o.String("database", "")
	conns := o.Int("max_connections", 4)
	if err := o.Err(); err != nil {
		return nil, err
	}
	if mc.DBName == "" {
		return nil, errors.New(`option "database" is required`)
	}
	if conns < 1 {
		return nil, errors.New(`option "max_connections" must be at least 1`)
	}
	mc.Collation = "utf8mb4_general_ci"
	c, err := driver.NewConnector(mc)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if _, err := db.Exec("CREATE TABLE IF NOT EXISTS cogs_checkpoints (stream VARBINARY(255) NOT NULL PRIMARY KEY, ms BIGINT NOT NULL, seq BIGINT NOT NULL) ENGINE=InnoDB"); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s/%s: %w", mc.Addr, mc.DBName, err)
	}
	d := Dialect
	// Keep statements well under the server's packet limit.
	var packet int
	if err := db.QueryRow("SELECT @@max_allowed_packet").Scan(&packet); err == nil && packet/4 < d.MaxBytes {
		d.MaxBytes = max(packet/4, 1)
	}
	return &Connector{sqlbatch.Engine{DB: db, D: d}}, nil
}
