// Command reject rejects every change whose "v" field is not "ok".
package main

import cogs "github.com/cogs-dev/cogs/sdk/go"

func init() {
	cogs.Register(cogs.Recipe{
		Name:     "reject",
		Version:  "1.0.0",
		Triggers: []cogs.Trigger{{Prefix: "r:", Connection: "db"}},
		Map: func(c *cogs.Change, out *cogs.Output) {
			if v, _ := c.Get("v"); v != "ok" {
				out.Reject("v must be \"ok\", not \"" + v + "\"")
				return
			}
			out.Upsert("r").Key("id", cogs.String(c.KeySuffix())).Col("v", c.Value("v"))
		},
	})
}

func main() {}
