package engine_test

import (
	"context"
	"math/rand"
	"strconv"
	"testing"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/engine"
)

// TestSDKWasmPaths runs generated changes through the echo recipe in Wasm,
// where the SDK takes its word-read fast paths (native builds do not), and
// compares every result with what Go computes directly.
func TestSDKWasmPaths(t *testing.T) {
	e := newEngine(t, engine.Config{})
	r := load(t, e, "echo")
	rnd := rand.New(rand.NewSource(1))
	alphabet := []byte("ab#:-_09é\x00\xff")
	randStr := func(max int) string {
		b := make([]byte, rnd.Intn(max+1))
		for i := range b {
			b[i] = alphabet[rnd.Intn(len(alphabet))]
		}
		return string(b)
	}
	values := []string{"", "0", "-0", "+7", "42", "-42", "007", "12345678", "123456789", "1234567890123456",
		"12345678901234567", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
		"1e3", " 1", "1 ", "--1", "+", "-", "0x10", "١٢", "12a", "a12"}
	prefixes := []string{"e:", "echo-with-a-prefix-longer-than-16:"}
	var changes []abi.Change
	for i := 0; i < 3000; i++ {
		c := abi.Change{Op: abi.ChangeSet, Data: abi.DataHash, ID: abi.StreamID{Ms: 1, Seq: uint64(i)}}
		c.Trigger = uint32(rnd.Intn(2))
		c.Key = prefixes[c.Trigger] + randStr(24)
		seen := map[string]bool{}
		for n := rnd.Intn(6); n > 0; n-- {
			name := randStr(20)
			if seen[name] {
				continue
			}
			seen[name] = true
			v := values[rnd.Intn(len(values))]
			if rnd.Intn(4) == 0 {
				v = randStr(20)
			}
			c.Fields = append(c.Fields, abi.Field{Name: name, Value: v})
		}
		if rnd.Intn(10) == 0 {
			c.Op, c.Fields = abi.ChangeDelete, nil
		}
		changes = append(changes, c)
	}
	for _, batch := range []int{1, 7, 1000} {
		for start := 0; start < len(changes); start += batch {
			end := min(start+batch, len(changes))
			res, err := r.Map(context.Background(), changes[start:end])
			if err != nil {
				t.Fatal(err)
			}
			for i := range res {
				c := &changes[start+i]
				want := abi.Result{Change: uint32(i), Outcome: abi.OutcomeRows}
				if c.Op == abi.ChangeDelete {
					want.Rows = []abi.RowOp{{Op: abi.RowDelete, Table: "echo", Keys: []abi.Column{{Name: "key", Value: abi.String(c.Key)}}}}
				} else {
					row := abi.RowOp{Op: abi.RowUpsert, Table: "echo", Keys: []abi.Column{
						{Name: "key", Value: abi.String(c.Key)},
						{Name: "suffix", Value: abi.String(c.Key[len(prefixes[c.Trigger]):])}}}
					for _, f := range c.Fields {
						row.Cols = append(row.Cols, abi.Column{Name: f.Name, Value: abi.String(f.Value)})
						if n, err := strconv.ParseInt(f.Value, 10, 64); err == nil {
							row.Cols = append(row.Cols, abi.Column{Name: "int:" + f.Name, Value: abi.Int(n)})
						} else {
							row.Cols = append(row.Cols, abi.Column{Name: "bad:" + f.Name, Value: abi.Null()})
						}
					}
					want.Rows = []abi.RowOp{row}
				}
				if got, w := abi.ResultText(&res[i]), abi.ResultText(&want); got != w {
					t.Fatalf("batch %d, change %d (%s):\n got %s\nwant %s", batch, start+i, abi.ChangeText(c), got, w)
				}
			}
		}
	}
}
