// Command persons is the rgsync "persons" example as a cogs recipe: a hash
// person:<id> with fields first_name, last_name and age becomes a row of
// table persons (person_id, first, last, age) in the connection "mysql".
//
// Build it with `make recipes` (bin/recipes/persons.wasm), try it with
// `make demo`.
package main

import cogs "github.com/cogs-dev/cogs/sdk/go"

func init() {
	cogs.Register(cogs.Recipe{
		Name:     "persons",
		Version:  "1.0.0",
		Triggers: []cogs.Trigger{{Prefix: "person:", Data: cogs.Hash, Connection: "mysql"}},
		Map:      mapPerson,
	})
}

func mapPerson(c *cogs.Change, out *cogs.Output) {
	id := cogs.String(c.KeySuffix())
	if c.Deleted() {
		out.Delete("persons").Key("person_id", id)
		return
	}
	age, ok := c.IntOK("age")
	if !ok {
		out.Reject("age is not an integer")
		return
	}
	out.Upsert("persons").Key("person_id", id).
		Col("first", c.Value("first_name")).
		Col("last", c.Value("last_name")).
		Col("age", age)
}

func main() {}
