// Command demo is what `make demo` runs: cogs in front of a throwaway
// redis-server, with the persons recipe of rgsync's example writing behind
// to an embedded SQLite database. It writes a few persons through cogs with
// an ordinary Redis client, waits for them to reach SQLite, and prints the
// table and what was dead-lettered.
//
//	go run ./examples/demo [-recipe bin/recipes/persons.wasm] [-keep DIR]
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/cogs-dev/cogs/host/apply"
	"github.com/cogs-dev/cogs/host/config"
	"github.com/cogs-dev/cogs/host/serve"
)

func main() {
	recipe := flag.String("recipe", "bin/recipes/persons.wasm", "the compiled persons recipe")
	keep := flag.String("keep", "", "keep the SQLite database in this directory (default: a temporary one, removed)")
	flag.Parse()
	if err := run(*recipe, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(recipe, keep string) error {
	if _, err := os.Stat(recipe); err != nil {
		return fmt.Errorf("%v (build it with `make recipes`)", err)
	}
	dir, err := os.MkdirTemp("", "cogs-demo")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	dbDir := dir
	if keep != "" {
		dbDir = keep
		if err := os.MkdirAll(keep, 0o755); err != nil {
			return err
		}
	}

	step("starting a throwaway redis-server")
	upstream, stopRedis, err := startRedis(dir)
	if err != nil {
		return err
	}
	defer stopRedis()

	step("creating the persons table in SQLite")
	dbPath := filepath.Join(dbDir, "demo.db")
	os.Remove(dbPath)
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE persons (person_id TEXT PRIMARY KEY, first TEXT, last TEXT, age INTEGER)`); err != nil {
		return err
	}

	listen, err := freeAddr()
	if err != nil {
		return err
	}
	cfg := config.Default()
	cfg.Listen = listen
	cfg.Upstream.Address = upstream
	// The persons recipe's trigger names the connection "mysql", as in
	// rgsync's example; here it is the embedded SQLite database.
	cfg.Connections = config.Connections{{Name: "mysql", Type: "sqlite", Options: map[string]any{"path": dbPath}}}
	cfg.Recipes = []config.Recipe{{File: recipe}}
	step("starting cogs on " + listen + " in front of " + upstream)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	logger := hclog.New(&hclog.LoggerOptions{Name: "cogs", Output: os.Stderr, Level: hclog.Info})
	go func() { served <- serve.Run(ctx, cfg, logger) }()
	defer func() { cancel(); <-served }()

	c := redis.NewClient(&redis.Options{Addr: listen})
	defer c.Close()
	for start := time.Now(); c.Ping(ctx).Err() != nil; {
		select {
		case err := <-served:
			served <- err
			return fmt.Errorf("cogs: %v", err)
		default:
		}
		if time.Since(start) > 20*time.Second {
			return errors.New("cogs did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}

	step("writing persons through cogs (an ordinary Redis client)")
	cmds := [][]any{
		{"HSET", "person:1", "first_name", "Ada", "last_name", "Lovelace", "age", "36"},
		{"HSET", "person:2", "first_name", "Alan", "last_name", "Turing", "age", "41"},
		{"HSET", "person:3", "first_name", "Grace", "last_name", "Hopper", "age", "85"},
		{"HSET", "person:4", "first_name", "Edsger", "last_name", "Dijkstra", "age", "72"},
		{"HINCRBY", "person:1", "age", "1"},
		{"DEL", "person:4"},
		{"HSET", "person:5", "first_name", "Nobody", "last_name", "Known", "age", "unknown"},
		{"HSET", "person:6", "first_name", "Barbara", "last_name", "Liskov", "age", "86", "#", "=demo-ack"},
	}
	for _, cmd := range cmds {
		reply, err := c.Do(ctx, cmd...).Result()
		if err != nil {
			return fmt.Errorf("%v: %v", cmd, err)
		}
		fmt.Printf("  %-70s -> %v\n", strings.TrimSuffix(fmt.Sprintln(cmd...), "\n"), reply)
	}
	step("waiting for the acknowledgement of person:6 (rgsync's \"#\" field)")
	res, err := c.XRead(ctx, &redis.XReadArgs{Streams: []string{"{person:6}demo-ack", "0"}, Block: 20 * time.Second}).Result()
	if err != nil {
		return fmt.Errorf("acknowledgement: %v", err)
	}
	fmt.Printf("  {person:6}demo-ack: %v\n", res[0].Messages[0].Values)

	keys := apply.KeysOf("persons")
	for start := time.Now(); c.XLen(ctx, keys.Stream).Val() > 0; {
		if time.Since(start) > 20*time.Second {
			return errors.New("the change stream did not drain")
		}
		time.Sleep(20 * time.Millisecond)
	}

	step("the persons table in SQLite (" + dbPath + ")")
	rows, err := db.Query(`SELECT person_id, first, last, age FROM persons ORDER BY person_id`)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  person_id\tfirst\tlast\tage")
	for rows.Next() {
		var id, first, last string
		var age int64
		if err := rows.Scan(&id, &first, &last, &age); err != nil {
			return err
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", id, first, last, strconv.FormatInt(age, 10))
	}
	rows.Close()
	tw.Flush()

	step("dead-lettered changes (" + keys.DLQ + ")")
	dl, err := c.XRange(ctx, keys.DLQ, "-", "+").Result()
	if err != nil {
		return err
	}
	for _, m := range dl {
		fmt.Printf("  %s %v: %v\n", m.ID, m.Values["key"], m.Values["error"])
	}
	step("done")
	return nil
}

func step(s string) { fmt.Println("==> " + s) }

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startRedis starts redis-server on a free port, keeping nothing on disk.
func startRedis(dir string) (string, func(), error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, errors.New("redis-server is not installed (make demo installs it with apt-get)")
	}
	addr, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for start := time.Now(); c.Ping(context.Background()).Err() != nil; {
		if time.Since(start) > 10*time.Second {
			stop()
			return "", nil, errors.New("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr, stop, nil
}
