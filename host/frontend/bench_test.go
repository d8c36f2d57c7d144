package frontend

import (
	"strconv"
	"testing"

	"github.com/cogs-dev/cogs/host/internal/redistest"
)

// BenchmarkIntegrationHSET compares a 3-field HSET straight to Redis with
// the same HSET through cogs, on an unwatched and on a watched key, one
// client, unpipelined and 16 deep. Only ratios within one run mean
// anything.
func BenchmarkIntegrationHSET(b *testing.B) {
	up := redistest.Start(b)
	addr := startFrontend(b, Config{Upstream: up.Addr, Watcher: testWatcher})
	for _, depth := range []int{1, 16} {
		for _, tc := range []struct{ name, addr, key string }{
			{"direct", up.Addr, "h:"},
			{"direct-script", up.Addr, "w:"}, // the capture script, sent straight to Redis
			{"cogs-unwatched", addr, "h:"},
			{"cogs-watched", addr, "w:"},
		} {
			b.Run(tc.name+"/P"+strconv.Itoa(depth), func(b *testing.B) {
				c := dialRC(b, tc.addr)
				var batch []byte
				for i := range depth {
					args := []string{"HSET", tc.key + strconv.Itoa(i), "a", "1", "b", "2", "c", "3"}
					if tc.name == "direct-script" {
						c.do("SCRIPT", "LOAD", captureScript)
						args = append([]string{"EVALSHA", captureSHA, "2", args[1], "cogs:stream:r", "1", "0", "always", "hash"}, args...)
					}
					batch = append(batch, cmd(args...)...)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i += depth {
					c.send(batch)
					for range depth {
						c.read()
					}
				}
			})
		}
	}
	dialRC(b, up.Addr).do("DEL", "cogs:stream:r")
}
