package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/cogs-dev/cogs/host/config"
	"github.com/cogs-dev/cogs/host/serve"
)

// signalContext returns the context cogs serve runs under: cancelled on
// SIGINT or SIGTERM. Tests replace it.
var signalContext = func() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func serveCmd(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("cogs serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "the YAML configuration file (default: none, every setting at its default)")
	listen := fs.String("listen", "", "address of the cogs port, overriding listen of the file (default "+config.DefaultListen+")")
	upstream := fs.String("upstream", "", "address of the redis-server, overriding upstream.address of the file (default "+config.DefaultUpstream+")")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cogs serve [--config FILE] [--listen ADDR] [--upstream ADDR]\n\n"+
			"Serves the cogs front end: applications connect to it instead of their Redis; writes to\n"+
			"the keys of the configured recipes are captured into their change streams.\n"+
			"Stops cleanly on SIGINT or SIGTERM. Exit status: 0 stopped by a signal, 1 failed to\n"+
			"start or failed, 2 usage.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "cogs serve: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "cogs serve: %v\n", err)
		return 1
	}
	cfg := config.Default()
	if *configFile != "" {
		var err error
		if cfg, err = config.Load(*configFile); err != nil {
			return fail(err)
		}
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *upstream != "" {
		cfg.Upstream.Address = *upstream
	}
	if err := cfg.Validate(); err != nil {
		if *configFile != "" {
			return fail(fmt.Errorf("%s: %w", *configFile, err))
		}
		return fail(err)
	}
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       "cogs",
		Level:      hclog.LevelFromString(cfg.Log.Level),
		JSONFormat: cfg.Log.Format == "json",
		Output:     stderr,
	})
	ctx, stop := signalContext()
	defer stop()
	if err := serve.Run(ctx, cfg, logger); err != nil {
		return fail(err)
	}
	return 0
}
