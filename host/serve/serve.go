// Package serve runs the cogs host: the recipe registry (recipes loaded
// from the configuration or at runtime by RECIPE LOAD, stored in Redis and
// shared by every host), an applier per recipe writing its stream behind
// to the target connections, the capture front end that watches the keys
// of their triggers (and writes write-through keys through), the RECIPE
// admin commands, and the metrics endpoint, until its context is
// cancelled. It is what "cogs serve" runs.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/cogs-dev/cogs/connectors"
	"github.com/cogs-dev/cogs/host/apply"
	"github.com/cogs-dev/cogs/host/config"
	"github.com/cogs-dev/cogs/host/engine"
	"github.com/cogs-dev/cogs/host/frontend"
)

// closeTimeout bounds releasing the engine at shutdown.
const closeTimeout = 10 * time.Second

// Run validates cfg, creates the engine, opens the target connections,
// runs the recipes stored in Redis and then those of cfg.Recipes (the
// first that fails to load stops the start, with an error naming its
// file), starts their appliers, and serves the front end on cfg.Listen
// (and the metrics on cfg.Metrics.Listen) until ctx is cancelled; then it
// closes every connection, stops the appliers, releases the recipes and
// returns nil. Any other return is a start-up error, or the front end
// failing.
//
// logger is the root logger (nil: none); the parts log through named
// sub-loggers ("serve", "engine", "recipes", "apply", "frontend",
// "metrics"). Normal operation logs only lifecycle events and state
// changes: the start, recipes loaded, replaced or deleted, a target or
// Redis failing and recovering, dead letters (one line per batch), the
// stop.
func Run(ctx context.Context, cfg config.Config, logger hclog.Logger, opts ...Option) error {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	log := logger.Named("serve")
	routeDriverLogs(logger)
	log.Info("starting", "listen", cfg.Listen, "upstream", cfg.Upstream.Address, "recipes", len(cfg.Recipes))
	tlsConfig, err := cfg.Upstream.TLS.Config()
	if err != nil {
		return fmt.Errorf("upstream.tls: %w", err)
	}

	eng, err := engine.New(ctx, engine.Config{
		CacheDir:    cfg.Engine.CacheDir,
		MemoryLimit: uint64(cfg.Engine.MemoryLimit),
		InitTimeout: cfg.Engine.InitTimeout,
		MapTimeout:  cfg.Engine.MapTimeout,
		PoolSize:    cfg.Engine.PoolSize,
		Logger:      logger,
	})
	if err != nil {
		return err
	}
	defer func() {
		// Released with a fresh context: ctx is cancelled by now.
		cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		eng.Close(cctx)
	}()

	targets := map[string]connectors.Connector{}
	defer func() {
		for _, c := range targets {
			c.Close()
		}
	}()
	for _, cn := range cfg.Connections {
		c, err := connectors.Open(cn.Type, cn.Options)
		if err != nil {
			return fmt.Errorf("connections.%s: %w", cn.Name, err)
		}
		targets[cn.Name] = c
	}

	// The registry and the appliers, on their own upstream connections.
	rdb := redis.NewClient(&redis.Options{
		Addr:        cfg.Upstream.Address,
		Username:    cfg.Upstream.Username,
		Password:    cfg.Upstream.Password,
		DB:          cfg.Upstream.DB,
		DialTimeout: cfg.Upstream.DialTimeout,
		TLSConfig:   tlsConfig,
	})
	defer rdb.Close()
	actx, stopApply := context.WithCancel(context.Background())
	defer stopApply()
	m := newMetrics(o.observer)
	reg := newRegistry(actx, eng, rdb, targets, apply.Config{
		Redis:       rdb,
		Targets:     targets,
		Consumer:    cfg.Apply.Consumer,
		BatchSize:   cfg.Apply.BatchSize,
		BatchAge:    cfg.Apply.BatchAge,
		LeaseTTL:    cfg.Apply.LeaseTTL,
		RetryMin:    cfg.Apply.RetryMin,
		RetryMax:    cfg.Apply.RetryMax,
		MaxAttempts: cfg.Apply.MaxAttempts,
		Partitions:  cfg.Apply.Partitions,
		Logger:      logger.Named("apply"),
		Observer:    m,
	}, int64(cfg.Admin.MaxRecipeSize), logger.Named("recipes"))
	m.reg = reg
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		reg.close(cctx)
	}()
	// The recipes stored in Redis (loaded at runtime, here or by another
	// host), then the configured ones.
	if err := reg.reconcile(ctx); err != nil {
		return fmt.Errorf("reading the recipes stored in Redis at %s: %w", cfg.Upstream.Address, err)
	}
	preloaded := map[string]string{}
	for i, rc := range cfg.Recipes {
		if err := preload(ctx, reg, rc, preloaded, log); err != nil {
			return fmt.Errorf("recipes[%d]: %s: %w", i, rc.File, err)
		}
	}

	fcfg := frontend.Config{
		Addr:         cfg.Listen,
		Upstream:     cfg.Upstream.Address,
		Username:     cfg.Upstream.Username,
		Password:     cfg.Upstream.Password,
		DB:           cfg.Upstream.DB,
		DialTimeout:  cfg.Upstream.DialTimeout,
		TLS:          tlsConfig,
		SharedConns:  cfg.Upstream.SharedConns,
		MaxClients:   cfg.Limits.MaxClients,
		MaxBulk:      int(min(cfg.Limits.MaxBulk, config.Size(maxInt))),
		MaxArgs:      cfg.Limits.MaxArgs,
		Watcher:      reg,
		WriteThrough: writeThrough{reg: reg, timeout: cfg.Apply.WriteThroughTimeout},
		Logger:       logger,
	}
	if cfg.Admin.Password != "" {
		fcfg.Admin = &admin{reg: reg}
		fcfg.AdminCommands = []string{"RECIPE"}
		fcfg.AdminUser = cfg.Admin.User
		fcfg.AdminPassword = cfg.Admin.Password
	}
	srv, err := frontend.New(fcfg)
	if err != nil {
		return err
	}
	m.frontend = srv.Stats
	var ml net.Listener
	if cfg.Metrics.Listen != "" {
		if ml, err = net.Listen("tcp", cfg.Metrics.Listen); err != nil {
			return fmt.Errorf("metrics.listen: %w", err)
		}
		defer ml.Close()
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }() // the front end logs "listening"
	synced := make(chan struct{})
	go func() { defer close(synced); reg.sync(actx) }()
	if ml != nil {
		go serveMetrics(actx, ml, m, func(ctx context.Context) error { return rdb.Ping(ctx).Err() }, logger.Named("metrics"))
	}

	select {
	case <-ctx.Done():
		log.Info("stopping")
		srv.Close()
		<-served
		stopApply()
		<-synced
		log.Info("stopped")
		return nil
	case err := <-served:
		srv.Close()
		stopApply()
		<-synced
		log.Error("front end failed", "error", err)
		return fmt.Errorf("front end: %w", err)
	}
}

// preload loads the configured recipe rc, unless a newer version of it is
// running (a RECIPE LOAD since). preloaded maps the names loaded from the
// configuration so far to their files.
func preload(ctx context.Context, reg *Registry, rc config.Recipe, preloaded map[string]string, log hclog.Logger) error {
	wasm, err := os.ReadFile(rc.File)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the file is already named
		}
		return err
	}
	conf, err := rc.ReadConfig()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	name := strings.TrimSuffix(filepath.Base(rc.File), filepath.Ext(rc.File))
	res, err := reg.Load(ctx, wasm, conf, LoadOptions{Name: name, Source: rc.File, HighWater: rc.HighWater, KeepNewer: true})
	if err != nil {
		var re *RefusedError
		if errors.As(err, &re) {
			return re.Err // it names the recipe and what is wrong
		}
		return err
	}
	m := res.Recipe
	if prev, dup := preloaded[m.Name]; dup {
		return fmt.Errorf("recipe %q is loaded twice: from %s and from %s", m.Name, prev, rc.File)
	}
	preloaded[m.Name] = rc.File
	if res.Kept != "" && !res.Same {
		log.Info("configured recipe not loaded: the one running is newer or the same", "recipe", m.Name, "running", res.Kept, "file", rc.File)
	}
	return nil
}

const maxInt = int(^uint(0) >> 1)

// Option adjusts Run.
type Option func(*options)

type options struct {
	observer apply.Observer
}

// WithObserver has every applier report its batches to o.
func WithObserver(o apply.Observer) Option {
	return func(opts *options) { opts.observer = o }
}
