package redis

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
	goredis "github.com/redis/go-redis/v9"
)

func col(name string, v abi.Value) abi.Column { return abi.Column{Name: name, Value: v} }

// queued returns the arguments of the commands one batch queues in its
// MULTI, without sending them.
func queued(t *testing.T, c *Connector, ops []abi.RowOp, types map[string]string) []string {
	t.Helper()
	c.c = goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	defer c.c.Close()
	p := c.c.TxPipeline()
	var out []string
	for i := range ops {
		key, err := c.tmpl.key(&ops[i])
		if err != nil {
			t.Fatal(err)
		}
		st := &keyState{typ: types[key]}
		err = c.queue(context.Background(), p, &ops[i], key, st, func(cmd goredis.Cmder) {
			args := make([]string, len(cmd.Args()))
			for i, a := range cmd.Args() {
				args[i] = fmt.Sprint(a)
			}
			out = append(out, strings.Join(args, "|"))
		})
		if err != nil {
			out = append(out, "error: "+err.Error())
		}
	}
	return out
}

func TestQueuedCommands(t *testing.T) {
	tmpl, err := parseTemplate("{table}:{keys}")
	if err != nil {
		t.Fatal(err)
	}
	key := []abi.Column{col("id", abi.Int(7))}
	ops := []abi.RowOp{
		{Op: abi.RowUpsert, Table: "p", Keys: key, Cols: []abi.Column{col("name", abi.String("Ann")), col("gone", abi.Null()), col("f", abi.Float(2)), col("b", abi.Bytes([]byte{1, 2})), col("ok", abi.Bool(false))}},
		{Op: abi.RowDelete, Table: "p", Keys: key},
		{Op: abi.RowUpsert, Table: "p", Keys: key, Cols: []abi.Column{col("nan", abi.Float(nanValue()))}},
	}
	for _, tc := range []struct {
		name string
		c    Connector
		want []string
	}{
		{"hash merge", Connector{mode: ModeHash}, []string{
			"hdel|p:7|gone", "hset|p:7|id|7|name|Ann|f|2|b|\x01\x02|ok|0", "del|p:7", "hset|p:7|id|7|nan|NaN",
		}},
		{"hash replace ttl", Connector{mode: ModeHash, replace: true, ttl: time.Minute}, []string{
			"del|p:7", "hset|p:7|id|7|name|Ann|f|2|b|\x01\x02|ok|0", "expire|p:7|60", "del|p:7", "del|p:7", "hset|p:7|id|7|nan|NaN", "expire|p:7|60",
		}},
		{"json merge", Connector{mode: ModeJSON}, []string{
			`JSON.MERGE|p:7|$|{"id":7,"name":"Ann","gone":null,"f":2.0,"b":"AQI=","ok":false}`, "del|p:7",
			`error: table "p": column "nan": float NaN has no JSON form`,
		}},
		{"json replace", Connector{mode: ModeJSON, replace: true}, []string{
			`JSON.SET|p:7|$|{"id":7,"name":"Ann","f":2.0,"b":"AQI=","ok":false}`, "del|p:7",
			`error: table "p": column "nan": float NaN has no JSON form`,
		}},
		{"json string", Connector{mode: ModeJSONString}, []string{
			`set|p:7|{"id":7,"name":"Ann","f":2.0,"b":"AQI=","ok":false}`, "del|p:7",
			`error: table "p": column "nan": float NaN has no JSON form`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.tmpl = tmpl
			got := queued(t, &c, ops, map[string]string{"p:7": "none"})
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("queued:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func nanValue() float64 {
	var zero float64
	return zero / zero
}

func TestDocMerge(t *testing.T) {
	d := &doc{raw: `{"a": 1, "b": {"x": [1,2]}, "c": "s"}`}
	op := abi.RowOp{Table: "t", Keys: []abi.Column{col("id", abi.Int(1))}, Cols: []abi.Column{col("a", abi.Null()), col("c", abi.String("t")), col("d", abi.Float(0.5))}}
	if err := d.merge(&op); err != nil {
		t.Fatal(err)
	}
	if want := `{"b":{"x": [1,2]},"c":"t","id":1,"d":0.5}`; d.raw != want {
		t.Errorf("merged = %s, want %s", d.raw, want)
	}
	for _, bad := range []string{`[1]`, `"s"`, `{"a":1} {}`, `{"a":`} {
		if err := (&doc{raw: bad}).merge(&op); err == nil {
			t.Errorf("merge into %s succeeded", bad)
		}
	}
}

func TestTemplate(t *testing.T) {
	op := abi.RowOp{Table: "person", Keys: []abi.Column{col("id", abi.Int(-3)), col("org", abi.String("a:b")), col("on", abi.Bool(true))}}
	for tmpl, want := range map[string]string{
		"{table}:{keys}":        "person:-3:a:b:1",
		"{{{table}}}:{id}":      "{person}:-3",
		"x:{org}/{id}:{{y}}":    "x:a:b/-3:{y}",
		"{table}:{on}:{{}}{id}": "person:1:{}-3",
	} {
		tp, err := parseTemplate(tmpl)
		if err != nil {
			t.Errorf("%s: %v", tmpl, err)
			continue
		}
		if got, err := tp.key(&op); err != nil || got != want {
			t.Errorf("%s: %q, %v; want %q", tmpl, got, err, want)
		}
	}
}

func TestPermanent(t *testing.T) {
	ctx := context.Background()
	// Redis errors come only from a server: a fake one answers each
	// command with the next error of a list.
	replies := []string{"-WRONGTYPE Operation against a key holding the wrong kind of value", "-LOADING Redis is loading the dataset in memory",
		"-BUSY Redis is busy running a script", "-TRYAGAIN Multiple keys request during rehashing of slot", "-ERR unknown command 'X'",
		"-OOM command not allowed when used memory > 'maxmemory'", "-READONLY You can't write against a read only replica.", "-NOSCRIPT No matching script"}
	want := []bool{true, false, false, false, true, false, false, true}
	at := fakeServer(t, replies)
	c := goredis.NewClient(&goredis.Options{Addr: at, MaxRetries: -1, Protocol: 2, DisableIdentity: true})
	defer c.Close()
	for i := range replies {
		err := c.Do(ctx, "X").Err()
		if err == nil {
			t.Fatalf("reply %d: no error", i)
		}
		if got := Permanent(err); got != want[i] {
			t.Errorf("Permanent(%v) = %v, want %v", err, got, want[i])
		}
	}
	for _, err := range []error{context.Canceled, context.DeadlineExceeded, &net.OpError{Op: "read", Err: errors.New("reset")}, goredis.TxFailedErr, goredis.ErrClosed, fmt.Errorf("x: %w", errors.New("EOF"))} {
		if Permanent(err) {
			t.Errorf("Permanent(%v) = true", err)
		}
	}
}

// fakeServer answers each command X of one connection with the next of
// replies (a RESP error line), HELLO with an error (an old server) and
// any other command with +OK.
func fakeServer(t *testing.T, replies []string) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		// A client drops a connection after some errors (READONLY): serve
		// the connections one after the other.
		for len(replies) > 0 {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			r := bufio.NewReader(conn)
			for len(replies) > 0 {
				args, err := readCommand(r)
				if err != nil {
					break
				}
				reply := "+OK"
				if strings.EqualFold(args[0], "HELLO") {
					reply = "-ERR unknown command 'HELLO'"
				}
				if len(args) == 1 && args[0] == "X" {
					reply, replies = replies[0], replies[1:]
				}
				if _, err := conn.Write([]byte(reply + "\r\n")); err != nil {
					break
				}
			}
			conn.Close()
		}
	}()
	return l.Addr().String()
}

// readCommand reads one RESP array of bulk strings.
func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "*") {
		return nil, fmt.Errorf("not an array: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return nil, err
	}
	args := make([]string, n)
	for i := range args {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(line[1:]))
		if err != nil {
			return nil, err
		}
		b := make([]byte, size+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:size])
	}
	return args, nil
}

// TestIntegrationWatchRetry makes another client write to a key of the
// batch between the type check and EXEC, n times in a row: the connector
// checks and sends the batch again, and gives up (transient, nothing
// applied) after watchRetries aborted EXECs.
func TestIntegrationWatchRetry(t *testing.T) {
	addr := os.Getenv("COGS_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err != nil {
		if os.Getenv("COGS_REQUIRE_INTEGRATION") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	} else {
		c.Close()
	}
	ctx := context.Background()
	other := goredis.NewClient(&goredis.Options{Addr: addr, DisableIdentity: true})
	defer other.Close()
	for _, conflicts := range []int{1, watchRetries - 1, watchRetries} {
		t.Run(fmt.Sprint(conflicts), func(t *testing.T) {
			p := fmt.Sprintf("cogstest:watch:%d:", time.Now().UnixNano())
			conn, err := Open(map[string]any{"address": addr, "key_template": p + "{table}:{keys}", "checkpoint_key": p + "cp"})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			defer other.Del(ctx, p+"t:1", p+"t:2", p+"cp")
			h := &conflictHook{n: conflicts, touch: func() { other.HSet(ctx, p+"t:1", "other", "x") }}
			conn.c.AddHook(h)
			ops := []abi.RowOp{
				{Op: abi.RowUpsert, Table: "t", Keys: []abi.Column{col("id", abi.Int(1))}, Cols: []abi.Column{col("v", abi.String("a"))}},
				{Op: abi.RowUpsert, Table: "t", Keys: []abi.Column{col("id", abi.Int(2))}, Cols: []abi.Column{col("v", abi.String("b"))}},
			}
			err = conn.Apply(ctx, ops, connectors.Checkpoint{Stream: "s", ID: abi.StreamID{Ms: 5}})
			if h.multis != min(conflicts+1, watchRetries) {
				t.Errorf("%d MULTIs sent, want %d", h.multis, min(conflicts+1, watchRetries))
			}
			cp, _ := conn.Checkpoint(ctx, "s")
			n, _ := other.Exists(ctx, p+"t:2").Result()
			if conflicts < watchRetries {
				if err != nil || cp.Ms != 5 || n != 1 {
					t.Errorf("apply = %v, checkpoint %v, row 2 exists %d; want applied", err, cp, n)
				}
				return
			}
			if err == nil || connectors.IsPermanent(err) || !errors.Is(err, goredis.TxFailedErr) {
				t.Errorf("apply = %v, want a transient aborted transaction", err)
			}
			if cp.Ms != 0 || n != 0 {
				t.Errorf("checkpoint %v, row 2 exists %d; want nothing applied", cp, n)
			}
		})
	}
}

// conflictHook runs touch before each of the first n MULTI/EXEC pipelines.
type conflictHook struct {
	n, multis int
	touch     func()
}

func (h *conflictHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (h *conflictHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return next
}

func (h *conflictHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if len(cmds) > 0 && cmds[0].Name() == "multi" {
			h.multis++
			if h.multis <= h.n {
				h.touch()
			}
		}
		return next(ctx, cmds)
	}
}
