package serve

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cogs-dev/cogs/host/config"
	"github.com/cogs-dev/cogs/host/internal/redistest"
)

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	return string(b)
}

// metric returns the value of the sample name{labels} in a scrape, or -1.
func metric(body, sample string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

func TestIntegrationMetrics(t *testing.T) {
	rs := redistest.Start(t)
	conn, _ := sqliteConn(t)
	maddr := freeAddr(t)
	addr := adminHost(t, rs.Addr, conn, func(c *config.Config) {
		c.Metrics.Listen = maddr
		c.Recipes = []config.Recipe{{File: writeRecipe(t)}}
	})
	base := "http://" + maddr
	if body := scrape(t, base+"/healthz"); body != "ok\n" {
		t.Errorf("/healthz: %q", body)
	}
	if body := scrape(t, base+"/readyz"); body != "ready\n" {
		t.Errorf("/readyz: %q", body)
	}
	before := scrape(t, base+"/metrics")
	if v := metric(before, `cogs_recipe_info{recipe="persons",version="1.0.0"}`); v != 1 {
		t.Errorf("cogs_recipe_info: %v\n%s", v, before)
	}
	if v := metric(before, `cogs_changes_total{outcome="applied",recipe="persons"}`); v != 0 {
		t.Errorf("applied before any write: %v", v)
	}

	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		c.HSet(ctx, "person:"+strconv.Itoa(i), "first_name", "F", "last_name", "L", "age", i)
	}
	c.HSet(ctx, "person:bad", "first_name", "F", "last_name", "L", "age", "x")
	var body string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		body = scrape(t, base+"/metrics")
		if metric(body, `cogs_changes_total{outcome="applied",recipe="persons"}`) == 10 &&
			metric(body, `cogs_changes_total{outcome="rejected",recipe="persons"}`) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters did not move:\n%s", grep(body, "cogs_"))
		}
	}
	for sample, want := range map[string]float64{
		`cogs_rows_total{op="upsert",recipe="persons"}`:        10,
		`cogs_changes_read_total{recipe="persons"}`:            11,
		`cogs_dlq_length{recipe="persons"}`:                    1,
		`cogs_stream_length{recipe="persons"}`:                 0,
		`cogs_applier_state{recipe="persons",state="running"}`: 1,
		`cogs_lag_seconds_count{recipe="persons"}`:             10,
	} {
		if got := metric(body, sample); got != want {
			t.Errorf("%s = %v, want %v", sample, got, want)
		}
	}
	if v := metric(body, "cogs_frontend_captured_total"); v != 11 {
		t.Errorf("cogs_frontend_captured_total = %v, want 11", v)
	}
	if v := metric(body, `cogs_changes_captured_total{recipe="persons"}`); v != 11 {
		t.Errorf("cogs_changes_captured_total = %v, want 11", v)
	}
	if v := metric(body, "cogs_frontend_commands_total"); v < 11 {
		t.Errorf("cogs_frontend_commands_total = %v", v)
	}
	if v := metric(body, "cogs_frontend_connections"); v < 1 {
		t.Errorf("cogs_frontend_connections = %v", v)
	}
	if v := metric(body, `cogs_batches_total{recipe="persons"}`); v < 1 {
		t.Errorf("cogs_batches_total = %v", v)
	}
	if v := metric(body, `cogs_recipe_map_duration_seconds_count{recipe="persons"}`); v < 1 {
		t.Errorf("map duration count = %v", v)
	}
}

func grep(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
