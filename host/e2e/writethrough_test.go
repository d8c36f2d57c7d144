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

// startWTPersons runs a host with the wtpersons write-through recipe
// into MariaDB, whose persons table refuses a negative age (CHECK
// age_ok), and returns a client of cogs, one of the Redis behind it, and
// the row of a person id in the table ("" when there is none).
func startWTPersons(t *testing.T, shared int) (c, direct *redis.Client, row func(id string) string) {
	tg := mariadbTarget(t, mysqlAddr)
	if _, err := tg.db.Exec(`ALTER TABLE persons ADD CONSTRAINT age_ok CHECK (age >= 0)`); err != nil {
		t.Fatal(err)
	}
	rs := redistest.Start(t)
	cfg := hostConfig(t, rs.Addr, tg, recipeFile(t, "testdata/wtpersons"))
	cfg.Upstream.SharedConns = shared
	runHost(t, cfg, nil)
	return client(t, cfg.Listen), client(t, rs.Addr), func(id string) string {
		t.Helper()
		return strings.Join(tg.table(t, "SELECT person_id, first, last, age FROM persons WHERE person_id = '"+id+"'"), ",")
	}
}

func writeThroughBasics(t *testing.T, shared int) {
	c, direct, row := startWTPersons(t, shared)
	ctx := context.Background()

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

// rgsync's write-through convention: clients written against rgsync write
// the temporary key __{<key>} with the "#" field and read the outcome from
// the acknowledgement stream, as in rgsync's README.
func TestIntegrationWriteThroughRGSync(t *testing.T) {
	for _, shared := range []int{0, 2} {
		t.Run(fmt.Sprintf("shared_conns=%d", shared), func(t *testing.T) { writeThroughRGSync(t, shared) })
	}
}

func writeThroughRGSync(t *testing.T, shared int) {
	c, direct, row := startWTPersons(t, shared)
	ctx := context.Background()
	// ack reads the acknowledgement stream {<key>}<uuid>, as rgsync's
	// clients do, and checks its TTL.
	ack := func(key, uuid string) map[string]any {
		t.Helper()
		s := "{" + key + "}" + uuid
		res, err := direct.XRead(ctx, &redis.XReadArgs{Streams: []string{s, "0-0"}, Block: 2 * time.Second}).Result()
		if err != nil || len(res) != 1 || len(res[0].Messages) != 1 {
			t.Fatalf("XREAD %s: %v %v", s, res, err)
		}
		if ttl := direct.TTL(ctx, s).Val(); ttl <= 3500*time.Second || ttl > 3600*time.Second {
			t.Errorf("TTL of %s: %v", s, ttl)
		}
		return res[0].Messages[0].Values
	}
	const uuid = "6ce0c902-30c2-4ac9-8342-2f04fb359a94"

	// rgsync's README, a successful write.
	if n, err := c.HSet(ctx, "__{wperson:1}", "first_name", "foo", "last_name", "bar", "age", "20", "#", "="+uuid).Result(); err != nil || n != 4 {
		t.Fatalf("HSET __{wperson:1}: %v, %v", n, err)
	}
	if got := ack("wperson:1", uuid); fmt.Sprint(got) != "map[status:done]" {
		t.Errorf("acknowledgement: %v", got)
	}
	if got := direct.HGetAll(ctx, "wperson:1").Val(); fmt.Sprint(got) != "map[age:20 first_name:foo last_name:bar]" {
		t.Errorf("HGETALL wperson:1: %v", got)
	}
	if got := row("1"); got != "1|foo|bar|20" {
		t.Errorf("row: %q", got)
	}
	if n := direct.Exists(ctx, "__{wperson:1}").Val(); n != 0 {
		t.Errorf("the temporary key was stored")
	}
	// A failed write: the reply is the same, the acknowledgement says why,
	// and neither Redis nor the table changes.
	if n, err := c.HSet(ctx, "__{wperson:1}", "age", "-5", "#", "=u2").Result(); err != nil || n != 2 {
		t.Fatalf("HSET __{wperson:1} refused by the target: %v, %v", n, err)
	}
	if got := ack("wperson:1", "u2"); got["status"] != "failed" || !strings.Contains(fmt.Sprint(got["error"]), "age_ok") {
		t.Errorf("acknowledgement of a failure: %v", got)
	}
	if v := direct.HGet(ctx, "wperson:1", "age").Val(); v != "20" || row("1") != "1|foo|bar|20" {
		t.Errorf("after a failed write: Redis age %q, row %q", v, row("1"))
	}
	// Without a uuid there is no acknowledgement: the failure is the reply.
	if err := c.HSet(ctx, "__{wperson:1}", "age", "-5").Err(); err == nil || !strings.HasPrefix(err.Error(), `COGSWRITETHROUGH target "mysql" refused: `) {
		t.Errorf("a failed write without a uuid: %v", err)
	}
	if n, err := c.HSet(ctx, "__{wperson:1}", "age", "21").Result(); err != nil || n != 1 || row("1") != "1|foo|bar|21" || direct.HGet(ctx, "wperson:1", "age").Val() != "21" {
		t.Errorf("a write without a uuid: %v %v, row %q", n, err, row("1"))
	}
	// The recipe rejects the merged image.
	if _, err := c.HSet(ctx, "__{wperson:1}", "age", "old", "#", "=u3").Result(); err != nil {
		t.Fatal(err)
	}
	if got := ack("wperson:1", "u3"); got["status"] != "failed" || !strings.Contains(fmt.Sprint(got["error"]), "age is not an integer") {
		t.Errorf("acknowledgement of a rejection: %v", got)
	}
	// "+": Redis only; "-": deleted from Redis only.
	if ok, err := c.HMSet(ctx, "__{wperson:1}", "last_name", "baz", "#", "+u4").Result(); err != nil || !ok {
		t.Fatalf("HMSET +: %v %v", ok, err)
	}
	if got := ack("wperson:1", "u4"); fmt.Sprint(got) != "map[status:done]" || direct.HGet(ctx, "wperson:1", "last_name").Val() != "baz" || row("1") != "1|foo|bar|21" {
		t.Errorf("after +: ack %v, Redis %v, row %q", got, direct.HGetAll(ctx, "wperson:1").Val(), row("1"))
	}
	if _, err := c.HSet(ctx, "__{wperson:1}", "#", "-").Result(); err != nil {
		t.Fatal(err)
	}
	if direct.Exists(ctx, "wperson:1").Val() != 0 || row("1") != "1|foo|bar|21" {
		t.Errorf("after -: Redis %v, row %q", direct.HGetAll(ctx, "wperson:1").Val(), row("1"))
	}
	// "~": deleted from the table, then from Redis.
	c.HSet(ctx, "__{wperson:2}", "first_name", "Bo", "last_name", "Li", "age", "7")
	if row("2") != "2|Bo|Li|7" {
		t.Fatalf("row 2: %q", row("2"))
	}
	if _, err := c.HSet(ctx, "__{wperson:2}", "#", "~u5").Result(); err != nil {
		t.Fatal(err)
	}
	if got := ack("wperson:2", "u5"); fmt.Sprint(got) != "map[status:done]" || direct.Exists(ctx, "wperson:2").Val() != 0 || row("2") != "" {
		t.Errorf("after ~: ack %v, Redis %v, row %q", got, direct.HGetAll(ctx, "wperson:2").Val(), row("2"))
	}
	// Redis refuses the write ("+" has no dry run): with a uuid the
	// acknowledgement says so and the reply is rgsync's; without one the
	// error is the reply.
	direct.Set(ctx, "wperson:7", "a string", 0)
	if n, err := c.HSet(ctx, "__{wperson:7}", "age", "1", "#", "+u6").Result(); err != nil || n != 2 {
		t.Errorf("HSET + of a string key with a uuid: %v %v", n, err)
	}
	if got := ack("wperson:7", "u6"); got["status"] != "failed" || !strings.HasPrefix(fmt.Sprint(got["error"]), "WRONGTYPE") {
		t.Errorf("acknowledgement of WRONGTYPE: %v", got)
	}
	if err := c.HSet(ctx, "__{wperson:7}", "age", "1", "#", "+").Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
		t.Errorf("HSET + of a string key without a uuid: %v", err)
	}
	// An acknowledgement key that is not a stream: nothing is written.
	direct.Set(ctx, "{wperson:8}u7", "x", 0)
	if err := c.HSet(ctx, "__{wperson:8}", "first_name", "Di", "last_name", "Do", "age", "5", "#", "=u7").Err(); err == nil || !strings.Contains(err.Error(), "acknowledgement stream") {
		t.Errorf("an acknowledgement key of another type: %v", err)
	}
	if direct.Exists(ctx, "wperson:8").Val() != 0 || row("8") != "" {
		t.Errorf("a write with an unusable acknowledgement key reached Redis or the table")
	}
	// Refused: an unknown operation, and inside MULTI.
	if err := c.HSet(ctx, "__{wperson:3}", "age", "1", "#", "x").Err(); err == nil || !strings.HasPrefix(err.Error(), "COGS HSET refused: ") {
		t.Errorf("an unknown operation: %v", err)
	}
	var queued *redis.IntCmd
	_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		queued = p.HSet(ctx, "__{wperson:3}", "age", "1")
		return nil
	})
	if err == nil || queued.Err() == nil || !strings.Contains(queued.Err().Error(), "cannot happen inside MULTI") {
		t.Errorf("inside MULTI: %v, %v", err, queued.Err())
	}
	if n := direct.Exists(ctx, "wperson:3", "__{wperson:3}").Val(); n != 0 || row("3") != "" {
		t.Errorf("a refused write reached Redis or the table")
	}
	// The key of another recipe's temporary form, or of none, is an
	// ordinary key.
	if err := c.HSet(ctx, "__{car:1}", "f", "v").Err(); err != nil || direct.HGet(ctx, "__{car:1}", "f").Val() != "v" {
		t.Errorf("HSET of an ordinary key in braces: %v", err)
	}
}

// A write-through write behind a slow command of its own client lets go of
// the key's lock while it waits, and runs its dry run again once it holds
// it: a write of another client to the key meanwhile is not lost.
func TestIntegrationWriteThroughSlowBarrier(t *testing.T) {
	tg := mariadbTarget(t, mysqlAddr)
	rs := redistest.Start(t)
	cfg := hostConfig(t, rs.Addr, tg, recipeFile(t, "testdata/wtpersons"))
	runHost(t, cfg, nil)
	a, b := client(t, cfg.Listen), client(t, cfg.Listen)
	ctx := context.Background()
	if err := a.HSet(ctx, "wperson:9", "first_name", "Al", "last_name", "Bo", "age", "1").Err(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var incr *redis.IntCmd
	go func() {
		pipe := a.Pipeline()
		pipe.BLPop(ctx, 300*time.Millisecond, "nolist") // times out: nil
		incr = pipe.HIncrBy(ctx, "wperson:9", "age", 1)
		_, err := pipe.Exec(ctx)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // a's HINCRBY waits behind its BLPOP
	if n, err := b.HIncrBy(ctx, "wperson:9", "age", 10).Result(); err != nil || n != 11 {
		t.Errorf("b's HINCRBY: %v %v", n, err)
	}
	if err := <-done; err != redis.Nil {
		t.Fatalf("a's pipeline: %v", err)
	}
	if incr.Val() != 12 {
		t.Errorf("a's HINCRBY replied %d, want 12", incr.Val())
	}
	if got := strings.Join(tg.table(t, "SELECT person_id, first, last, age FROM persons"), ","); got != "9|Al|Bo|12" || b.HGet(ctx, "wperson:9", "age").Val() != "12" {
		t.Errorf("table %q, Redis age %q", got, b.HGet(ctx, "wperson:9", "age").Val())
	}
}
