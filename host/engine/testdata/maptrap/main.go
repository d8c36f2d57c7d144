// Command maptrap panics on the key "t:boom" and maps every other key.
package main

import cogs "github.com/cogs-dev/cogs/sdk/go"

func init() {
	cogs.Register(cogs.Recipe{
		Name:     "maptrap",
		Version:  "1.0.0",
		Triggers: []cogs.Trigger{{Prefix: "t:", Connection: "db"}},
		Map: func(c *cogs.Change, out *cogs.Output) {
			if c.Key() == "t:boom" {
				panic("map exploded on " + c.Key())
			}
			out.Upsert("t").Key("id", cogs.String(c.KeySuffix()))
		},
	})
}

func main() {}
