package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cogs-dev/cogs/host/internal/redistest"
)

// Write-through against MariaDB: the row is there when the client's reply
// comes; a change the target or the recipe refuses leaves Redis unchanged
// and the client gets the reason; Redis's own errors pass.
func TestIntegrationWriteThrough(t *testing.T) {
	for _, shared := range []int{0, 2} {
		t.Run(fmt.Sprintf("shared_conns=%d", shared), func(t *testing.T) { writeThroughBasics(t, shared) })
	}
}

func writeThroughBasics(t *testing.T, shared int) {
	tg := mariadbTarget(t, mysqlAddr)
	if _, err := tg.db.Exec(`ALTER TABLE persons ADD CONSTRAINT age_ok CHECK (age >= 0)`); err != nil {
		t.Fatal(err)
	}
	rs := redistest.Start(t)
	cfg := hostConfig(t, rs.Addr, tg, recipeFile(t, "testdata/wtpersons"))
	cfg.Upstream.SharedConns = shared
	runHost(t, cfg, nil)
	c := client(t, cfg.Listen)
	direct := client(t, rs.Addr)
	ctx := context.Background()
	row := func(id string) string {
		t.Helper()
		got := tg.table(t, "SELECT person_id, first, last, age FROM persons WHERE person_id = '"+id+"'")
		return strings.Join(got, ",")
	}

	if n, err := c.HSet(ctx, "wperson:1", "first_name", "Ann", "last_name", "Lee", "age", "42").Result(); err != nil || n != 3 {
		t.Fatalf("HSET: %v, %v", n, err)
	}
	if got := row("1"); got != "1|Ann|Lee|42" { // no waiting: it is written through
		t.Errorf("row after the reply: %q", got)
	}
	if n, err := c.HIncrBy(ctx, "wperson:1", "age", 1).Result(); err != nil || n != 43 {
		t.Fatalf("HINCRBY: %v, %v", n, err)
	}
	if got := row("1"); got != "1|Ann|Lee|43" {
		t.Errorf("row after HINCRBY: %q", got)
	}

	// The target refuses (CHECK constraint): Redis is left as it was.
	err := c.HSet(ctx, "wperson:1", "age", "-5").Err()
	if err == nil || !strings.HasPrefix(err.Error(), `COGSWRITETHROUGH target "mysql" refused: `) || !strings.Contains(err.Error(), "age_ok") {
		t.Errorf("a refused write: %v", err)
	}
	if v := direct.HGet(ctx, "wperson:1", "age").Val(); v != "43" {
		t.Errorf("Redis after a refused write: age %q, want 43", v)
	}
	// The recipe rejects it.
	err = c.HSet(ctx, "wperson:2", "first_name", "Bob", "age", "old").Err()
	if err == nil || err.Error() != `COGSWRITETHROUGH recipe "wtpersons" rejected the change: age is not an integer` {
		t.Errorf("a rejected write: %v", err)
	}
	if n := direct.Exists(ctx, "wperson:2").Val(); n != 0 {
		t.Errorf("a rejected write reached Redis")
	}
	// Redis's own error: nothing reaches the target.
	direct.Set(ctx, "wperson:3", "a string", 0)
	if err := c.HSet(ctx, "wperson:3", "age", "1").Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
		t.Errorf("HSET of a string key: %v", err)
	}
	if got := row("3"); got != "" {
		t.Errorf("a WRONGTYPE write reached the target: %q", got)
	}
	// Pipelined with other commands, in order; inside MULTI refused.
	pipe := c.Pipeline()
	get1 := pipe.HGet(ctx, "wperson:1", "age")
	set4 := pipe.HSet(ctx, "wperson:4", "first_name", "Cy", "last_name", "Oz", "age", "9")
	get4 := pipe.HGet(ctx, "wperson:4", "first_name")
	if _, err := pipe.Exec(ctx); err != nil || get1.Val() != "43" || set4.Val() != 3 || get4.Val() != "Cy" {
		t.Errorf("pipeline: %v %v %v %v", err, get1.Val(), set4.Val(), get4.Val())
	}
	var queued *redis.IntCmd
	_, err = c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		queued = p.HSet(ctx, "wperson:5", "age", "1")
		return nil
	})
	if err == nil || queued.Err() == nil || !strings.Contains(queued.Err().Error(), "cannot happen inside MULTI") {
		t.Errorf("write-through inside MULTI: %v, %v", err, queued.Err())
	}
	if n := direct.Exists(ctx, "wperson:5").Val(); n != 0 {
		t.Errorf("a write-through write inside MULTI reached Redis")
	}
	// DEL deletes the row first.
	if n, err := c.Del(ctx, "wperson:4").Result(); err != nil || n != 1 {
		t.Fatalf("DEL: %v %v", n, err)
	}
	if got := row("4"); got != "" {
		t.Errorf("row after DEL: %q", got)
	}
	// Nothing went to the change stream (which the applier creates).
	if info, err := direct.XInfoStream(ctx, "cogs:{wtpersons}:changes").Result(); err == nil && info.EntriesAdded != 0 {
		t.Errorf("%d write-through changes were also written behind", info.EntriesAdded)
	}
}

// Many clients writing a few write-through keys at once: Redis and the
// table end in the same state.
func TestIntegrationWriteThroughConcurrent(t *testing.T) {
	tg := mariadbTarget(t, mysqlAddr)
	rs := redistest.Start(t)
	cfg := hostConfig(t, rs.Addr, tg, recipeFile(t, "testdata/wtpersons"))
	runHost(t, cfg, nil)
	ctx := context.Background()
	const writers, writes, keys = 16, 200, 4
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := redis.NewClient(&redis.Options{Addr: cfg.Listen})
			defer c.Close()
			for i := range writes {
				key := "wperson:" + strconv.Itoa((w+i)%keys)
				var err error
				switch i % 4 {
				case 0, 1:
					err = c.HSet(ctx, key, "first_name", fmt.Sprint("w", w), "last_name", fmt.Sprint("i", i), "age", i).Err()
				case 2:
					err = c.HIncrBy(ctx, key, "age", 1).Err()
					if err != nil && strings.Contains(err.Error(), "rejected") {
						err = nil // HINCRBY on a deleted key: no names, but an age; fine either way
					}
				case 3:
					if i%8 == 3 {
						err = c.Del(ctx, key).Err()
					} else {
						err = c.HSet(ctx, key, "last_name", "x").Err()
						if err != nil && strings.Contains(err.Error(), "rejected the change") {
							err = nil // no age yet after a DEL: rejected, Redis unchanged
						}
					}
				}
				if err != nil {
					errs <- fmt.Errorf("writer %d, write %d: %w", w, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d write-through writes in %v", writers*writes, time.Since(start).Round(time.Millisecond))
	direct := client(t, rs.Addr)
	want := []string{}
	for k := range keys {
		h := direct.HGetAll(ctx, "wperson:"+strconv.Itoa(k)).Val()
		if len(h) == 0 {
			continue
		}
		f := func(n string) string {
			if v, ok := h[n]; ok {
				return v
			}
			return "<nil>"
		}
		want = append(want, strings.Join([]string{strconv.Itoa(k), f("first_name"), f("last_name"), f("age")}, "|"))
	}
	got := tg.table(t, "SELECT person_id, first, last, age FROM persons ORDER BY person_id")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("table and Redis differ:\n table %v\n redis %v", got, want)
	}
}
