// Command persons is the rgsync persons mapping: hash person:<id> with
// first_name/last_name/age to table persons (person_id, first, last, age).
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
