// Command membomb allocates memory in Map until it runs out.
package main

import cogs "github.com/cogs-dev/cogs/sdk/go"

var hoard [][]byte

func init() {
	cogs.Register(cogs.Recipe{
		Name:     "membomb",
		Version:  "1.0.0",
		Triggers: []cogs.Trigger{{Prefix: "bomb:", Connection: "db"}},
		Map: func(c *cogs.Change, out *cogs.Output) {
			for {
				b := make([]byte, 1<<20)
				b[0] = 1
				hoard = append(hoard, b)
			}
		},
	})
}

func main() {}
