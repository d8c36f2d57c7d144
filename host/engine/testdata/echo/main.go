// Command echo writes every field of a hash back as columns: the field as a
// string, and its value parsed as an integer ("int:<name>") or a NULL
// "bad:<name>" when it does not parse. The engine's TestSDKWasmPaths
// compares its output with what the test computes in Go, exercising the
// SDK's Wasm-only fast paths (field lookup, integer parsing, column
// encoding, trigger prefix match) on many shapes of names and values.
package main

import cogs "github.com/cogs-dev/cogs/sdk/go"

func init() {
	cogs.Register(cogs.Recipe{
		Name:    "echo",
		Version: "1.0.0",
		Triggers: []cogs.Trigger{
			{Prefix: "e:", Connection: "db"},
			{Prefix: "echo-with-a-prefix-longer-than-16:", Connection: "db"},
		},
		Map: func(c *cogs.Change, out *cogs.Output) {
			if c.Deleted() {
				out.Delete("echo").Key("key", cogs.String(c.Key()))
				return
			}
			row := out.Upsert("echo").Key("key", cogs.String(c.Key())).Key("suffix", cogs.String(c.KeySuffix()))
			for _, f := range c.Fields() {
				row.Col(f.Name, c.Value(f.Name))
				if v, ok := c.IntOK(f.Name); ok {
					row.Col("int:"+f.Name, v)
				} else {
					row.Col("bad:"+f.Name, cogs.Null())
				}
			}
		},
	})
}

func main() {}
