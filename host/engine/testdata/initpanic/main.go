// Command initpanic panics in its Init function.
package main

import cogs "github.com/cogs-dev/cogs/sdk/go"

func init() {
	cogs.Register(cogs.Recipe{
		Name:     "initpanic",
		Version:  "1.0.0",
		Triggers: []cogs.Trigger{{Prefix: "p:", Connection: "db"}},
		Init: func(config []byte, r *cogs.Recipe) error {
			panic("init exploded")
		},
		Map: func(c *cogs.Change, out *cogs.Output) {},
	})
}

func main() {}
