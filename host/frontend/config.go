package frontend

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Defaults of Config.
const (
	DefaultAddr         = "127.0.0.1:6380"
	DefaultUpstream     = "127.0.0.1:6379"
	DefaultMaxClients   = 10000 // redis-server's maxclients
	DefaultMaxPipeline  = 1024
	DefaultDialTimeout  = 5 * time.Second
	DefaultPollInterval = 100 * time.Millisecond
	DefaultAdminUser    = "cogs"
)

// Config configures a Server. Zero fields take their defaults.
type Config struct {
	// Addr is the address to listen on. Default 127.0.0.1:6380.
	Addr string

	// Upstream is the address of the upstream redis-server. Default
	// 127.0.0.1:6379.
	Upstream string
	// Username and Password authenticate each upstream connection when
	// Password is set (AUTH [username] password). A client that sends AUTH
	// or HELLO AUTH itself re-authenticates its own upstream connection.
	Username string
	Password string
	// DB is the database each upstream connection selects when it opens.
	// The capture script writes change streams to this database, whatever
	// database the client has selected.
	DB int
	// DialTimeout bounds opening an upstream connection. Default 5s.
	DialTimeout time.Duration
	// TLS, if set, is the TLS configuration of every upstream connection
	// (set its ServerName, RootCAs, and Certificates for a server that
	// authenticates clients). Nil: plain TCP.
	TLS *tls.Config

	// MaxClients is the most client connections served at once; one more
	// is answered "-ERR max number of clients reached" and closed.
	// Default 10000.
	MaxClients int
	// MaxBulk is the longest bulk argument (and the longest "*" or "$"
	// line) a client may send; a longer one is answered "-ERR Protocol
	// error: invalid bulk length" and the connection closed, as Redis
	// does. Default 512 MiB. Replies from the upstream are not limited:
	// they are streamed.
	MaxBulk int
	// MaxArgs is the most arguments a command may have; more is answered
	// "-ERR Protocol error: invalid multibulk length" and the connection
	// closed. Default 1<<20.
	MaxArgs int
	// MaxPipeline is the most commands forwarded before the upstream
	// connection is flushed, when a client pipelines more than that: a
	// bound on batching, not an error (replies are not counted, so that
	// pub/sub and push messages need no special case). Default 1024.
	MaxPipeline int

	// SharedConns, if above 0, is the number of upstream connections that
	// clients share: each client's stateless commands (reads and writes
	// of keys) are pipelined onto one of them together with other
	// clients', and a client gets a dedicated upstream connection only
	// from its first command that depends on or changes the state of its
	// connection (MULTI, WATCH, SELECT, a blocking command, pub/sub,
	// AUTH, CLIENT, ...). Clients that say HELLO 3 share as many RESP3
	// connections. 0 (the default): every client has its own upstream
	// connection from the start. See the package documentation.
	SharedConns int

	// PollInterval is how often the length of each stream with a
	// high-water mark (Watch.HighWater) is read. Default 100ms.
	PollInterval time.Duration

	// Watcher says which keys are watched. Nil: none, and every command
	// passes through. It is asked for every command, so a watch it adds
	// or drops at run time applies at once to every connection.
	Watcher Watcher

	// WriteThrough applies the changes of write-through keys (a Watch
	// with Mode abi.ModeWriteThrough) to their target before Redis is
	// written; without it, writes to such keys are refused.
	WriteThrough WriteThrough

	// Admin answers AdminCommands, the commands cogs serves itself (such
	// as RECIPE), for a client that authenticated with AUTH (or HELLO
	// AUTH) as AdminUser with AdminPassword; anyone else gets Redis's
	// NOPERM error. That AUTH is answered by cogs, not the upstream: the
	// client's upstream connection keeps its configured credentials. With
	// AdminPassword empty every admin command is refused, and an AUTH as
	// AdminUser goes to the upstream like any other.
	Admin         Admin
	AdminCommands []string // command names, in any case
	AdminUser     string   // default "cogs"
	AdminPassword string
	// Logger is the front end's logger (named "frontend" by New). Default:
	// a null logger.
	Logger hclog.Logger
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Upstream == "" {
		c.Upstream = DefaultUpstream
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.MaxClients <= 0 {
		c.MaxClients = DefaultMaxClients
	}
	if c.MaxPipeline <= 0 {
		c.MaxPipeline = DefaultMaxPipeline
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.AdminUser == "" {
		c.AdminUser = DefaultAdminUser
	}
	return c
}

// Validate checks c; its message names the field at fault.
func (c Config) Validate() error {
	var errs []error
	if c.DB < 0 {
		errs = append(errs, fmt.Errorf("frontend: db: %d is negative", c.DB))
	}
	if c.Username != "" && c.Password == "" {
		errs = append(errs, errors.New("frontend: username: set without password"))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"max_clients", c.MaxClients}, {"max_bulk", c.MaxBulk}, {"max_args", c.MaxArgs}, {"max_pipeline", c.MaxPipeline}, {"shared_conns", c.SharedConns}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("frontend: %s: %d is negative", f.name, f.v))
		}
	}
	for _, n := range c.AdminCommands {
		if n == "" || len(n) > 32 || strings.ContainsAny(n, " \t\r\n") {
			errs = append(errs, fmt.Errorf("frontend: admin_commands: %q is not a command name", n))
		}
	}
	if len(c.AdminCommands) > 0 && c.Admin == nil {
		errs = append(errs, errors.New("frontend: admin_commands: set, but no Admin answers them"))
	}
	return errors.Join(errs...)
}
