// Command wtpersons is a test recipe: the persons mapping as a
// write-through trigger. A hash wperson:<id> becomes a row of persons in
// the connection "mysql" before Redis is written; a change whose age is
// not an integer is rejected, and the write refused.
package main

import cogs "github.com/cogs-dev/cogs/sdk/go"

func init() {
	cogs.Register(cogs.Recipe{
		Name:     "wtpersons",
		Version:  "1.0.0",
		Triggers: []cogs.Trigger{{Prefix: "wperson:", Data: cogs.Hash, Mode: cogs.WriteThrough, Connection: "mysql"}},
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
