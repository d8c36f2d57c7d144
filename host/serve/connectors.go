package serve

// The connectors cogs serve offers (connections[].type).
import (
	_ "github.com/cogs-dev/cogs/connectors/cassandra"
	_ "github.com/cogs-dev/cogs/connectors/mongodb"
	_ "github.com/cogs-dev/cogs/connectors/mysql"
	_ "github.com/cogs-dev/cogs/connectors/oracle"
	_ "github.com/cogs-dev/cogs/connectors/postgres"
	_ "github.com/cogs-dev/cogs/connectors/redis"
	_ "github.com/cogs-dev/cogs/connectors/sqlite"
	_ "github.com/cogs-dev/cogs/connectors/sqlserver"
)
