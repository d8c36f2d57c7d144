package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/host/engine"
)

func TestDefault(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default does not validate: %v", err)
	}
	want := Config{
		Listen:   "127.0.0.1:6380",
		Upstream: Upstream{Address: "127.0.0.1:6379", DialTimeout: 5 * time.Second},
		Limits:   Limits{MaxClients: 10000, MaxBulk: 512 << 20, MaxArgs: 1 << 20},
		Engine:   Engine{MemoryLimit: 64 << 20, InitTimeout: 10 * time.Second, MapTimeout: 5 * time.Second},
		Apply:    Apply{BatchSize: 1000, BatchAge: 100 * time.Millisecond, LeaseTTL: 10 * time.Second, RetryMin: 100 * time.Millisecond, RetryMax: 30 * time.Second, Partitions: 1, WriteThroughTimeout: 5 * time.Second},
		Admin:    Admin{User: "cogs", MaxRecipeSize: 64 << 20},
		Log:      Log{Level: "info", Format: "text"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Default() = %+v, want %+v", c, want)
	}
	// An empty file, and one of comments, is the defaults.
	for _, doc := range []string{"", "# nothing\n", "---\n"} {
		got, err := Parse([]byte(doc))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Parse(%q) = %+v, %v; want the defaults", doc, got, err)
		}
	}
}

// The example of the package documentation (every key at its default) must
// parse to Default().
func TestDocumentedDefaults(t *testing.T) {
	src, err := os.ReadFile("config.go")
	if err != nil {
		t.Fatal(err)
	}
	var doc strings.Builder
	in := false
	for _, line := range strings.Split(string(src), "\n") {
		switch {
		case strings.HasPrefix(line, "//\tlisten:"):
			in = true
		case in && !strings.HasPrefix(line, "//\t"):
			in = false
		}
		if in {
			doc.WriteString(strings.TrimPrefix(line, "//\t") + "\n")
		}
	}
	if doc.Len() == 0 {
		t.Fatal("no example in the package documentation")
	}
	got, err := Parse([]byte(doc.String()))
	if err != nil {
		t.Fatalf("documented example: %v\n%s", err, doc.String())
	}
	if len(got.Recipes) == 0 {
		got.Recipes = nil // "recipes: []"
	}
	if want := Default(); !reflect.DeepEqual(got, want) {
		t.Errorf("documented example = %+v, want Default() %+v", got, want)
	}
}

// So must the example of the README.
func TestREADMEDefaults(t *testing.T) {
	src, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(src), "## Running cogs serve")
	_, block, ok2 := strings.Cut(sec, "```yaml\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md has no yaml example under \"Running cogs serve\"")
	}
	got, err := Parse([]byte(block))
	if err != nil {
		t.Fatalf("README example: %v", err)
	}
	if len(got.Recipes) == 0 {
		got.Recipes = nil
	}
	if want := Default(); !reflect.DeepEqual(got, want) {
		t.Errorf("README example = %+v, want Default() %+v", got, want)
	}
}

func TestParse(t *testing.T) {
	got, err := Parse([]byte(`
listen: 0.0.0.0:7000
upstream:
  address: redis:6379
  username: app
  password: secret
  db: 2
  dial_timeout: 250ms
limits:
  max_clients: 50
  max_bulk: 1 MiB
  max_args: 0x100
engine:
  cache_dir: /var/cache/cogs
  memory_limit: 128MB
  init_timeout: 1m
  map_timeout: 2s
  pool_size: 4
connections:
  mysql:
    type: mysql
    dsn: ${env:DSN}
    max_open: 4
  local:
    type: sqlite
    path: /tmp/x.db
apply:
  batch_size: 500
  batch_age: 50ms
  partitions: 2
  max_attempts: 3
recipes:
  - file: persons.wasm
    config: '{"table": "persons"}'
    high_water: 100000
  - file: cars.wasm
log:
  level: debug
  format: json
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Listen:   "0.0.0.0:7000",
		Upstream: Upstream{Address: "redis:6379", Username: "app", Password: "secret", DB: 2, DialTimeout: 250 * time.Millisecond},
		Limits:   Limits{MaxClients: 50, MaxBulk: MiB, MaxArgs: 256},
		Engine:   Engine{CacheDir: "/var/cache/cogs", MemoryLimit: 128e6, InitTimeout: time.Minute, MapTimeout: 2 * time.Second, PoolSize: 4},
		Connections: Connections{
			{Name: "mysql", Type: "mysql", Options: map[string]any{"dsn": "${env:DSN}", "max_open": 4}},
			{Name: "local", Type: "sqlite", Options: map[string]any{"path": "/tmp/x.db"}},
		},
		Admin:   Admin{User: "cogs", MaxRecipeSize: DefaultMaxRecipeSize},
		Apply:   Apply{BatchSize: 500, BatchAge: 50 * time.Millisecond, LeaseTTL: DefaultLeaseTTL, RetryMin: DefaultRetryMin, RetryMax: DefaultRetryMax, Partitions: 2, MaxAttempts: 3, WriteThroughTimeout: DefaultWriteThroughTimeout},
		Recipes: []Recipe{{File: "persons.wasm", Config: `{"table": "persons"}`, HighWater: 100000}, {File: "cars.wasm"}},
		Log:     Log{Level: "debug", Format: "json"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Error(err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"lisen: x\n", "lisen: unknown key (line 1)"},
		{"upstream:\n  adress: x\n", "upstream.adress: unknown key (line 2)"},
		{"recipes:\n  - file: a.wasm\n    hw: 3\n", "recipes[0].hw: unknown key (line 3)"},
		{"listen: a\nlisten: b\n", "listen: duplicate key (line 2)"},
		{"upstream: x\n", "upstream: want a mapping of keys to values (line 1)"},
		{"upstream:\n  db: one\n", `upstream.db: "one" is not an integer (line 2)`},
		{"upstream:\n  dial_timeout: 5\n", `upstream.dial_timeout: "5" is not a duration such as 5s or 500ms (line 2)`},
		{"engine:\n  memory_limit: 64XB\n", `engine.memory_limit: "64XB" is not a size`},
		{"engine:\n  memory_limit: 64mib\n", `engine.memory_limit: "64mib" is not a size`},
		{"limits:\n  max_bulk: [1]\n", "limits.max_bulk: want a size such as 64MiB"},
		{"recipes: a.wasm\n", "recipes: want a list (line 1)"},
		{"listen: [a]\n", "listen: want a string (line 1)"},
		{"- a\n", "the configuration must be a mapping"},
		{"listen: 'a\n", "yaml:"},
		{"connections: [a]\n", "connections: want a mapping of connection names to their settings (line 1)"},
		{"connections:\n  db: sqlite\n", "connections.db: want a mapping with type and the connector's options (line 2)"},
		{"connections:\n  db:\n    type: [x]\n", "connections.db.type: want a string"},
		{"connections:\n  db: {type: sqlite}\n  db: {type: mysql}\n", "connections.db: duplicate key (line 3)"},
		{"apply:\n  batch_sise: 3\n", "apply.batch_sise: unknown key (line 2)"},
	} {
		_, err := Parse([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tc.doc, err, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"listen", func(c *Config) { c.Listen = "x" }, `listen: "x" is not host:port (missing port in address)`},
		{"listen port", func(c *Config) { c.Listen = "localhost:http" }, `listen: "localhost:http" is not host:port (port "http" is not a number from 0 to 65535)`},
		{"listen range", func(c *Config) { c.Listen = ":70000" }, `listen: ":70000" is not host:port (port "70000" is not a number from 0 to 65535)`},
		{"upstream", func(c *Config) { c.Upstream.Address = "" }, `upstream.address: "" is not host:port (missing port in address)`},
		{"username", func(c *Config) { c.Upstream.Username = "app" }, "upstream.username: set without upstream.password"},
		{"db", func(c *Config) { c.Upstream.DB = -1 }, "upstream.db: -1 is negative"},
		{"dial_timeout", func(c *Config) { c.Upstream.DialTimeout = 0 }, "upstream.dial_timeout: 0s is not positive"},
		{"max_clients", func(c *Config) { c.Limits.MaxClients = 0 }, "limits.max_clients: 0 is not positive"},
		{"max_bulk", func(c *Config) { c.Limits.MaxBulk = 0 }, "limits.max_bulk: 0 is not positive"},
		{"max_bulk large", func(c *Config) { c.Limits.MaxBulk = 2 * TiB }, "limits.max_bulk: 2TiB is more than 1TiB"},
		{"max_args", func(c *Config) { c.Limits.MaxArgs = -1 }, "limits.max_args: -1 is not positive"},
		{"memory_limit small", func(c *Config) { c.Engine.MemoryLimit = 64 * KiB }, "engine.memory_limit: 64KiB is less than 128KiB"},
		{"memory_limit large", func(c *Config) { c.Engine.MemoryLimit = 5 * GiB }, "engine.memory_limit: 5GiB is more than 4GiB"},
		{"init_timeout", func(c *Config) { c.Engine.InitTimeout = -time.Second }, "engine.init_timeout: -1s is not positive"},
		{"map_timeout", func(c *Config) { c.Engine.MapTimeout = 0 }, "engine.map_timeout: 0s is not positive"},
		{"pool_size", func(c *Config) { c.Engine.PoolSize = -2 }, "engine.pool_size: -2 is negative"},
		{"recipe file", func(c *Config) { c.Recipes = []Recipe{{File: "a.wasm"}, {}} }, "recipes[1].file: is required"},
		{"high_water", func(c *Config) { c.Recipes = []Recipe{{File: "a.wasm", HighWater: -1}} }, "recipes[0].high_water: -1 is negative"},
		{"log.level", func(c *Config) { c.Log.Level = "loud" }, `log.level: "loud" is not one of trace, debug, info, warn, error, off`},
		{"log.format", func(c *Config) { c.Log.Format = "xml" }, `log.format: "xml" is not text or json`},
		{"connection type", func(c *Config) { c.Connections = Connections{{Name: "db"}} }, "connections.db.type: is required (sqlite, mysql, postgres, ...)"},
		{"connection twice", func(c *Config) {
			c.Connections = Connections{{Name: "db", Type: "sqlite"}, {Name: "db", Type: "mysql"}}
		}, "connections.db: given twice"},
		{"batch_size", func(c *Config) { c.Apply.BatchSize = 0 }, "apply.batch_size: 0 is not positive"},
		{"batch_size large", func(c *Config) { c.Apply.BatchSize = 200000 }, "apply.batch_size: 200000 is more than 100000"},
		{"batch_age", func(c *Config) { c.Apply.BatchAge = 0 }, "apply.batch_age: 0s is not positive"},
		{"lease_ttl", func(c *Config) { c.Apply.LeaseTTL = time.Millisecond }, "apply.lease_ttl: 1ms is less than 100ms"},
		{"retry_max", func(c *Config) { c.Apply.RetryMax = time.Millisecond }, "apply.retry_max: 1ms is less than apply.retry_min (100ms)"},
		{"max_attempts", func(c *Config) { c.Apply.MaxAttempts = -1 }, "apply.max_attempts: -1 is negative"},
		{"partitions", func(c *Config) { c.Apply.Partitions = 17 }, "apply.partitions: 17 is not from 1 to 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.edit(&c)
			err := c.Validate()
			if err == nil || err.Error() != tc.want {
				t.Errorf("Validate() = %v, want %q", err, tc.want)
			}
		})
	}
	// Every fault is reported.
	c := Default()
	c.Listen, c.Log.Format = "x", "xml"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "listen:") || !strings.Contains(err.Error(), "log.format:") {
		t.Errorf("two faults: %v", err)
	}
}

func TestSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Size
	}{
		{"0", 0}, {"1234", 1234}, {"10B", 10}, {"64KiB", 64 << 10}, {"64MiB", 64 << 20}, {"64 MiB", 64 << 20},
		{"2GiB", 2 << 30}, {"1TiB", 1 << 40}, {"5KB", 5000}, {"5kB", 5000}, {"3MB", 3e6}, {"2GB", 2e9}, {"1TB", 1e12},
	} {
		got, err := ParseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1.5MiB", "64mb", "64XB", "64 MiB extra", "99999999999999999999", "20000000TiB"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
	for s, want := range map[Size]string{0: "0B", 1000: "1000B", 64 * MiB: "64MiB", 1536: "3KiB" /* 1.5KiB */, 3 * GiB: "3GiB"} {
		if s == 1536 {
			want = "1536B"
		}
		if got := s.String(); got != want {
			t.Errorf("Size(%d).String() = %q, want %q", uint64(s), got, want)
		}
	}
}

func TestLoadExpand(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	t.Setenv("COGS_TEST_USER", "app")
	file := filepath.Join(dir, "cogs.yaml")
	os.WriteFile(file, []byte(`
upstream:
  username: ${env:COGS_TEST_USER}
  password: pre-${file:`+secret+`}
engine:
  cache_dir: cache
recipes:
  - file: persons.wasm
    config: persons.json
  - file: /abs/cars.wasm
    config: '{"inline": true}'
`), 0o644)
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if c.Upstream.Username != "app" || c.Upstream.Password != "pre-s3cret" {
		t.Errorf("credentials %q %q", c.Upstream.Username, c.Upstream.Password)
	}
	if c.Engine.CacheDir != filepath.Join(dir, "cache") ||
		c.Recipes[0].File != filepath.Join(dir, "persons.wasm") || c.Recipes[0].Config != filepath.Join(dir, "persons.json") ||
		c.Recipes[1].File != "/abs/cars.wasm" || c.Recipes[1].Config != `{"inline": true}` {
		t.Errorf("paths not relative to the file: %+v %+v", c.Engine, c.Recipes)
	}
	if b, err := c.Recipes[1].ReadConfig(); err != nil || string(b) != `{"inline": true}` {
		t.Errorf("inline config %q, %v", b, err)
	}

	for _, tc := range []struct{ value, want string }{
		{"${env:COGS_TEST_UNSET_VARIABLE}", `upstream.password: ${env:COGS_TEST_UNSET_VARIABLE}: environment variable "COGS_TEST_UNSET_VARIABLE" is not set`},
		{"${file:" + filepath.Join(dir, "missing") + "}", "upstream.password: ${file:" + filepath.Join(dir, "missing") + "}: open "},
		{"${vault:x}", "upstream.password: ${vault:x}: want ${env:NAME} or ${file:/path}"},
		{"${env:X", `upstream.password: "${env:X": unterminated ${`},
	} {
		os.WriteFile(file, []byte("upstream:\n  password: '"+tc.value+"'\n"), 0o644)
		_, err := Load(file)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.value, err, tc.want)
		}
	}

	os.WriteFile(file, []byte("upstream:\n  adress: x\n"), 0o644)
	if _, err := Load(file); err == nil || err.Error() != file+": upstream.adress: unknown key (line 2)" {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "none.yaml")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestPoolSizeBound(t *testing.T) {
	if maxPoolSize != engine.MaxPoolSize {
		t.Fatalf("maxPoolSize %d, engine.MaxPoolSize %d", maxPoolSize, engine.MaxPoolSize)
	}
	c := Default()
	c.Engine.PoolSize = maxPoolSize + 1
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "engine.pool_size: 4097 is more than 4096") {
		t.Fatalf("got %v", err)
	}
}
