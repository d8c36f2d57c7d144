// Package config is the configuration file of cogs serve: one YAML file,
// flat sections with documented defaults, decoded strictly (an unknown key
// is an error that names it) and checked by Validate, whose messages name
// the field at fault ("listen: \"x\" is not host:port").
//
// The file, with every key at its default:
//
//	listen: 127.0.0.1:6380          # the cogs port applications connect to
//	upstream:
//	  address: 127.0.0.1:6379       # the redis-server behind cogs
//	  username: ""                  # AUTH username (needs password)
//	  password: ""                  # AUTH password; empty: no AUTH
//	  db: 0                         # database selected upstream; streams live here
//	  dial_timeout: 5s
//	  shared_conns: 0               # >0: stateless commands of all clients share this many connections
//	  tls:
//	    enabled: false              # TLS to the upstream
//	    ca_file: ""                 # PEM CA certificates; empty: the system's
//	    cert_file: ""               # client certificate and key (PEM), for tls-auth-clients
//	    key_file: ""
//	    server_name: ""             # name on the server's certificate; empty: the address's host
//	    insecure_skip_verify: false # tests only
//	limits:
//	  max_clients: 10000            # client connections at once
//	  max_bulk: 512MiB              # longest bulk argument a client may send
//	  max_args: 1048576             # most arguments of one command
//	engine:
//	  cache_dir: ""                 # compiled recipes kept across restarts; empty: memory only
//	  memory_limit: 64MiB           # linear memory per recipe instance
//	  init_timeout: 10s             # instantiation + cogs_init
//	  map_timeout: 5s               # one map call (one batch)
//	  pool_size: 0                  # instances per recipe; 0: GOMAXPROCS
//	connections: {}                 # target databases by name, each:
//	  # mysql:                      #   the name triggers use
//	  #   type: mysql               #   the connector (required): sqlite, mysql, postgres, ...
//	  #   dsn: root@tcp(127.0.0.1:3306)/test   # the connector's own options (connectors/README.md)
//	apply:
//	  batch_size: 1000              # most changes per batch (a recipe may override)
//	  batch_age: 100ms              # longest wait for a batch to fill (a recipe may override)
//	  lease_ttl: 10s                # how soon another host takes over a dead host's streams
//	  retry_min: 100ms              # backoff between attempts when a target is down ...
//	  retry_max: 30s                # ... doubling up to this
//	  partitions: 1                 # parts of a batch applied at once (by key hash), 1 to 16
//	  max_attempts: 0               # attempts before a batch is dead-lettered; 0: forever
//	  consumer: ""                  # this host's consumer name; empty: <hostname>-<pid>
//	  write_through_timeout: 5s     # a write-through change: recipe + target commit
//	admin:
//	  user: cogs                    # AUTH cogs <password> to use RECIPE LOAD|LIST|DELETE|STATUS
//	  password: ""                  # empty: admin commands refused; ${env:NAME} or ${file:/path}
//	  max_recipe_size: 64MiB        # largest module RECIPE LOAD accepts
//	metrics:
//	  listen: ""                    # host:port of /metrics, /healthz, /readyz; empty: off
//	recipes: []                     # recipes loaded at start, each:
//	  # - file: persons.wasm        #   the compiled recipe (required)
//	  #   config: persons.json      #   its load-time configuration: a file, or inline
//	  #   high_water: 0             #   stream length that refuses new writes; 0: none
//	log:
//	  level: info                   # trace, debug, info, warn, error, off
//	  format: text                  # text or json
//
// Sizes are a number of bytes or a number with a unit: B, KB, MB, GB, TB
// (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024). Durations are
// Go durations ("500ms", "5s", "1m").
//
// upstream.username, upstream.password and admin.password may be written as
// ${env:NAME} (the environment variable NAME) or ${file:/path} (the
// file's contents, without a final newline), alone or inside a longer
// value; Load expands them and names the field when the variable or file
// is missing.
//
// Relative paths in a file (recipes[].file, recipes[].config,
// engine.cache_dir) are relative to the directory of the file.
package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Defaults.
const (
	DefaultListen              = "127.0.0.1:6380"
	DefaultUpstream            = "127.0.0.1:6379"
	DefaultDialTimeout         = 5 * time.Second
	DefaultMaxClients          = 10000
	DefaultMaxBulk             = 512 * MiB
	DefaultMaxArgs             = 1 << 20
	DefaultMemoryLimit         = 64 * MiB
	DefaultInitTimeout         = 10 * time.Second
	DefaultMapTimeout          = 5 * time.Second
	DefaultLogLevel            = "info"
	DefaultBatchSize           = 1000
	DefaultBatchAge            = 100 * time.Millisecond
	DefaultLeaseTTL            = 10 * time.Second
	DefaultRetryMin            = 100 * time.Millisecond
	DefaultRetryMax            = 30 * time.Second
	DefaultWriteThroughTimeout = 5 * time.Second
	MaxBatchSize               = 100000
	DefaultAdminUser           = "cogs"
	DefaultMaxRecipeSize       = 64 * MiB
	DefaultLogFormat           = "text"
)

// Config is the configuration of cogs serve. Start from Default (or
// Load); a zero Config is not valid.
type Config struct {
	// Listen is the address of the cogs port. Default 127.0.0.1:6380.
	Listen   string   `yaml:"listen"`
	Upstream Upstream `yaml:"upstream"`
	Limits   Limits   `yaml:"limits"`
	Engine   Engine   `yaml:"engine"`
	// Connections are the target databases, by name; recipe triggers
	// name them.
	Connections Connections `yaml:"connections"`
	Apply       Apply       `yaml:"apply"`
	Admin       Admin       `yaml:"admin"`
	Metrics     Metrics     `yaml:"metrics"`
	// Recipes are loaded at start, in order.
	Recipes []Recipe `yaml:"recipes"`
	Log     Log      `yaml:"log"`
}

// Connections are the named target connections, in the order of the file.
type Connections []Connection

// Connection is one target database: a connector type and its options.
type Connection struct {
	// Name is the connection's name, which triggers use.
	Name string
	// Type is the connector: sqlite, mysql, postgres, ...
	Type string
	// Options are the connection's other keys, checked by the connector
	// (an unknown one is refused by name). String options may use
	// ${env:NAME} and ${file:/path}.
	Options map[string]any
}

// Apply configures the write-behind scheduler.
type Apply struct {
	// BatchSize is the most changes in a batch; a recipe may override
	// it. Default 1000, at most 100000.
	BatchSize int `yaml:"batch_size"`
	// BatchAge is how long a batch waits for more changes after its first
	// was captured; a recipe may override it. Default 100ms.
	BatchAge time.Duration `yaml:"batch_age"`
	// LeaseTTL is how long after a host dies another host takes its
	// streams over. Default 10s.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// RetryMin and RetryMax bound the backoff between attempts at a batch
	// whose target is unavailable. Defaults 100ms and 30s.
	RetryMin time.Duration `yaml:"retry_min"`
	RetryMax time.Duration `yaml:"retry_max"`
	// Partitions applies each batch in this many parts at once, split by
	// a hash of the key, each in its own transaction (and connection).
	// From 1 to 16. Default 1.
	Partitions int `yaml:"partitions"`
	// MaxAttempts is the most attempts at a batch that fails transiently
	// before its changes are dead-lettered; 0 retries forever. Default 0.
	MaxAttempts int `yaml:"max_attempts"`
	// Consumer names this host in the streams' consumer groups and
	// leases. Default "<hostname>-<pid>".
	Consumer string `yaml:"consumer"`
	// WriteThroughTimeout bounds a write-through change: the recipe's map
	// and the target's commit, before the client is told that the outcome
	// is unknown. Default 5s.
	WriteThroughTimeout time.Duration `yaml:"write_through_timeout"`
}

// Lookup returns the connection named name.
func (cs Connections) Lookup(name string) (Connection, bool) {
	for _, c := range cs {
		if c.Name == name {
			return c, true
		}
	}
	return Connection{}, false
}

// Upstream is the redis-server behind cogs.
type Upstream struct {
	// Address is its host:port. Default 127.0.0.1:6379.
	Address string `yaml:"address"`
	// Username and Password authenticate every upstream connection when
	// Password is set. Both may be ${env:NAME} or ${file:/path}.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// DB is the database selected on every upstream connection; change
	// streams are written there. Default 0.
	DB int `yaml:"db"`
	// DialTimeout bounds opening an upstream connection. Default 5s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// TLS, when enabled, encrypts every upstream connection.
	TLS TLS `yaml:"tls"`
	// SharedConns, above 0, pipelines the stateless commands of all
	// clients onto this many shared upstream connections (per protocol);
	// a client gets a connection of its own at its first stateful command
	// (MULTI, WATCH, SELECT, blocking commands, pub/sub, CLIENT, ...).
	// 0: every client has its own upstream connection. Default 0.
	SharedConns int `yaml:"shared_conns"`
}

// TLS configures TLS to the upstream Redis.
type TLS struct {
	// Enabled turns TLS on. Default false.
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM file of the certificates that may sign the
	// server's. Default: the system's.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client certificate and its key, PEM,
	// for servers that authenticate clients (tls-auth-clients yes).
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name the server's certificate must carry.
	// Default: the host of upstream.address.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any server certificate. For tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Config returns the *tls.Config of t, or nil when TLS is off.
func (t TLS) Config() (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	c := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file: %s holds no PEM certificate", t.CAFile)
		}
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cert_file, key_file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// Metrics configures the HTTP endpoint of the Prometheus metrics.
type Metrics struct {
	// Listen is the host:port of /metrics, /healthz and /readyz; empty:
	// none. Default empty.
	Listen string `yaml:"listen"`
}

// Admin configures the admin commands (RECIPE LOAD, LIST, DELETE,
// STATUS) on the cogs port.
type Admin struct {
	// User is the user name an admin authenticates as (AUTH <user>
	// <password>). Default "cogs".
	User string `yaml:"user"`
	// Password enables the admin commands; empty: they are refused. May
	// be ${env:NAME} or ${file:/path}.
	Password string `yaml:"password"`
	// MaxRecipeSize is the largest module RECIPE LOAD accepts. Default
	// 64MiB.
	MaxRecipeSize Size `yaml:"max_recipe_size"`
}

// Limits bound what clients may send.
type Limits struct {
	// MaxClients is the most client connections at once. Default 10000.
	MaxClients int `yaml:"max_clients"`
	// MaxBulk is the longest bulk argument a client may send. Default
	// 512MiB.
	MaxBulk Size `yaml:"max_bulk"`
	// MaxArgs is the most arguments of one command. Default 1048576.
	MaxArgs int `yaml:"max_args"`
}

// Engine configures the Wasm engine that runs recipes.
type Engine struct {
	// CacheDir keeps compiled recipes across restarts. Default: none (an
	// in-memory cache).
	CacheDir string `yaml:"cache_dir"`
	// MemoryLimit is the linear memory of one recipe instance, at least
	// 128KiB and at most 4GiB. Default 64MiB.
	MemoryLimit Size `yaml:"memory_limit"`
	// InitTimeout bounds instantiation plus cogs_init. Default 10s.
	InitTimeout time.Duration `yaml:"init_timeout"`
	// MapTimeout bounds one map call. Default 5s.
	MapTimeout time.Duration `yaml:"map_timeout"`
	// PoolSize is the most instances of one recipe at once; 0 means
	// GOMAXPROCS. Default 0.
	PoolSize int `yaml:"pool_size"`
}

// Recipe is a recipe loaded at start.
type Recipe struct {
	// File is the compiled recipe (.wasm). Required.
	File string `yaml:"file"`
	// Config is the recipe's load-time configuration: the name of a file
	// holding it or, when it starts with "{" or "[" or spans several
	// lines, the configuration itself. Default: none.
	Config string `yaml:"config"`
	// HighWater is the length of the recipe's change stream from which
	// writes to its keys are refused until the stream is trimmed below
	// it. 0: no limit. Default 0.
	HighWater int64 `yaml:"high_water"`
}

// Inline reports whether Config holds the configuration itself rather
// than the name of a file.
func (r Recipe) Inline() bool {
	c := strings.TrimSpace(r.Config)
	return strings.HasPrefix(c, "{") || strings.HasPrefix(c, "[") || strings.Contains(c, "\n")
}

// ReadConfig returns the recipe's load-time configuration: the inline
// text, the contents of the file, or nil when there is none.
func (r Recipe) ReadConfig() ([]byte, error) {
	switch {
	case r.Config == "":
		return nil, nil
	case r.Inline():
		return []byte(r.Config), nil
	}
	return os.ReadFile(r.Config)
}

// Log configures logging.
type Log struct {
	// Level is trace, debug, info, warn, error or off. Default info.
	Level string `yaml:"level"`
	// Format is text or json. Default text.
	Format string `yaml:"format"`
}

// maxPoolSize mirrors engine.MaxPoolSize (this package does not import the
// engine); TestPoolSizeBound keeps them equal.
const maxPoolSize = 4096

// Default returns the configuration with every default set and no
// recipes.
func Default() Config {
	return Config{
		Listen: DefaultListen,
		Upstream: Upstream{
			Address:     DefaultUpstream,
			DialTimeout: DefaultDialTimeout,
		},
		Limits: Limits{
			MaxClients: DefaultMaxClients,
			MaxBulk:    DefaultMaxBulk,
			MaxArgs:    DefaultMaxArgs,
		},
		Engine: Engine{
			MemoryLimit: DefaultMemoryLimit,
			InitTimeout: DefaultInitTimeout,
			MapTimeout:  DefaultMapTimeout,
		},
		Apply: Apply{
			BatchSize:           DefaultBatchSize,
			BatchAge:            DefaultBatchAge,
			LeaseTTL:            DefaultLeaseTTL,
			RetryMin:            DefaultRetryMin,
			RetryMax:            DefaultRetryMax,
			Partitions:          1,
			WriteThroughTimeout: DefaultWriteThroughTimeout,
		},
		Admin: Admin{User: DefaultAdminUser, MaxRecipeSize: DefaultMaxRecipeSize},
		Log:   Log{Level: DefaultLogLevel, Format: DefaultLogFormat},
	}
}

// Load reads the file at path over the defaults, decoding it strictly,
// makes its relative paths relative to the file's directory, and expands
// the credentials. It does not validate: call Validate once any flags
// have been applied.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c, err := Parse(b)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	dir := filepath.Dir(path)
	rel := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	rel(&c.Engine.CacheDir)
	for i := range c.Recipes {
		rel(&c.Recipes[i].File)
		if !c.Recipes[i].Inline() {
			rel(&c.Recipes[i].Config)
		}
	}
	if err := c.Expand(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a YAML document over the defaults. Keys are checked
// strictly; errors name the key ("upstream.adress: unknown key").
// Credentials are not expanded (see Expand).
func Parse(b []byte) (Config, error) {
	c := Default()
	if err := decode(b, &c); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Expand replaces ${env:NAME} and ${file:/path} in the credentials
// (upstream.username, upstream.password) by the variable's value or the
// file's contents without a final newline.
func (c *Config) Expand() error {
	for _, f := range []struct {
		name string
		v    *string
	}{{"upstream.username", &c.Upstream.Username}, {"upstream.password", &c.Upstream.Password}, {"admin.password", &c.Admin.Password}} {
		v, err := expand(*f.v)
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		*f.v = v
	}
	return nil
}

func expand(s string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("%q: unterminated ${", s[i:])
		}
		ref := s[i+2 : i+j]
		b.WriteString(s[:i])
		s = s[i+j+1:]
		kind, arg, _ := strings.Cut(ref, ":")
		switch kind {
		case "env":
			v, ok := os.LookupEnv(arg)
			if !ok || arg == "" {
				return "", fmt.Errorf("${%s}: environment variable %q is not set", ref, arg)
			}
			b.WriteString(v)
		case "file":
			data, err := os.ReadFile(arg)
			if err != nil {
				return "", fmt.Errorf("${%s}: %w", ref, err)
			}
			v := strings.TrimSuffix(string(data), "\n")
			b.WriteString(strings.TrimSuffix(v, "\r"))
		default:
			return "", fmt.Errorf("${%s}: want ${env:NAME} or ${file:/path}", ref)
		}
	}
}

// Validate checks c; each message names the field at fault, and every
// fault is reported.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{field}, args...)...))
	}
	hostPort := func(field, v string) {
		if err := checkHostPort(v); err != nil {
			bad(field, "%q is not host:port (%v)", v, err)
		}
	}
	positiveDur := func(field string, d time.Duration) {
		if d <= 0 {
			bad(field, "%v is not positive", d)
		}
	}
	positive := func(field string, n int64) {
		if n <= 0 {
			bad(field, "%d is not positive", n)
		}
	}
	hostPort("listen", c.Listen)
	hostPort("upstream.address", c.Upstream.Address)
	if c.Upstream.Username != "" && c.Upstream.Password == "" {
		bad("upstream.username", "set without upstream.password")
	}
	if c.Upstream.DB < 0 {
		bad("upstream.db", "%d is negative", c.Upstream.DB)
	}
	positiveDur("upstream.dial_timeout", c.Upstream.DialTimeout)
	if c.Upstream.SharedConns < 0 || c.Upstream.SharedConns > 64 {
		bad("upstream.shared_conns", "%d is not from 0 to 64", c.Upstream.SharedConns)
	}
	positive("limits.max_clients", int64(c.Limits.MaxClients))
	positive("limits.max_bulk", int64(c.Limits.MaxBulk))
	if c.Limits.MaxBulk > 1<<40 {
		bad("limits.max_bulk", "%v is more than 1TiB", c.Limits.MaxBulk)
	}
	positive("limits.max_args", int64(c.Limits.MaxArgs))
	switch m := c.Engine.MemoryLimit; {
	case m < 128*KiB:
		bad("engine.memory_limit", "%v is less than 128KiB", m)
	case m > 4*GiB:
		bad("engine.memory_limit", "%v is more than 4GiB", m)
	}
	positiveDur("engine.init_timeout", c.Engine.InitTimeout)
	positiveDur("engine.map_timeout", c.Engine.MapTimeout)
	if c.Engine.PoolSize < 0 {
		bad("engine.pool_size", "%d is negative", c.Engine.PoolSize)
	} else if c.Engine.PoolSize > maxPoolSize {
		bad("engine.pool_size", "%d is more than %d", c.Engine.PoolSize, maxPoolSize)
	}
	names := map[string]bool{}
	for _, cn := range c.Connections {
		f := "connections." + cn.Name
		switch {
		case cn.Name == "":
			bad("connections", "a connection has an empty name")
		case names[cn.Name]:
			bad(f, "given twice")
		case cn.Type == "":
			bad(f+".type", "is required (sqlite, mysql, postgres, ...)")
		}
		names[cn.Name] = true
	}
	switch n := c.Apply.BatchSize; {
	case n <= 0:
		bad("apply.batch_size", "%d is not positive", n)
	case n > MaxBatchSize:
		bad("apply.batch_size", "%d is more than %d", n, MaxBatchSize)
	}
	positiveDur("apply.batch_age", c.Apply.BatchAge)
	if c.Apply.LeaseTTL < 100*time.Millisecond {
		bad("apply.lease_ttl", "%v is less than 100ms", c.Apply.LeaseTTL)
	}
	positiveDur("apply.retry_min", c.Apply.RetryMin)
	positiveDur("apply.write_through_timeout", c.Apply.WriteThroughTimeout)
	if c.Apply.RetryMax < c.Apply.RetryMin {
		bad("apply.retry_max", "%v is less than apply.retry_min (%v)", c.Apply.RetryMax, c.Apply.RetryMin)
	}
	if c.Metrics.Listen != "" {
		hostPort("metrics.listen", c.Metrics.Listen)
	}
	if c.Admin.User == "" {
		bad("admin.user", "is empty")
	}
	positive("admin.max_recipe_size", int64(c.Admin.MaxRecipeSize))
	t := c.Upstream.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		bad("upstream.tls", "cert_file and key_file go together")
	}
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.ServerName != "" || t.InsecureSkipVerify) {
		bad("upstream.tls.enabled", "is false, but other upstream.tls settings are given")
	}
	if c.Apply.Partitions < 1 || c.Apply.Partitions > 16 {
		bad("apply.partitions", "%d is not from 1 to 16", c.Apply.Partitions)
	}
	if c.Apply.MaxAttempts < 0 {
		bad("apply.max_attempts", "%d is negative", c.Apply.MaxAttempts)
	}
	for i, r := range c.Recipes {
		f := fmt.Sprintf("recipes[%d]", i)
		if r.File == "" {
			bad(f+".file", "is required")
		}
		if r.HighWater < 0 {
			bad(f+".high_water", "%d is negative", r.HighWater)
		}
	}
	switch c.Log.Level {
	case "trace", "debug", "info", "warn", "error", "off":
	default:
		bad("log.level", "%q is not one of trace, debug, info, warn, error, off", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q is not text or json", c.Log.Format)
	}
	return errors.Join(errs...)
}

func checkHostPort(v string) error {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return errors.New(ae.Err) // without the address again
		}
		return err
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}
