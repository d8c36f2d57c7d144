// Command initloop never returns from its Init function.
package main

import cogs "github.com/cogs-dev/cogs/sdk/go"

var spins uint64

func init() {
	cogs.Register(cogs.Recipe{
		Name:     "initloop",
		Version:  "1.0.0",
		Triggers: []cogs.Trigger{{Prefix: "il:", Connection: "db"}},
		Init: func(config []byte, r *cogs.Recipe) error {
			for {
				spins++
			}
		},
		Map: func(c *cogs.Change, out *cogs.Output) {},
	})
}

func main() {}
