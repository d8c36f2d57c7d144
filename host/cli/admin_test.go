package cli

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"

	"github.com/cogs-dev/cogs/host/config"
	"github.com/cogs-dev/cogs/host/enginetest"
	"github.com/cogs-dev/cogs/host/internal/redistest"
	"github.com/cogs-dev/cogs/host/serve"
)

// adminHost runs a cogs host with the admin commands on and a SQLite
// persons table as the connection "mysql", and returns its address and the
// table.
func adminHost(t *testing.T) (string, *sql.DB) {
	t.Helper()
	rs := redistest.Start(t)
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE persons (person_id TEXT PRIMARY KEY, first TEXT, last TEXT, age INTEGER)`); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Listen = freeAddr(t)
	cfg.Upstream.Address = rs.Addr
	cfg.Engine.CacheDir = enginetest.CacheDir()
	cfg.Connections = config.Connections{{Name: "mysql", Type: "sqlite", Options: map[string]any{"path": path}}}
	cfg.Apply.BatchAge = 10 * time.Millisecond
	cfg.Admin.Password = "pw"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve.Run(ctx, cfg, hclog.NewNullLogger()) }()
	t.Cleanup(func() { cancel(); <-done })
	waitListening(t, cfg.Listen)
	t.Setenv("COGS_ADMIN_PASSWORD", "pw")
	t.Setenv("COGS_ADDR", cfg.Listen)
	return cfg.Listen, db
}

func runCLI(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := Main(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestIntegrationRecipeCommands(t *testing.T) {
	addr, db := adminHost(t)
	file := filepath.Join(t.TempDir(), "persons.wasm")
	if err := os.WriteFile(file, enginetest.Build(t, "../../examples/persons"), 0o644); err != nil {
		t.Fatal(err)
	}

	if code, out, errs := runCLI("recipe", "load", file); code != 0 || out != "loaded persons 1.0.0\n" {
		t.Fatalf("recipe load: %d %q %q", code, out, errs)
	}
	// The same version again: refused (exit 1), with the reason.
	if code, _, errs := runCLI("recipe", "load", file); code != 1 || !strings.Contains(errs, "recipe refused (version not higher)") {
		t.Errorf("second load: %d %q", code, errs)
	}
	if code, out, errs := runCLI("recipe", "load", file, "--replace", "--json"); code != 0 {
		t.Errorf("load --replace: %d %q", code, errs)
	} else {
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil || m["name"] != "persons" || m["replaced"] != "1.0.0" {
			t.Errorf("load --json: %q (%v)", out, err)
		}
	}
	if code, _, errs := runCLI("recipe", "load", filepath.Join(t.TempDir(), "none.wasm")); code != 1 || !strings.Contains(errs, "no such file") {
		t.Errorf("load of a missing file: %d %q", code, errs)
	}
	if code, _, _ := runCLI("recipe", "load"); code != 2 {
		t.Errorf("load without a file: exit %d, want 2", code)
	}

	// Writes through cogs, one rejected by the recipe.
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	c.HSet(ctx, "person:1", "first_name", "Ann", "last_name", "Lee", "age", "42")
	c.HSet(ctx, "person:2", "first_name", "Bob", "last_name", "Ray", "age", "old")
	var dlqOut string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, dlqOut, _ = runCLI("dlq", "list", "persons")
		if strings.Contains(dlqOut, "person:2") || time.Now().After(deadline) {
			break
		}
	}
	if !strings.Contains(dlqOut, "person:2") || !strings.Contains(dlqOut, "age is not an integer") || !strings.Contains(dlqOut, "recipe") {
		t.Fatalf("dlq list: %q", dlqOut)
	}

	code, out, errs := runCLI("status")
	if code != 0 || !strings.Contains(out, "RECIPE") || !strings.Contains(out, "persons") || !strings.Contains(out, "running") {
		t.Errorf("status: %d %q %q", code, out, errs)
	}
	code, out, _ = runCLI("status", "--json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list) != 1 || list[0]["dlq_length"] != int64(1) && list[0]["dlq_length"] != float64(1) {
		t.Errorf("status --json: %d %q (%v)", code, out, err)
	}
	if code, out, _ := runCLI("recipe", "status", "persons"); code != 0 || !strings.Contains(out, "version:") || !strings.Contains(out, "1.0.0") {
		t.Errorf("recipe status: %d %q", code, out)
	}
	if code, _, errs := runCLI("recipe", "status", "nobody"); code != 1 || !strings.Contains(errs, `no such recipe "nobody"`) {
		t.Errorf("status of an unknown recipe: %d %q", code, errs)
	}

	// Fix the value, replay: the key is captured again with its current
	// state and reaches the table.
	c.HSet(ctx, "person:2", "age", "50")
	if code, out, errs := runCLI("dlq", "drop", "persons"); code != 2 || !strings.Contains(errs, "--yes") {
		t.Errorf("dlq drop without --yes: %d %q %q", code, out, errs)
	}
	if code, out, errs := runCLI("dlq", "replay", "persons"); code != 0 || out != "replayed 1 dead-lettered change(s) of persons\n" {
		t.Errorf("dlq replay: %d %q %q", code, out, errs)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var age int
		if db.QueryRow(`SELECT age FROM persons WHERE person_id = '2'`).Scan(&age) == nil && age == 50 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replayed change did not reach the table")
		}
	}
	if _, out, _ := runCLI("dlq", "list", "persons"); out != "no dead-lettered changes\n" {
		t.Errorf("dlq list after replay: %q", out)
	}

	if code, out, _ := runCLI("recipe", "delete", "persons"); code != 0 || out != "deleted persons\n" {
		t.Errorf("recipe delete: %d %q", code, out)
	}
	if code, out, _ := runCLI("recipe", "list"); code != 0 || out != "no recipes loaded\n" {
		t.Errorf("recipe list after delete: %d %q", code, out)
	}
	// A wrong password is refused.
	if code, _, errs := runCLI("recipe", "list", "--password", "nope"); code != 1 || !strings.Contains(errs, "WRONGPASS") {
		t.Errorf("wrong password: %d %q", code, errs)
	}
}
