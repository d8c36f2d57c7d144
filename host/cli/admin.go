package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
)

// adminFlags are the flags of the commands that talk to a running cogs
// through its admin commands.
type adminFlags struct {
	addr, user, password string
	json                 bool
}

func (f *adminFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "addr", envOr("COGS_ADDR", "127.0.0.1:6380"), "the cogs port (env COGS_ADDR)")
	fs.StringVar(&f.user, "user", envOr("COGS_ADMIN_USER", "cogs"), "the admin user (env COGS_ADMIN_USER)")
	fs.StringVar(&f.password, "password", "", "the admin password (default: env COGS_ADMIN_PASSWORD)")
	fs.BoolVar(&f.json, "json", false, "print JSON")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func (f *adminFlags) client() *redis.Client {
	pw := f.password
	if pw == "" {
		pw = os.Getenv("COGS_ADMIN_PASSWORD")
	}
	return redis.NewClient(&redis.Options{Addr: f.addr, Username: f.user, Password: pw, Protocol: 2,
		DialTimeout: 5 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute, MaxRetries: -1})
}

// parseArgs parses args with fs, letting flags follow the positional
// arguments ("cogs recipe load x.wasm --replace"), and returns the
// positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// adminCmd runs one of the commands that talk to a running cogs.
func adminCmd(name string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cogs "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var af adminFlags
	af.register(fs)
	var replace, purge, yes, watch bool
	var configFile string
	var count int
	var interval time.Duration
	switch name {
	case "recipe load":
		fs.BoolVar(&replace, "replace", false, "load even if the version is not higher than the loaded one")
		fs.StringVar(&configFile, "config", "", "the recipe's load-time configuration (a file)")
	case "recipe delete":
		fs.BoolVar(&purge, "purge", false, "also delete the recipe's stream and dead-letter stream")
	case "status":
		fs.BoolVar(&watch, "watch", false, "refresh in place")
		fs.DurationVar(&interval, "interval", 2*time.Second, "refresh interval with --watch")
	case "dlq":
		fs.IntVar(&count, "count", 100, "most entries to list")
		fs.BoolVar(&yes, "yes", false, "confirm drop")
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(msg string) int {
		fmt.Fprintf(stderr, "cogs %s: %s\n", name, msg)
		return 2
	}
	c := af.client()
	defer c.Close()
	ctx := context.Background()
	out := &printer{w: stdout, json: af.json}
	var cmdErr error
	switch name {
	case "recipe load":
		if len(pos) != 1 {
			return usageErr("want one FILE.wasm")
		}
		cmdErr = recipeLoad(ctx, c, out, pos[0], configFile, replace)
	case "recipe list":
		if len(pos) != 0 {
			return usageErr("takes no arguments")
		}
		cmdErr = recipeList(ctx, c, out)
	case "recipe status":
		if len(pos) != 1 {
			return usageErr("want one recipe name")
		}
		cmdErr = recipeStatus(ctx, c, out, pos[0])
	case "recipe delete":
		if len(pos) != 1 {
			return usageErr("want one recipe name")
		}
		args := []any{"RECIPE", "DELETE", pos[0]}
		if purge {
			args = append(args, "PURGE")
		}
		if cmdErr = c.Do(ctx, args...).Err(); cmdErr == nil {
			out.done(map[string]any{"deleted": pos[0], "purged": purge}, "deleted "+pos[0])
		}
	case "status":
		if len(pos) != 0 {
			return usageErr("takes no arguments")
		}
		for {
			if watch && !af.json {
				fmt.Fprint(stdout, "\x1b[H\x1b[2J") // home, clear
			}
			cmdErr = recipeList(ctx, c, out)
			if !watch || cmdErr != nil {
				break
			}
			time.Sleep(interval)
		}
	case "dlq":
		if len(pos) < 2 {
			return usageErr("want list|show|replay|drop RECIPE [ID...]")
		}
		cmdErr = dlqCmd(ctx, c, out, pos[0], pos[1], pos[2:], count, yes)
		if errors.Is(cmdErr, errUsage) {
			return usageErr(cmdErr.Error())
		}
	}
	if cmdErr != nil {
		fmt.Fprintf(stderr, "cogs %s: %v\n", name, cmdErr)
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

// printer prints a result as text or as JSON.
type printer struct {
	w    io.Writer
	json bool
}

func (p *printer) done(v any, text string) {
	if p.json {
		b, _ := json.MarshalIndent(v, "", "  ")
		fmt.Fprintln(p.w, string(b))
		return
	}
	fmt.Fprintln(p.w, text)
}

func recipeLoad(ctx context.Context, c *redis.Client, out *printer, file, configFile string, replace bool) error {
	wasm, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	args := []any{"RECIPE", "LOAD"}
	if replace {
		args = append(args, "REPLACE")
	}
	if configFile != "" {
		conf, err := os.ReadFile(configFile)
		if err != nil {
			return err
		}
		args = append(args, "CONFIG", conf)
	}
	args = append(args, wasm)
	v, err := c.Do(ctx, args...).Result()
	if err != nil {
		return err
	}
	m := asMap(v)
	text := "loaded " + str(m["name"]) + " " + str(m["version"])
	if m["replaced"] != nil {
		text += " (replaced " + str(m["replaced"]) + ")"
	}
	out.done(m, text)
	return nil
}

func recipeList(ctx context.Context, c *redis.Client, out *printer) error {
	v, err := c.Do(ctx, "RECIPE", "LIST", "WITHSTATS").Slice()
	if err != nil {
		return err
	}
	list := make([]map[string]any, len(v))
	for i, x := range v {
		list[i] = asMap(x)
	}
	if out.json {
		out.done(list, "")
		return nil
	}
	if len(list) == 0 {
		fmt.Fprintln(out.w, "no recipes loaded")
		return nil
	}
	tw := tabwriter.NewWriter(out.w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "RECIPE\tVERSION\tSTATE\tSTREAM\tPENDING\tLAG\tROWS/S\tAPPLIED\tFAILED\tDLQ\tLAST APPLIED")
	for _, m := range list {
		state := str(m["state"])
		if e := str(m["last_error"]); e != "" {
			state += " (" + e + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", str(m["name"]), str(m["version"]), state,
			str(m["stream_length"]), str(m["pending"]), lag(m["lag_ms"]), str(m["rows_per_second"]), str(m["applied"]), str(m["failed"]),
			str(m["dlq_length"]), str(m["last_applied"]))
	}
	return tw.Flush()
}

func lag(v any) string {
	ms, _ := strconv.ParseInt(str(v), 10, 64)
	return (time.Duration(ms) * time.Millisecond).String()
}

func recipeStatus(ctx context.Context, c *redis.Client, out *printer, name string) error {
	v, err := c.Do(ctx, "RECIPE", "STATUS", name).Result()
	if err != nil {
		return err
	}
	m := asMap(v)
	if out.json {
		out.done(m, "")
		return nil
	}
	tw := tabwriter.NewWriter(out.w, 2, 8, 2, ' ', 0)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(tw, "%s:\t%s\n", k, str(m[k]))
	}
	return tw.Flush()
}

func dlqCmd(ctx context.Context, c *redis.Client, out *printer, sub, recipe string, ids []string, count int, yes bool) error {
	switch sub {
	case "list":
		v, err := c.Do(ctx, "RECIPE", "DLQ", recipe, "LIST", "COUNT", count).Slice()
		if err != nil {
			return err
		}
		entries := make([]map[string]any, len(v))
		for i, x := range v {
			entries[i] = asMap(x)
		}
		if out.json {
			out.done(entries, "")
			return nil
		}
		if len(entries) == 0 {
			fmt.Fprintln(out.w, "no dead-lettered changes")
			return nil
		}
		tw := tabwriter.NewWriter(out.w, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKEY\tOP\tSTAGE\tERROR")
		for _, e := range entries {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", str(e["id"]), str(e["key"]), str(e["op"]), str(e["stage"]), str(e["error"]))
		}
		return tw.Flush()
	case "show":
		if len(ids) != 1 {
			return fmt.Errorf("%w: dlq show RECIPE ID", errUsage)
		}
		v, err := c.Do(ctx, "RECIPE", "DLQ", recipe, "SHOW", ids[0]).Result()
		if err != nil {
			return err
		}
		m := asMap(v)
		if out.json {
			out.done(m, "")
			return nil
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			fmt.Fprintf(out.w, "%s: %s\n", k, str(m[k]))
		}
		return nil
	case "replay", "drop":
		if sub == "drop" && !yes {
			return fmt.Errorf("%w: dlq drop deletes dead-lettered changes for good: add --yes", errUsage)
		}
		args := []any{"RECIPE", "DLQ", recipe, strings.ToUpper(sub)}
		if len(ids) == 0 {
			args = append(args, "ALL")
		}
		for _, id := range ids {
			args = append(args, id)
		}
		n, err := c.Do(ctx, args...).Int64()
		if err != nil {
			return err
		}
		verb := "replayed"
		if sub == "drop" {
			verb = "dropped"
		}
		out.done(map[string]any{verb: n}, fmt.Sprintf("%s %d dead-lettered change(s) of %s", verb, n, recipe))
		return nil
	}
	return fmt.Errorf("%w: unknown dlq command %q (list, show, replay, drop)", errUsage, sub)
}

// asMap turns a RESP2 map reply (a flat array) into a map.
func asMap(v any) map[string]any {
	m := map[string]any{}
	if a, ok := v.([]any); ok {
		for i := 0; i+1 < len(a); i += 2 {
			m[str(a[i])] = a[i+1]
		}
	}
	return m
}

func str(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case []any:
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = str(x)
		}
		return strings.Join(s, ", ")
	}
	return fmt.Sprint(v)
}
