// Command audit is a test recipe: a hash person:<id> becomes a row of
// persons, like the persons example, and every change also inserts a row
// of persons_log keyed by its stream ID. A change applied twice would
// insert its log row twice, which the log's primary key refuses: the
// end-to-end tests count the log to show that nothing was applied twice.
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
	out.Insert("persons_log").Key("change_id", cogs.String(c.ID().String())).Col("person_id", id)
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
