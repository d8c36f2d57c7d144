// Package sqlserver is the Microsoft SQL Server and Azure SQL connector
// (microsoft/go-mssqldb). It registers itself as "sqlserver".
//
// Options:
//
//	url                       a go-mssqldb URL, sqlserver://user:password@host:port?database=db&...
//	                          (instead of host, port, database, user, password, encrypt and
//	                          trust_server_certificate)
//	host                      (default 127.0.0.1)
//	port                      (default 1433)
//	database                  (required without url)
//	user                      (required without url)
//	password                  (default none; use ${env:NAME} or ${file:/path})
//	encrypt                   disable, false, true or strict (default false: only the login is encrypted)
//	trust_server_certificate  false or true (default false)
//	schema                    schema of the tables and of cogs_checkpoints (default: the user's default schema)
//	max_connections           connections in the pool (default 4)
//
// Upserts are MERGE INTO [t] WITH (HOLDLOCK) AS T USING (VALUES (@p1,
// @p2), ...) AS S ([k], [c]) ON T.[k] = S.[k] WHEN MATCHED THEN UPDATE SET
// ... WHEN NOT MATCHED THEN INSERT ...; (HOLDLOCK keeps two concurrent
// upserts of a new key from both inserting). Inserts are INSERT ... SELECT
// ... FROM (VALUES ...), deletes DELETE ... WHERE [k] IN (@p1, ...) or, with
// a composite key, DELETE T FROM [t] AS T JOIN (VALUES ...) AS S ON .... A
// statement binds at most 2,098 parameters (the server's limit of 2,100
// less the two sp_executesql takes) and 500 rows.
//
// Values bind as: int as bigint, float as float (NaN, infinities and
// subnormals are refused), bool as bit, strings as nvarchar (nvarchar(max)
// beyond 4,000 characters), bytes as varbinary, NULL as a NULL of its
// column's type in the statement. SQL Server converts them to the column's
// type (datetime2 and date from ISO 8601 strings).
package sqlserver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/cogs-dev/cogs/connectors"
	"github.com/cogs-dev/cogs/connectors/internal/sqlbatch"
	mssql "github.com/microsoft/go-mssqldb"
)

func init() {
	connectors.Register("sqlserver", func(cfg map[string]any) (connectors.Connector, error) {
		return Open(cfg)
	})
}

// Connector writes to one SQL Server database.
type Connector struct {
	sqlbatch.Engine
}

var _ connectors.Connector = (*Connector)(nil)

// checkpointTable is the name of cogs_checkpoints in schema.
func checkpointTable(schema string) string {
	if schema == "" {
		return "cogs_checkpoints"
	}
	return Quote(schema) + ".cogs_checkpoints"
}

// createCheckpoints creates cogs_checkpoints unless it exists (error 2714:
// another host created it first).
func createCheckpoints(schema string) string {
	t := checkpointTable(schema)
	return "IF OBJECT_ID(N'" + strings.ReplaceAll(t, "'", "''") + "', N'U') IS NULL BEGIN BEGIN TRY CREATE TABLE " + t +
		" (stream NVARCHAR(450) NOT NULL PRIMARY KEY, ms BIGINT NOT NULL, seq BIGINT NOT NULL); END TRY BEGIN CATCH IF ERROR_NUMBER() <> 2714 THROW; END CATCH END"
}

// dialect is SQL Server's SQL for sqlbatch, building statements with b.
func dialect(b builder) sqlbatch.Dialect {
	t := checkpointTable(b.schema)
	return sqlbatch.Dialect{
		Quote:            Quote,
		Placeholder:      func(n int) string { return "@p" + strconv.Itoa(n) },
		MaxParams:        maxParams,
		MaxRows:          maxRows,
		MaxBytes:         maxBytes,
		Statements:       b.statements,
		Permanent:        Permanent,
		CheckpointUpsert: "MERGE INTO " + t + " WITH (HOLDLOCK) AS C USING (VALUES (@p1, @p2, @p3)) AS S (stream, ms, seq) ON C.stream = S.stream WHEN MATCHED THEN UPDATE SET C.ms = S.ms, C.seq = S.seq WHEN NOT MATCHED THEN INSERT (stream, ms, seq) VALUES (S.stream, S.ms, S.seq);",
		CheckpointSelect: "SELECT ms, seq FROM " + t + " WHERE stream = @p1",
	}
}

// transient are the server errors worth retrying: deadlocks, lock and
// memory waits, snapshot conflicts, a database starting, failing over or
// read-only during a failover, full logs and filegroups a DBA can grow,
// lost connections and Azure SQL's throttling and reconfiguration.
var transient = map[int32]bool{
	-2:    true, // timeout
	64:    true, // the specified network name is no longer available
	121:   true, // semaphore timeout (transport)
	233:   true, // no process on the other end of the pipe
	701:   true, // insufficient system memory
	802:   true, // insufficient memory in the buffer pool
	845:   true, // time-out waiting for a buffer latch
	976:   true, // availability replica not readable
	983:   true, // availability database not accessible
	1105:  true, // filegroup full
	1204:  true, // out of lock resources
	1205:  true, // deadlock victim
	1222:  true, // lock request time out
	3906:  true, // database is read-only (failover)
	3960:  true, // snapshot isolation update conflict
	4060:  true, // cannot open database
	4221:  true, // read-only secondary, not yet available
	8628:  true, // time-out waiting to optimize the query
	8645:  true, // time-out waiting for memory
	8651:  true, // low memory
	9002:  true, // transaction log full
	10053: true, // connection aborted
	10054: true, // connection reset
	10060: true, // connection timed out
	10061: true, // connection refused
	10928: true, // Azure: resource limit
	10929: true, // Azure: resource limit
	18456: true, // login failed (database starting, or credentials being rotated)
	40143: true, // Azure: the service encountered an error
	40197: true, // Azure: error processing the request (reconfiguration)
	40501: true, // Azure: service busy
	40540: true, // Azure: the service encountered an error
	40613: true, // Azure: database not currently available
	49918: true, // Azure: not enough resources
	49919: true, // Azure: too many operations
	49920: true, // Azure: too many operations
}

// Permanent reports whether err will recur on retry. Server errors are
// permanent (2627 and 2601 duplicate key, 515 NULL into NOT NULL, 8152 and
// 2628 truncation, 245 and 8114 conversion, 547 constraint, 208 no such
// table, 207 no such column, ...) unless listed as transient or of
// severity 20 and up (fatal: the connection is closed); errors that are
// not the server's (connection, context) are transient. Of the errors one
// request returned, any transient one makes the failure transient.
func Permanent(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn) {
		return false
	}
	var se mssql.ServerError
	if errors.As(err, &se) {
		// A fatal error: the server closed the connection.
		return false
	}
	var me mssql.Error
	if errors.As(err, &me) {
		// The driver reports the last error of a request and keeps all
		// of them in All: any transient one makes the failure transient.
		all := me.All
		if len(all) == 0 {
			all = []mssql.Error{me}
		}
		for _, e := range all {
			if transient[e.Number] || e.Class >= 20 {
				return false
			}
		}
		return true
	}
	// Values are checked before they are sent, so what remains is the
	// network's (io.EOF, net.Error, a broken TDS stream): transient.
	return false
}

type config struct {
	dsn    string
	schema string
	conns  int
}

func parseConfig(cfg map[string]any) (config, error) {
	o := connectors.NewOptions(cfg)
	dsn := o.String("url", "")
	host := o.String("host", "127.0.0.1")
	port := o.Int("port", 1433)
	database := o.String("database", "")
	user := o.String("user", "")
	password := o.String("password", "")
	encrypt := o.String("encrypt", "false")
	trust := o.String("trust_server_certificate", "false")
	schema := o.String("schema", "")
	conns := o.Int("max_connections", 4)
	if err := o.Err(); err != nil {
		return config{}, err
	}
	if dsn != "" {
		for _, k := range []string{"host", "port", "database", "user", "password", "encrypt", "trust_server_certificate"} {
			if _, ok := cfg[k]; ok {
				return config{}, fmt.Errorf(`option %q: not allowed with "url"`, k)
			}
		}
	} else {
		if database == "" {
			return config{}, errors.New(`option "database" is required (or "url")`)
		}
		if user == "" {
			return config{}, errors.New(`option "user" is required (or "url")`)
		}
		switch encrypt {
		case "disable", "false", "true", "strict":
		default:
			return config{}, fmt.Errorf(`option "encrypt": want disable, false, true or strict, got %q`, encrypt)
		}
		if trust != "false" && trust != "true" {
			return config{}, fmt.Errorf(`option "trust_server_certificate": want false or true, got %q`, trust)
		}
		q := url.Values{}
		q.Set("database", database)
		q.Set("encrypt", encrypt)
		q.Set("TrustServerCertificate", trust)
		q.Set("app name", "cogs")
		u := url.URL{Scheme: "sqlserver", User: url.UserPassword(user, password), Host: net.JoinHostPort(host, strconv.Itoa(port)), RawQuery: q.Encode()}
		dsn = u.String()
	}
	if err := checkName(schema); err != nil {
		return config{}, fmt.Errorf(`option "schema": %w`, err)
	}
	if conns < 1 {
		return config{}, errors.New(`option "max_connections" must be at least 1`)
	}
	return config{dsn: dsn, schema: schema, conns: conns}, nil
}

// Open opens the connector and creates cogs_checkpoints if needed.
func Open(cfg map[string]any) (*Connector, error) {
	c, err := parseConfig(cfg)
	if err != nil {
		return nil, err
	}
	mc, err := mssql.NewConnector(c.dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", redact(c.dsn), err)
	}
	db := sql.OpenDB(mc)
	db.SetMaxOpenConns(c.conns)
	db.SetMaxIdleConns(c.conns)
	if _, err := db.Exec(createCheckpoints(c.schema)); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", redact(c.dsn), err)
	}
	return newConnector(db, builder{schema: c.schema}), nil
}

func newConnector(db *sql.DB, b builder) *Connector {
	return &Connector{sqlbatch.Engine{DB: db, D: dialect(b)}}
}

// redact hides the password of a sqlserver:// URL in messages.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return "(connection string hidden)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "***")
	}
	return u.String()
}
