package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
	"github.com/cogs-dev/cogs/connectors/conformance"
	"github.com/cogs-dev/cogs/connectors/postgres"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

var (
	host     = env("COGS_POSTGRES_HOST", "127.0.0.1")
	port     = env("COGS_POSTGRES_PORT", "5432")
	user     = env("COGS_POSTGRES_USER", "postgres")
	password = os.Getenv("COGS_POSTGRES_PASSWORD")
	database = env("COGS_POSTGRES_DATABASE", "test")
)

func dsn(schema string) string {
	s := fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable", host, port, user, database)
	if password != "" {
		s += " password=" + password
	}
	if schema != "" {
		s += " search_path=" + schema
	}
	return s
}

// server skips the test when no server is reachable, unless
// COGS_REQUIRE_INTEGRATION=1.
func server(t testing.TB) {
	t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), time.Second)
	if err == nil {
		c.Close()
		return
	}
	if os.Getenv("COGS_REQUIRE_INTEGRATION") == "1" {
		t.Fatalf("PostgreSQL at %s:%s: %v", host, port, err)
	}
	t.Skipf("PostgreSQL at %s:%s unreachable (set COGS_POSTGRES_HOST): %v", host, port, err)
}

// open creates a schema for the test, dropped in cleanup.
func open(t testing.TB) (connectors.Connector, *sql.DB) { return openBulk(t, "unnest") }

func openBulk(t testing.TB, bulk string) (connectors.Connector, *sql.DB) {
	t.Helper()
	root, err := sql.Open("pgx", dsn(""))
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("cogs_test_%d", time.Now().UnixNano())
	if _, err := root.Exec("CREATE SCHEMA " + schema); err != nil {
		root.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := root.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		root.Close()
	})
	p, _ := strconv.Atoi(port)
	c, err := connectors.Open("postgres", map[string]any{"host": host, "port": p, "user": user, "password": password,
		"database": database, "schema": schema, "sslmode": "disable", "bulk": bulk})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", dsn(schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		c.Close()
	})
	return c, db
}

var target = conformance.Target{
	Open:        func(t *testing.T) (connectors.Connector, *sql.DB) { return open(t) },
	Quote:       postgres.Quote,
	Placeholder: func(n int) string { return "$" + strconv.Itoa(n) },
	Types: conformance.Types{
		Int: "BIGINT", Float: "DOUBLE PRECISION", Key: "VARCHAR(191)", Text: "TEXT", Bytes: "BYTEA", Bool: "BOOLEAN",
	},
	StrictTypes: true,
}

func TestIntegrationConformance(t *testing.T) {
	server(t)
	t.Run("unnest", func(t *testing.T) { conformance.Run(t, target) })
	t.Run("values", func(t *testing.T) {
		tg := target
		tg.Open = func(t *testing.T) (connectors.Connector, *sql.DB) { return openBulk(t, "values") }
		conformance.Run(t, tg)
	})
}

func TestPermanent(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "23505"}, true},
		{&pgconn.PgError{Code: "22P02"}, true},
		{&pgconn.PgError{Code: "42P01"}, true},
		{&pgconn.PgError{Code: "40001"}, false},
		{&pgconn.PgError{Code: "40P01"}, false},
		{fmt.Errorf("exec: %w", &pgconn.PgError{Code: "08006"}), false},
		{&pgconn.PgError{Code: "57P01"}, false},
		{context.DeadlineExceeded, false},
		{&net.OpError{Op: "read", Err: errors.New("connection reset")}, false},
		{errors.New("failed to encode args[1]: unable to encode"), true},
	} {
		if got := postgres.Permanent(tc.err); got != tc.want {
			t.Errorf("Permanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestOptions(t *testing.T) {
	_, err := connectors.Open("postgres", map[string]any{"database": "x", "dbname": "y"})
	if err == nil || !strings.Contains(err.Error(), `unknown option "dbname"`) {
		t.Errorf("Open with unknown option = %v", err)
	}
	_, err = connectors.Open("postgres", map[string]any{"database": "x", "bulk": "copy"})
	if err == nil || !strings.Contains(err.Error(), `option "bulk"`) {
		t.Errorf("Open with bad bulk = %v", err)
	}
}

// TestIntegrationDroppedConnection terminates the connector's backend while
// a batch is being applied: the batch fails as transient with nothing
// applied, and the retry goes through on a new connection.
func TestIntegrationDroppedConnection(t *testing.T) {
	server(t)
	c, db := open(t)
	if _, err := db.Exec("CREATE TABLE drop_t (id BIGINT PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	var ops []abi.RowOp
	for i := int64(0); i < 50000; i++ {
		ops = append(ops, abi.RowOp{Op: abi.RowUpsert, Table: "drop_t",
			Keys: []abi.Column{{Name: "id", Value: abi.Int(i)}},
			Cols: []abi.Column{{Name: "v", Value: abi.String(strings.Repeat("x", 90))}}})
	}
	ctx := context.Background()
	done := make(chan struct{})
	killed := make(chan bool, 1)
	go func() {
		for {
			select {
			case <-done:
				killed <- false
				return
			default:
			}
			var ok bool
			err := db.QueryRow(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'INSERT INTO "drop_t"%' AND pid <> pg_backend_pid() LIMIT 1`).Scan(&ok)
			if err == nil && ok {
				killed <- true
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	err := c.Apply(ctx, ops, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 1}})
	close(done)
	if !<-killed || err == nil {
		// The kill came too late: the batch must then be whole.
		var n int
		if err == nil {
			if qerr := db.QueryRow("SELECT COUNT(*) FROM drop_t").Scan(&n); qerr != nil || n != len(ops) {
				t.Fatalf("apply succeeded but %d rows, %v; want %d", n, qerr, len(ops))
			}
		}
		t.Skipf("the batch finished before the connection could be killed (err %v)", err)
	}
	if err == nil || connectors.IsPermanent(err) {
		t.Fatalf("apply with a killed connection = %v, want a transient error", err)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM drop_t").Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows after failed batch = %d, %v; want 0", n, err)
	}
	if err := c.Apply(ctx, ops, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 1}}); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM drop_t").Scan(&n); err != nil || n != len(ops) {
		t.Fatalf("rows after retry = %d, %v; want %d", n, err, len(ops))
	}
}

func BenchmarkIntegrationApply(b *testing.B) {
	server(b)
	for _, n := range []int{100, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			c, db := open(b)
			conformance.BenchApply(b, c, db, target, n)
		})
	}
}
