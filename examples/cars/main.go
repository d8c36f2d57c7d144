// Command cars is the second recipe of rgsync's example: a hash car:<id>
// with fields id and color becomes a row of table cars (car_id, id, color)
// in the connection "mysql".
package main

import cogs "github.com/cogs-dev/cogs/sdk/go"

func init() {
	cogs.Register(cogs.Recipe{
		Name:     "cars",
		Version:  "1.0.0",
		Triggers: []cogs.Trigger{{Prefix: "car:", Data: cogs.Hash, Connection: "mysql"}},
		Map:      mapCar,
	})
}

func mapCar(c *cogs.Change, out *cogs.Output) {
	id := cogs.String(c.KeySuffix())
	if c.Deleted() {
		out.Delete("cars").Key("car_id", id)
		return
	}
	out.Upsert("cars").Key("car_id", id).
		Col("id", c.Value("id")).
		Col("color", c.Value("color"))
}

func main() {}
