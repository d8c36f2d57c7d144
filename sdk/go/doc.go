// Package cogs is the Go SDK for cogs recipes.
//
// A recipe is a Go program compiled to WebAssembly that tells cogs which
// Redis keys to watch and turns each change of such a key into row
// operations on a target database. It registers itself from init and has
// an empty main:
//
//	package main
//
//	import cogs "github.com/cogs-dev/cogs/sdk/go"
//
//	func init() {
//		cogs.Register(cogs.Recipe{
//			Name:     "persons",
//			Version:  "1.0.0",
//			Triggers: []cogs.Trigger{{Prefix: "person:", Data: cogs.Hash, Connection: "mysql"}},
//			Map:      mapPerson,
//		})
//	}
//
//	func mapPerson(c *cogs.Change, out *cogs.Output) {
//		id := cogs.String(c.KeySuffix())
//		if c.Deleted() {
//			out.Delete("persons").Key("person_id", id)
//			return
//		}
//		out.Upsert("persons").Key("person_id", id).
//			Col("first", c.Value("first_name")).
//			Col("last", c.Value("last_name")).
//			Col("age", c.Int("age"))
//	}
//
//	func main() {}
//
// Build it with standard Go:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o persons.wasm .
//
// or with TinyGo:
//
//	tinygo build -target=wasip1 -buildmode=c-shared -scheduler=none -o persons.wasm .
//
// The host calls Map once per change, for a whole batch of changes in one
// Wasm call. Strings and Values obtained from a Change alias the SDK's
// change buffer: they are valid until Map returns. Use strings.Clone to
// keep one longer.
//
// The same recipe runs natively (without Wasm) under plain go test, through
// the in-process host of package cogstest, so recipes are unit-tested with
// the ordinary Go tooling.
//
// The package uses no reflection, no fmt and no goroutines, so it compiles
// with TinyGo.
package cogs
