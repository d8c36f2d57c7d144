package e2e

import (
	"database/sql"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	driver "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/cogs-dev/cogs/host/config"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// target is a database the tests write to through cogs.
type target struct {
	name string
	conn config.Connection // named "mysql": the name the example recipes' triggers use
	db   *sql.DB
	// ph is the placeholder syntax: "?" or "$".
	ph string
}

// tables are the tables of rgsync's example, and the audit recipe's log.
var tables = []string{
	`CREATE TABLE persons (person_id VARCHAR(64) PRIMARY KEY, first VARCHAR(200), last VARCHAR(200), age BIGINT)`,
	`CREATE TABLE cars (car_id VARCHAR(64) PRIMARY KEY, id VARCHAR(64), color VARCHAR(64))`,
	`CREATE TABLE persons_log (change_id VARCHAR(64) PRIMARY KEY, person_id VARCHAR(64))`,
}

func (tg *target) create(t testing.TB) {
	t.Helper()
	for _, q := range tables {
		if _, err := tg.db.Exec(q); err != nil {
			t.Fatalf("%s: %v", tg.name, err)
		}
	}
}

func sqliteTarget(t testing.TB) *target {
	path := filepath.Join(t.TempDir(), "target.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tg := &target{name: "sqlite", db: db, ph: "?",
		conn: config.Connection{Name: "mysql", Type: "sqlite", Options: map[string]any{"path": path}}}
	tg.create(t)
	return tg
}

var (
	mysqlAddr     = env("COGS_MYSQL_ADDR", "127.0.0.1:3306")
	mysqlUser     = env("COGS_MYSQL_USER", "root")
	mysqlPassword = os.Getenv("COGS_MYSQL_PASSWORD")
	pgHost        = env("COGS_POSTGRES_HOST", "127.0.0.1")
	pgPort        = env("COGS_POSTGRES_PORT", "5432")
	pgUser        = env("COGS_POSTGRES_USER", "postgres")
	pgPassword    = os.Getenv("COGS_POSTGRES_PASSWORD")
	pgDatabase    = env("COGS_POSTGRES_DATABASE", "test")
)

// reachable skips the test when addr does not answer, unless
// COGS_REQUIRE_INTEGRATION=1.
func reachable(t testing.TB, what, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		return
	}
	if os.Getenv("COGS_REQUIRE_INTEGRATION") == "1" {
		t.Fatalf("%s at %s: %v", what, addr, err)
	}
	t.Skipf("%s at %s unreachable: %v", what, addr, err)
}

func mysqlDSN(addr, db string) string {
	c := driver.NewConfig()
	c.Net, c.Addr, c.User, c.Passwd, c.DBName = "tcp", addr, mysqlUser, mysqlPassword, db
	return c.FormatDSN()
}

// mariadbTarget creates a database for the test, dropped at its end. The
// connection goes to addr (the server, or a proxy in front of it).
func mariadbTarget(t testing.TB, addr string) *target {
	reachable(t, "MariaDB", mysqlAddr)
	root, err := sql.Open("mysql", mysqlDSN(mysqlAddr, ""))
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("cogs_e2e_%d", time.Now().UnixNano())
	if _, err := root.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		root.Exec("DROP DATABASE " + name)
		root.Close()
	})
	db, err := sql.Open("mysql", mysqlDSN(mysqlAddr, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tg := &target{name: "mariadb", db: db, ph: "?", conn: config.Connection{Name: "mysql", Type: "mysql",
		Options: map[string]any{"address": addr, "user": mysqlUser, "password": mysqlPassword, "database": name}}}
	tg.create(t)
	return tg
}

func postgresTarget(t testing.TB) *target {
	reachable(t, "PostgreSQL", net.JoinHostPort(pgHost, pgPort))
	dsn := func(schema string) string {
		s := fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable", pgHost, pgPort, pgUser, pgDatabase)
		if pgPassword != "" {
			s += " password=" + pgPassword
		}
		if schema != "" {
			s += " search_path=" + schema
		}
		return s
	}
	root, err := sql.Open("pgx", dsn(""))
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("cogs_e2e_%d", time.Now().UnixNano())
	if _, err := root.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		root.Exec("DROP SCHEMA " + schema + " CASCADE")
		root.Close()
	})
	db, err := sql.Open("pgx", dsn(schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	port, _ := strconv.Atoi(pgPort)
	tg := &target{name: "postgres", db: db, ph: "$", conn: config.Connection{Name: "mysql", Type: "postgres",
		Options: map[string]any{"host": pgHost, "port": port, "user": pgUser, "password": pgPassword,
			"database": pgDatabase, "schema": schema, "sslmode": "disable"}}}
	tg.create(t)
	return tg
}

// table returns the rows of a table as "col1|col2|..." lines ordered by
// the first column; NULL is "<nil>".
func (tg *target) table(t testing.TB, query string) []string {
	t.Helper()
	rows, err := tg.db.Query(query)
	if err != nil {
		t.Fatalf("%s: %s: %v", tg.name, query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = "<nil>"
			if v.Valid {
				parts[i] = v.String
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (tg *target) count(t testing.TB, table string) int {
	t.Helper()
	var n int
	if err := tg.db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatalf("%s: count %s: %v", tg.name, table, err)
	}
	return n
}
