package frontend

import (
	"io"
	"runtime"
	"strconv"
	"testing"

	"github.com/cogs-dev/cogs/host/internal/redistest"
)

// TestIntegrationNoAllocs: relaying a pipeline of watched (captured) and
// unwatched HSETs allocates nothing per command, with and without shared
// upstream connections.
func TestIntegrationNoAllocs(t *testing.T) {
	up := redistest.Start(t)
	for _, shared := range []int{0, 2} {
		t.Run("shared="+strconv.Itoa(shared), func(t *testing.T) {
			c := dialRC(t, startFrontend(t, Config{Upstream: up.Addr, Watcher: testWatcher, SharedConns: shared}))
			const n = 20000
			var batch, want []byte
			for i := range 100 {
				k := strconv.Itoa(i)
				batch = append(batch, cmd("HSET", "w:"+k, "a", "1", "b", "2", "c", "3")...)
				batch = append(batch, cmd("HSET", "h:"+k, "a", "1", "b", "2", "c", "3")...)
			}
			// Warm up: the keys exist, buffers have grown.
			round := func() int64 {
				c.send(batch)
				m, err := io.CopyN(io.Discard, c.br, int64(len(want)))
				if err != nil {
					t.Fatalf("read %d bytes: %v", m, err)
				}
				return m
			}
			for range 100 {
				want = append(want, ":0\r\n:0\r\n"...)
			}
			c.do("HSET", "w:0", "a", "1", "b", "2", "c", "3")
			c.do("HSET", "h:0", "a", "1", "b", "2", "c", "3")
			for i := range 100 {
				k := strconv.Itoa(i)
				c.do("HSET", "w:"+k, "a", "1", "b", "2", "c", "3")
				c.do("HSET", "h:"+k, "a", "1", "b", "2", "c", "3")
			}
			round()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for range n / 200 {
				round()
			}
			runtime.ReadMemStats(&after)
			per := float64(after.Mallocs-before.Mallocs) / n
			t.Logf("%.4f allocations per command", per)
			if per > 0.05 {
				t.Errorf("%.2f allocations per command", per)
			}
		})
	}
}
