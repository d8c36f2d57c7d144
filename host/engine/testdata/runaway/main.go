// Command runaway never returns from Map.
package main

import cogs "github.com/cogs-dev/cogs/sdk/go"

var spins uint64

func init() {
	cogs.Register(cogs.Recipe{
		Name:     "runaway",
		Version:  "1.0.0",
		Triggers: []cogs.Trigger{{Prefix: "loop:", Connection: "db"}},
		Map: func(c *cogs.Change, out *cogs.Output) {
			for {
				spins++
			}
		},
	})
}

func main() {}
