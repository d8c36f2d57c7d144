// Package cogsjson is a small JSON reader for cogs recipes: it parses a
// document once into a flat index of its values (a "tape"), and then
// answers lookups by member name, array index or path without scanning
// the text again.
//
// It is written for recipes compiled to WebAssembly: no reflection, no
// fmt, no goroutines (it compiles with TinyGo), and no allocation per
// document once a Doc has been used: Parse reuses the Doc's index, and
// strings without escapes are returned as substrings of the source.
//
//	var d cogsjson.Doc
//	if err := d.Parse(`{"title": "Heat", "cast": [{"name": "Pacino"}]}`); err != nil { ... }
//	p, _ := cogsjson.ParsePath(`$.cast[0].name`)
//	n := d.Lookup(&p) // a node, or -1
//	name := d.Str(n)  // "Pacino"
//
// A document is accepted exactly when encoding/json's Valid accepts it
// (nesting is limited to MaxDepth); strings decode as encoding/json decodes
// them (invalid UTF-8 and lone surrogates become U+FFFD); when an object
// has a member name twice, the last one wins, as in encoding/json and
// RedisJSON. The package's fuzz tests hold it to these rules with
// encoding/json as the oracle.
//
// Nodes are ints: the root is node 0. An object's members are a key node
// (a String) followed by its value; an array's elements follow it. Next
// skips a node with everything inside it.
package cogsjson
