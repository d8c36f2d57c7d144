package mysql_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
	"github.com/cogs-dev/cogs/connectors/conformance"
	"github.com/cogs-dev/cogs/connectors/mysql"
	driver "github.com/go-sql-driver/mysql"
)

func init() {
	// The driver logs lost connections on its own; the tests cause some.
	_ = driver.SetLogger(log.New(io.Discard, "", 0))
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

var (
	addr     = env("COGS_MYSQL_ADDR", "127.0.0.1:3306")
	user     = env("COGS_MYSQL_USER", "root")
	password = os.Getenv("COGS_MYSQL_PASSWORD")
)

func dsn(db string) string {
	c := driver.NewConfig()
	c.Net, c.Addr, c.User, c.Passwd, c.DBName = "tcp", addr, user, password, db
	return c.FormatDSN()
}

// server skips the test when no server is reachable, unless
// COGS_REQUIRE_INTEGRATION=1.
func server(t testing.TB) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		return
	}
	if os.Getenv("COGS_REQUIRE_INTEGRATION") == "1" {
		t.Fatalf("MySQL/MariaDB at %s: %v", addr, err)
	}
	t.Skipf("MySQL/MariaDB at %s unreachable (set COGS_MYSQL_ADDR): %v", addr, err)
}

// open creates a database for the test, dropped in cleanup.
func open(t testing.TB) (connectors.Connector, *sql.DB) {
	t.Helper()
	root, err := sql.Open("mysql", dsn(""))
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("cogs_test_%d", time.Now().UnixNano())
	if _, err := root.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		root.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := root.Exec("DROP DATABASE " + name); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
		root.Close()
	})
	c, err := connectors.Open("mysql", map[string]any{"address": addr, "user": user, "password": password, "database": name})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", dsn(name))
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
	Quote:       mysql.Quote,
	Placeholder: func(int) string { return "?" },
	Types: conformance.Types{
		Int: "BIGINT", Float: "DOUBLE", Key: "VARCHAR(191)", Text: "LONGTEXT", Bytes: "LONGBLOB", Bool: "BOOLEAN",
	},
	StrictTypes: true,
}

func TestIntegrationConformance(t *testing.T) {
	server(t)
	conformance.Run(t, target)
}

func TestPermanent(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&driver.MySQLError{Number: 1062}, true},
		{&driver.MySQLError{Number: 1366}, true},
		{&driver.MySQLError{Number: 1406}, true},
		{&driver.MySQLError{Number: 1452}, true},
		{&driver.MySQLError{Number: 1213}, false},
		{&driver.MySQLError{Number: 1205}, false},
		{fmt.Errorf("exec: %w", &driver.MySQLError{Number: 2013}), false},
		{driver.ErrInvalidConn, false},
		{context.Canceled, false},
		{&net.OpError{Op: "read"}, false},
	} {
		if got := mysql.Permanent(tc.err); got != tc.want {
			t.Errorf("Permanent(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestOptions(t *testing.T) {
	_, err := connectors.Open("mysql", map[string]any{"database": "x", "hostname": "y"})
	if err == nil || !strings.Contains(err.Error(), `unknown option "hostname"`) {
		t.Errorf("Open with unknown option = %v", err)
	}
	_, err = connectors.Open("mysql", map[string]any{})
	if err == nil || !strings.Contains(err.Error(), `"database" is required`) {
		t.Errorf("Open without database = %v", err)
	}
}

// TestIntegrationDroppedConnection kills the connector's connection while a
// batch is being applied: the batch fails as transient with nothing
// applied, and the retry goes through on a new connection.
func TestIntegrationDroppedConnection(t *testing.T) {
	server(t)
	c, db := open(t)
	if _, err := db.Exec("CREATE TABLE drop_t (id BIGINT PRIMARY KEY, v VARCHAR(100))"); err != nil {
		t.Fatal(err)
	}
	var dbname string
	if err := db.QueryRow("SELECT DATABASE()").Scan(&dbname); err != nil {
		t.Fatal(err)
	}
	var ops []abi.RowOp
	for i := int64(0); i < 50000; i++ {
		ops = append(ops, abi.RowOp{Op: abi.RowUpsert, Table: "drop_t",
			Keys: []abi.Column{{Name: "id", Value: abi.Int(i)}},
			Cols: []abi.Column{{Name: "v", Value: abi.String(strings.Repeat("x", 90))}}})
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	var killed bool
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			var id int64
			err := db.QueryRow("SELECT id FROM information_schema.processlist WHERE db = ? AND command = 'Execute' AND info LIKE 'INSERT INTO `drop_t`%' LIMIT 1", dbname).Scan(&id)
			if err == nil {
				if _, err := db.Exec(fmt.Sprintf("KILL %d", id)); err == nil {
					killed = true
					return
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	err := c.Apply(ctx, ops, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 1}})
	close(done)
	wg.Wait()
	if !killed || err == nil {
		// The kill came too late (or hit another connection): the batch
		// must then be whole.
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
	if id, err := c.Checkpoint(ctx, "s"); err != nil || id != (abi.StreamID{}) {
		t.Fatalf("checkpoint after failed batch = %v, %v", id, err)
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
