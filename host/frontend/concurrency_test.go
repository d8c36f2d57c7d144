package frontend

import (
	"strconv"
	"sync"
	"testing"

	"github.com/cogs-dev/cogs/host/internal/redistest"
)

// TestIntegrationConcurrentClients: many clients pipelining watched and
// unwatched writes at once; every reply in order, every watched write
// captured once.
func TestIntegrationConcurrentClients(t *testing.T) {
	up := redistest.Start(t)
	addr := startFrontend(t, Config{Upstream: up.Addr, Watcher: testWatcher, MaxPipeline: 7})
	const clients, rounds, depth = 16, 20, 10
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialRC(t, addr)
			id := strconv.Itoa(i)
			for r := range rounds {
				var b []byte
				for d := range depth {
					n := strconv.Itoa(r*depth + d)
					if d%2 == 0 {
						b = append(b, cmd("HSET", "w:c"+id, "f"+n, n)...)
					} else {
						b = append(b, cmd("INCR", "plain"+id)...)
					}
				}
				c.send(b)
				for d := range depth {
					got := string(c.read())
					n := r*depth + d
					want := ":1\r\n"
					if d%2 == 1 {
						want = ":" + strconv.Itoa(n/2+1) + "\r\n"
					}
					if got != want {
						t.Errorf("client %d, command %d: %s, want %s", i, n, show([]byte(got)), show([]byte(want)))
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if got, want := dialRC(t, up.Addr).do("XLEN", "cogs:stream:r"), ":"+strconv.Itoa(clients*rounds*depth/2)+"\r\n"; got != want {
		t.Errorf("XLEN: %s, want %s", show([]byte(got)), show([]byte(want)))
	}
}
