package cassandra_test

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
	_ "github.com/cogs-dev/cogs/connectors/cassandra" // registers "cassandra"
	"github.com/cogs-dev/cogs/connectors/conformance"
	"github.com/gocql/gocql"
)

// No Cassandra can be installed on the development machine: these tests
// run only when COGS_TEST_CASSANDRA_HOSTS names one (comma-separated
// hosts), also under COGS_REQUIRE_INTEGRATION=1. COGS_TEST_CASSANDRA_KEYSPACE
// (default cogs_test) is created with SimpleStrategy, replication 1, if
// missing.
func cluster(t *testing.T) (hosts, keyspace string, s *gocql.Session) {
	t.Helper()
	hosts = os.Getenv("COGS_TEST_CASSANDRA_HOSTS")
	if hosts == "" {
		t.Skip("COGS_TEST_CASSANDRA_HOSTS not set")
	}
	keyspace = os.Getenv("COGS_TEST_CASSANDRA_KEYSPACE")
	if keyspace == "" {
		keyspace = "cogs_test"
	}
	cl := gocql.NewCluster(strings.Split(hosts, ",")...)
	cl.Timeout = 30 * time.Second
	cl.Consistency = gocql.One
	s, err := cl.CreateSession()
	if err != nil {
		t.Fatalf("Cassandra at %s: %v", hosts, err)
	}
	t.Cleanup(s.Close)
	if err := s.Query(`CREATE KEYSPACE IF NOT EXISTS "` + keyspace + `" WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`).Exec(); err != nil {
		t.Fatal(err)
	}
	return hosts, keyspace, s
}

// store reads the rows back with CQL.
type store struct {
	s     *gocql.Session
	ks    string
	mu    sync.Mutex
	kinds map[string][]conformance.Col // table -> keys then columns
}

func q(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

var cqlType = map[abi.Kind]string{abi.KindString: "text", abi.KindBytes: "blob", abi.KindInt: "bigint", abi.KindFloat: "double", abi.KindBool: "boolean"}

// Table creates the table: the first key column is the partition key,
// the others clustering columns.
func (st *store) Table(t *testing.T, name string, keys, cols []conformance.Col) {
	var defs, pk []string
	for _, c := range append(append([]conformance.Col(nil), keys...), cols...) {
		defs = append(defs, q(c.Name)+" "+cqlType[c.Kind])
	}
	for _, k := range keys[1:] {
		pk = append(pk, q(k.Name))
	}
	primary := "(" + q(keys[0].Name) + ")"
	if len(pk) > 0 {
		primary += ", " + strings.Join(pk, ", ")
	}
	ddl := fmt.Sprintf("CREATE TABLE %s.%s (%s, PRIMARY KEY (%s))", q(st.ks), q(name), strings.Join(defs, ", "), primary)
	if err := st.s.Query(ddl).Exec(); err != nil {
		t.Fatalf("%s: %v", ddl, err)
	}
	st.mu.Lock()
	st.kinds[name] = append(append([]conformance.Col(nil), keys...), cols...)
	st.mu.Unlock()
	t.Cleanup(func() {
		if err := st.s.Query("DROP TABLE " + q(st.ks) + "." + q(name)).Exec(); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
}

func (st *store) Row(t *testing.T, table string, keys []abi.Column) (map[string]abi.Value, bool) {
	st.mu.Lock()
	cols := st.kinds[table]
	st.mu.Unlock()
	var names, where []string
	var args []any
	dest := make([]any, len(cols))
	for i, c := range cols {
		names = append(names, q(c.Name))
		switch c.Kind {
		case abi.KindString:
			dest[i] = new(*string)
		case abi.KindBytes:
			dest[i] = new([]byte)
		case abi.KindInt:
			dest[i] = new(*int64)
		case abi.KindFloat:
			dest[i] = new(*float64)
		case abi.KindBool:
			dest[i] = new(*bool)
		}
	}
	for _, k := range keys {
		where = append(where, q(k.Name)+" = ?")
		args = append(args, connectors.Arg(k.Value))
	}
	cql := fmt.Sprintf("SELECT %s FROM %s.%s WHERE %s", strings.Join(names, ", "), q(st.ks), q(table), strings.Join(where, " AND "))
	err := st.s.Query(cql, args...).Scan(dest...)
	if err == gocql.ErrNotFound {
		return nil, false
	}
	if err != nil {
		t.Fatalf("%s: %v", cql, err)
	}
	row := map[string]abi.Value{}
	for i, c := range cols {
		switch d := dest[i].(type) {
		case **string:
			if *d != nil {
				row[c.Name] = abi.String(**d)
			}
		case *[]byte:
			if *d != nil {
				row[c.Name] = abi.Bytes(*d)
			}
		case **int64:
			if *d != nil {
				row[c.Name] = abi.Int(**d)
			}
		case **float64:
			if *d != nil {
				row[c.Name] = abi.Float(**d)
			}
		case **bool:
			if *d != nil {
				row[c.Name] = abi.Bool(**d)
			}
		}
	}
	return row, true
}

func (st *store) Count(t *testing.T, table string) int {
	var n int
	if err := st.s.Query("SELECT COUNT(*) FROM " + q(st.ks) + "." + q(table)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var opened atomic.Int64

func TestIntegrationConformance(t *testing.T) {
	hosts, ks, s := cluster(t)
	conformance.RunStore(t, conformance.StoreTarget{
		Open: func(t *testing.T) (connectors.Connector, conformance.Store) {
			opened.Add(1)
			c, err := connectors.Open("cassandra", map[string]any{"hosts": hosts, "keyspace": ks, "consistency": "ONE"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c, &store{s: s, ks: ks, kinds: map[string][]conformance.Col{}}
		},
		Stored: func(v abi.Value) abi.Value {
			// gocql reads an empty blob back as nil, like NULL.
			if v.Kind() == abi.KindBytes && v.Str() == "" {
				return abi.Null()
			}
			return v
		},
	})
}
