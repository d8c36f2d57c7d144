// Package oracle is the Oracle Database connector (sijms/go-ora, pure Go).
// It registers itself as "oracle".
//
// Options:
//
//	url              a go-ora URL, oracle://user:password@host:port/service?option=value
//	                 (instead of host, port, service, user and password)
//	host             (default 127.0.0.1)
//	port             (default 1521)
//	service          service name (required without url)
//	user             (required without url)
//	password         (default none; use ${env:NAME} or ${file:/path})
//	schema           schema the tables and cogs_checkpoints live in (default: the user's;
//	                 folded to upper case with identifiers: upper)
//	identifiers      exact (default): names are quoted as the recipe gives them;
//	                 upper: folded to upper case first, for tables created without quotes
//	max_connections  connections in the pool (default 4)
//
// Each group of upserts is one MERGE INTO t USING (SELECT :1 "k", :2 "c"
// FROM dual) s ON (t."k" = s."k") WHEN MATCHED THEN UPDATE SET ... WHEN
// NOT MATCHED THEN INSERT ..., executed with array binding: one array per
// column, one round trip for up to 1,000 rows, parsed once. Deletes
// (DELETE ... WHERE "k" = :1) and inserts are array-bound the same way.
//
// Values bind as: int, float and bool as NUMBER (bool as 1 or 0; a float
// outside NUMBER's range, NaN or an infinity is refused), strings as
// VARCHAR2 up to 4,000 bytes and as a temporary CLOB beyond, bytes as RAW
// up to 2,000 bytes and as a temporary BLOB beyond, NULL as NULL. Oracle
// converts them to the column's type: NUMBER, BINARY_DOUBLE, VARCHAR2,
// CLOB, RAW, BLOB, and DATE or TIMESTAMP from strings in the session
// formats this connector sets on every connection ('YYYY-MM-DD
// HH24:MI:SS[.FF]', '.' as the decimal separator). Oracle stores an empty
// string as NULL.
package oracle

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
	goora "github.com/sijms/go-ora/v2"
	"github.com/sijms/go-ora/v2/network"
)

func init() {
	connectors.Register("oracle", func(cfg map[string]any) (connectors.Connector, error) {
		return Open(cfg)
	})
}

// Connector writes to one Oracle database.
type Connector struct {
	sqlbatch.Engine
}

var _ connectors.Connector = (*Connector)(nil)

const (
	// createCheckpoints creates cogs_checkpoints unless it exists
	// (ORA-00955: name already used).
	createCheckpoints = `BEGIN EXECUTE IMMEDIATE 'CREATE TABLE cogs_checkpoints (stream VARCHAR2(1000 CHAR) NOT NULL PRIMARY KEY, ms NUMBER(20) NOT NULL, seq NUMBER(20) NOT NULL)'; EXCEPTION WHEN OTHERS THEN IF SQLCODE != -955 THEN RAISE; END IF; END;`
	checkpointUpsert  = `MERGE INTO cogs_checkpoints c USING (SELECT :1 stream, :2 ms, :3 seq FROM dual) s ON (c.stream = s.stream) WHEN MATCHED THEN UPDATE SET c.ms = s.ms, c.seq = s.seq WHEN NOT MATCHED THEN INSERT (stream, ms, seq) VALUES (s.stream, s.ms, s.seq)`
	checkpointSelect  = `SELECT ms, seq FROM cogs_checkpoints WHERE stream = :1`
	// sessionSettings fixes the formats Oracle converts strings with.
	sessionSettings = `ALTER SESSION SET NLS_NUMERIC_CHARACTERS = '.,' NLS_DATE_FORMAT = 'YYYY-MM-DD HH24:MI:SS' NLS_TIMESTAMP_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF' NLS_TIMESTAMP_TZ_FORMAT = 'YYYY-MM-DD HH24:MI:SS.FF TZH:TZM'`
)

// dialect is Oracle's SQL for sqlbatch, building statements with b.
func dialect(b builder) sqlbatch.Dialect {
	return sqlbatch.Dialect{
		Quote:            Quote,
		Placeholder:      func(n int) string { return fmt.Sprintf(":%d", n) },
		Statements:       b.statements,
		Permanent:        Permanent,
		CheckpointUpsert: checkpointUpsert,
		CheckpointSelect: checkpointSelect,
	}
}

// transient are the ORA- errors worth retrying: deadlocks, lock and
// resource waits, serialization failures, lost or refused connections,
// an instance starting or stopping, and space a DBA can add.
var transient = map[int]bool{
	// Maximum sessions, processes exceeded.
	18: true, 20: true,
	28:   true, // session killed
	51:   true, // timeout waiting for a resource
	54:   true, // resource busy (NOWAIT)
	60:   true, // deadlock detected
	1012: true, // not logged on
	1013: true, // user requested cancel (a cancelled context)
	1033: true, // initialization or shutdown in progress
	1034: true, // not available
	1089: true, // immediate shutdown in progress
	1090: true, // shutdown in progress
	1092: true, // instance terminated, disconnection forced
	1555: true, // snapshot too old
	// Unable to extend temp, table, index, partition.
	1652: true, 1653: true, 1654: true, 1688: true,
	2049:  true, // distributed transaction lock timeout
	2396:  true, // exceeded maximum idle time
	3113:  true, // end-of-file on communication channel
	3114:  true, // not connected
	3135:  true, // connection lost contact
	3136:  true, // inbound connection timed out
	4020:  true, // deadlock while trying to lock an object
	4021:  true, // timeout waiting to lock an object
	8176:  true, // consistent read failure, rollback data not available
	8177:  true, // can't serialize access
	12153: true, // not connected (TNS)
	12170: true, // connect timeout
	// Listener: service not (yet) available, no handler, restricted, blocked.
	12514: true, 12516: true, 12518: true, 12519: true, 12520: true, 12521: true, 12526: true, 12527: true, 12528: true,
	12535: true, // operation timed out
	12537: true, // connection closed
	12541: true, // no listener
	12543: true, // destination host unreachable
	12547: true, // lost contact
	12560: true, // protocol adapter error
	12564: true, // connection refused
	12571: true, // packet writer failure
	// Transaction must roll back, can not safely replay call.
	25402: true, 25408: true,
	30006: true, // resource busy, WAIT timeout
	30036: true, // unable to extend undo segment
}

// Permanent reports whether err will recur on retry. ORA- errors are
// permanent (ORA-00001 unique constraint, ORA-01400 NULL into NOT NULL,
// ORA-12899 value too large, ORA-01722 invalid number, ORA-02291 parent
// key not found, ORA-00942 no such table, ORA-00904 invalid identifier,
// ...) unless listed as transient; errors that are not the server's
// (connection, context) are transient.
func Permanent(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, network.ErrConnReset) {
		return false
	}
	var oe *network.OracleError
	if errors.As(err, &oe) {
		return !transient[oe.ErrCode] && !oe.Bad()
	}
	// Values are checked before they are sent, so what remains is the
	// network's (io.EOF, net.Error, ...): transient.
	return false
}

// sessionConnector runs statements on every new connection.
type sessionConnector struct {
	driver.Connector
	init []string
}

func (c sessionConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		conn.Close()
		return nil, errors.New("oracle: the driver's connection cannot execute statements")
	}
	for _, q := range c.init {
		if _, err := ex.ExecContext(ctx, q, nil); err != nil {
			conn.Close()
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	return conn, nil
}

// config is a parsed configuration section.
type config struct {
	dsn   string   // go-ora URL
	init  []string // statements run on every new connection
	upper bool     // identifiers: upper
	conns int
}

func parseConfig(cfg map[string]any) (config, error) {
	o := connectors.NewOptions(cfg)
	dsn := o.String("url", "")
	host := o.String("host", "127.0.0.1")
	port := o.Int("port", 1521)
	service := o.String("service", "")
	user := o.String("user", "")
	password := o.String("password", "")
	schema := o.String("schema", "")
	idents := o.String("identifiers", "exact")
	conns := o.Int("max_connections", 4)
	if err := o.Err(); err != nil {
		return config{}, err
	}
	if dsn != "" {
		for _, k := range []string{"host", "port", "service", "user", "password"} {
			if _, ok := cfg[k]; ok {
				return config{}, fmt.Errorf(`option %q: not allowed with "url"`, k)
			}
		}
	} else {
		if service == "" {
			return config{}, errors.New(`option "service" is required (or "url")`)
		}
		if user == "" {
			return config{}, errors.New(`option "user" is required (or "url")`)
		}
		u := url.URL{Scheme: "oracle", User: url.UserPassword(user, password), Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: "/" + service}
		dsn = u.String()
	}
	if idents != "exact" && idents != "upper" {
		return config{}, fmt.Errorf(`option "identifiers": want exact or upper, got %q`, idents)
	}
	if conns < 1 {
		return config{}, errors.New(`option "max_connections" must be at least 1`)
	}
	c := config{dsn: dsn, init: []string{sessionSettings}, upper: idents == "upper", conns: conns}
	if schema != "" {
		if err := checkName(schema); err != nil {
			return config{}, fmt.Errorf(`option "schema": %w`, err)
		}
		if c.upper {
			schema = strings.ToUpper(schema)
		}
		c.init = append(c.init, "ALTER SESSION SET CURRENT_SCHEMA = "+Quote(schema))
	}
	return c, nil
}

// Open opens the connector and creates cogs_checkpoints if needed.
func Open(cfg map[string]any) (*Connector, error) {
	c, err := parseConfig(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(sessionConnector{Connector: goora.NewConnector(c.dsn), init: c.init})
	db.SetMaxOpenConns(c.conns)
	db.SetMaxIdleConns(c.conns)
	if _, err := db.Exec(createCheckpoints); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", redact(c.dsn), err)
	}
	return newConnector(db, builder{upper: c.upper}), nil
}

func newConnector(db *sql.DB, b builder) *Connector {
	return &Connector{sqlbatch.Engine{DB: db, D: dialect(b)}}
}

// redact hides the password of an oracle:// URL in messages.
func redact(dsn string) string {
	at := strings.LastIndexByte(dsn, '@')
	scheme := strings.Index(dsn, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return dsn
	}
	cred := dsn[scheme+3 : at]
	if c := strings.IndexByte(cred, ':'); c >= 0 {
		cred = cred[:c] + ":***"
	}
	return dsn[:scheme+3] + cred + dsn[at:]
}
