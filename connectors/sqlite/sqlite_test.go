package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cogs-dev/cogs/connectors"
	"github.com/cogs-dev/cogs/connectors/conformance"
	"github.com/cogs-dev/cogs/connectors/sqlite"
)

func open(t testing.TB) (connectors.Connector, *sql.DB) {
	path := filepath.Join(t.TempDir(), "target.db")
	c, err := connectors.Open("sqlite", map[string]any{"path": path})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
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
	Quote:       sqlite.Quote,
	Placeholder: func(n int) string { return "?" + strconv.Itoa(n) },
	Types: conformance.Types{
		Int: "INTEGER", Float: "REAL", Key: "TEXT", Text: "TEXT", Bytes: "BLOB", Bool: "BOOLEAN",
	},
}

// SQLite needs no server, so the suite always runs.
func TestConformance(t *testing.T) {
	conformance.Run(t, target)
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		cfg  map[string]any
		want string
	}{
		{map[string]any{}, `option "path" is required`},
		{map[string]any{"path": "x.db", "pasword": "x"}, `unknown option "pasword"`},
		{map[string]any{"path": "${env:COGS_TEST_UNSET_VARIABLE}"}, "COGS_TEST_UNSET_VARIABLE is not set"},
		{map[string]any{"path": "x.db", "busy_timeout_ms": "soon"}, `option "busy_timeout_ms": want an integer`},
	} {
		_, err := connectors.Open("sqlite", tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%v) = %v, want an error containing %q", tc.cfg, err, tc.want)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{`a`: `"a"`, `a"b`: `"a""b"`, `a b`: `"a b"`, `""`: `""""""`} {
		if got := sqlite.Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func BenchmarkIntegrationApply(b *testing.B) {

	for _, n := range []int{100, 1000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			c, db := open(b)
			conformance.BenchApply(b, c, db, target, n)
		})
	}
}
