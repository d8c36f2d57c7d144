package frontend

import (
	"errors"
	"fmt"
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

	// PollInterval is how often the length of each stream with a
	// high-water mark (Watch.HighWater) is read. Default 100ms.
	PollInterval time.Duration

	// Watcher says which keys are watched. Nil: none, and every command
	// passes through.
	Watcher Watcher
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
	}{{"max_clients", c.MaxClients}, {"max_bulk", c.MaxBulk}, {"max_args", c.MaxArgs}, {"max_pipeline", c.MaxPipeline}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("frontend: %s: %d is negative", f.name, f.v))
		}
	}
	return errors.Join(errs...)
}
