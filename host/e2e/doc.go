// Package e2e holds cogs's end-to-end tests: a Redis client writes through
// a running cogs (in this process, or the cogs binary in a child process),
// and the tests compare the target databases (SQLite, MariaDB, PostgreSQL)
// with Redis: rgsync's example, a host killed with SIGKILL and restarted,
// a target that goes away under load and comes back.
package e2e
