// Package serve runs the cogs host: it loads the configured recipes into
// the Wasm engine, watches the keys their triggers declare, and serves the
// capture front end until its context is cancelled. It is what
// "cogs serve" runs.
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
	"sync"
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

// Run validates cfg, creates the engine, loads every recipe of
// cfg.Recipes (the first that fails to load stops the start, with an error
// naming its file), builds the Watcher of their triggers, and serves the
// front end on cfg.Listen until ctx is cancelled; then it closes every
// connection, releases the recipes and returns nil. Any other return is a
// start-up error, or the front end failing.
//
// logger is the root logger (nil: none); the parts log through named
// sub-loggers ("serve", "engine", "frontend"). Normal operation logs only
// the start, the loaded recipes and the stop.
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
	var recipes []*engine.Recipe
	defer func() {
		// Released with a fresh context: ctx is cancelled by now.
		cctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		for _, r := range recipes {
			r.Close(cctx)
		}
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

	watched := make([]Watched, 0, len(cfg.Recipes))
	for i, rc := range cfg.Recipes {
		r, err := loadRecipe(ctx, eng, rc)
		if err != nil {
			return fmt.Errorf("recipes[%d]: %s: %w", i, rc.File, err)
		}
		recipes = append(recipes, r)
		m := r.Meta()
		if err := apply.CheckTargets(m, targets); err != nil {
			return fmt.Errorf("recipes[%d]: %s: %w", i, rc.File, err)
		}
		watched = append(watched, Watched{Recipe: m, Source: rc.File, HighWater: rc.HighWater})
		prefixes := make([]string, len(m.Triggers))
		for j, t := range m.Triggers {
			prefixes[j] = t.Prefix
		}
		log.Info("recipe loaded", "recipe", m.Name, "version", m.Version, "file", rc.File,
			"prefixes", strings.Join(prefixes, ","), "stream", StreamKey(m.Name))
	}
	w, err := NewWatcher(watched)
	if err != nil {
		return err
	}

	fcfg := frontend.Config{
		Addr:        cfg.Listen,
		Upstream:    cfg.Upstream.Address,
		Username:    cfg.Upstream.Username,
		Password:    cfg.Upstream.Password,
		DB:          cfg.Upstream.DB,
		DialTimeout: cfg.Upstream.DialTimeout,
		MaxClients:  cfg.Limits.MaxClients,
		MaxBulk:     int(min(cfg.Limits.MaxBulk, config.Size(maxInt))),
		MaxArgs:     cfg.Limits.MaxArgs,
		Logger:      logger,
	}
	if w.Len() > 0 {
		fcfg.Watcher = w
	}
	srv, err := frontend.New(fcfg)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }() // the front end logs "listening"

	// The appliers, one per recipe, on their own upstream connections.
	rdb := redis.NewClient(&redis.Options{
		Addr:        cfg.Upstream.Address,
		Username:    cfg.Upstream.Username,
		Password:    cfg.Upstream.Password,
		DB:          cfg.Upstream.DB,
		DialTimeout: cfg.Upstream.DialTimeout,
	})
	defer rdb.Close()
	actx, stopApply := context.WithCancel(context.Background())
	var appliers sync.WaitGroup
	defer func() { stopApply(); appliers.Wait() }()
	alog := logger.Named("apply")
	for _, r := range recipes {
		a, err := apply.New(apply.Config{
			Redis:       rdb,
			Recipe:      r,
			Targets:     targets,
			Consumer:    cfg.Apply.Consumer,
			BatchSize:   cfg.Apply.BatchSize,
			BatchAge:    cfg.Apply.BatchAge,
			LeaseTTL:    cfg.Apply.LeaseTTL,
			RetryMin:    cfg.Apply.RetryMin,
			RetryMax:    cfg.Apply.RetryMax,
			MaxAttempts: cfg.Apply.MaxAttempts,
			Partitions:  cfg.Apply.Partitions,
			Logger:      alog,
			Observer:    o.observer,
		})
		if err != nil {
			srv.Close()
			<-served
			return err
		}
		appliers.Add(1)
		go func() { defer appliers.Done(); a.Run(actx) }()
	}

	select {
	case <-ctx.Done():
		log.Info("stopping")
		srv.Close()
		<-served
		stopApply()
		appliers.Wait()
		log.Info("stopped")
		return nil
	case err := <-served:
		srv.Close()
		log.Error("front end failed", "error", err)
		return fmt.Errorf("front end: %w", err)
	}
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

// loadRecipe reads a recipe's module and configuration and loads it under
// its file name without the extension.
func loadRecipe(ctx context.Context, eng *engine.Engine, rc config.Recipe) (*engine.Recipe, error) {
	wasm, err := os.ReadFile(rc.File)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the file is already named
		}
		return nil, err
	}
	conf, err := rc.ReadConfig()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	name := strings.TrimSuffix(filepath.Base(rc.File), filepath.Ext(rc.File))
	r, err := eng.Load(ctx, name, wasm, conf)
	if err != nil {
		return nil, err
	}
	return r, nil
}
