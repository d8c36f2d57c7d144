package serve

import (
	"context"
	"fmt"
	"log"
	"strings"
	"sync"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"
)

var driverLogsOnce sync.Once

// routeDriverLogs sends what the Redis and MySQL client libraries print
// on their own (a pool failing to dial, a bad idle connection closed) to
// logger at debug level: the host reports the errors that matter itself,
// once per state change, and these would repeat them at every attempt.
// The libraries have one global logger each, so the first Run sets them.
func routeDriverLogs(logger hclog.Logger) {
	driverLogsOnce.Do(func() {
		redis.SetLogger(redisLog{logger.Named("redis")})
		mysql.SetLogger(log.New(debugWriter{logger.Named("mysql")}, "", 0))
	})
}

type redisLog struct{ l hclog.Logger }

func (r redisLog) Printf(_ context.Context, format string, v ...any) {
	r.l.Debug(fmt.Sprintf(format, v...))
}

type debugWriter struct{ l hclog.Logger }

func (w debugWriter) Write(p []byte) (int, error) {
	w.l.Debug(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
