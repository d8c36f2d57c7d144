// Command jsondoc is a stock cogs recipe that maps JSON documents
// (RedisJSON keys, or string keys holding JSON) to rows of one table
// without writing code: columns are picked from the document by JSON path,
// or the whole document goes to one column. Everything is in the JSON
// configuration given at load time (RECIPE LOAD ... CONFIG <json>); see
// README.md for every option.
//
// Build it with `make recipes` (bin/recipes/jsondoc.wasm).
package main

import (
	"strconv"

	"github.com/cogs-dev/cogs/recipes/internal/mapkit"
	cogs "github.com/cogs-dev/cogs/sdk/go"
	"github.com/cogs-dev/cogs/sdk/go/cogsjson"
)

// Version is the recipe's version.
const Version = "1.0.0"

func init() {
	cogs.Register(cogs.Recipe{
		Name:    "jsondoc",
		Version: Version,
		Init:    initJSONDoc,
		Map:     mapChange,
	})
}

var (
	m   mapping      // the mapping of this instance, built by initJSONDoc
	doc cogsjson.Doc // the document being mapped; its index is reused
)

func initJSONDoc(config []byte, r *cogs.Recipe) error {
	mm, err := parseConfig(config)
	if err != nil {
		return err
	}
	m = mm
	r.Name = m.name
	r.Triggers = []cogs.Trigger{{Prefix: m.prefix, Data: m.data, Mode: m.mode, Connection: m.connection, ExpiryDeletes: m.expiryDeletes}}
	r.BatchSize, r.BatchAgeMs = m.batchSize, m.batchAgeMs
	return nil
}

func mapChange(c *cogs.Change, out *cogs.Output) {
	if why := m.key.Extract(c.Key(), c.KeySuffix()); why != "" {
		if m.skipKeyMismatch {
			out.Skip()
		} else {
			out.Reject(why)
		}
		return
	}
	if c.Deleted() {
		if m.skipDeletes {
			out.Skip()
			return
		}
		m.key.AddTo(out.Delete(m.table))
		return
	}
	if err := doc.Parse(c.Doc()); err != nil {
		if m.skipBadDocuments {
			out.Skip()
		} else {
			out.Reject("document is not JSON: " + err.Error())
		}
		return
	}
	for i := range m.filter {
		n := doc.Lookup(&m.filterPaths[i])
		if !m.filter[i].Holds(text(n), n >= 0) {
			if !m.deleteFiltered {
				out.Skip()
				return
			}
			row := out.Delete(m.table)
			m.key.AddTo(row)
			for i := range m.cols {
				if col := &m.cols[i]; col.key {
					v, _, why := col.value()
					if why != "" {
						out.Reject(why)
						return
					}
					row.Key(col.name, v)
				}
			}
			return
		}
	}
	var row cogs.Row
	if m.insert {
		row = out.Insert(m.table)
	} else {
		row = out.Upsert(m.table)
	}
	m.key.AddTo(row)
	for i := range m.cols {
		col := &m.cols[i]
		v, omit, why := col.value()
		if why != "" {
			out.Reject(why)
			return
		}
		switch {
		case omit:
		case col.key:
			row.Key(col.name, v)
		default:
			row.Col(col.name, v)
		}
	}
	if m.document != "" {
		row.Col(m.document, cogs.String(doc.Source()))
	}
	if m.otherMembers && doc.Kind(0) == cogsjson.Object {
		for k := doc.First(0); k >= 0; k = doc.After(0, k) {
			name := doc.Str(k)
			if name == "" || m.used[name] {
				continue
			}
			v, _ := nodeValue(k+1, typeAuto)
			row.Col(name, v)
		}
	}
	for i := range m.constants {
		row.Col(m.constants[i].name, m.constants[i].value)
	}
}

// text returns the text a filter compares: a string's value, any other
// value's JSON text.
func text(n int) string {
	if doc.Kind(n) == cogsjson.String {
		return doc.Str(n)
	}
	return doc.Raw(n)
}

// typeAuto is the column type that follows the JSON value: a string, an
// int or a float, a bool, NULL, or an object or array as JSON text.
const typeAuto = mapkit.Type(255)

// nodeValue converts node n of doc to t; ok is false when it does not
// fit. JSON null is NULL whatever the type.
func nodeValue(n int, t mapkit.Type) (cogs.Value, bool) {
	k := doc.Kind(n)
	if k == cogsjson.Null {
		return cogs.Null(), true
	}
	switch t {
	case typeAuto:
		switch k {
		case cogsjson.String:
			return cogs.String(doc.Str(n)), true
		case cogsjson.Bool:
			b, _ := doc.Bool(n)
			return cogs.Bool(b), true
		case cogsjson.Number:
			if i, err := strconv.ParseInt(doc.Raw(n), 10, 64); err == nil {
				return cogs.Int(i), true
			}
			f, ok := doc.Float(n)
			if !ok {
				return cogs.Null(), false
			}
			return cogs.Float(f), true
		}
		return cogs.String(doc.Raw(n)), true
	case mapkit.TypeJSON:
		return cogs.String(doc.Raw(n)), true
	case mapkit.TypeInt:
		switch k {
		case cogsjson.Number:
			i, ok := doc.Int(n)
			return cogs.Int(i), ok
		case cogsjson.String:
			return mapkit.Convert(t, doc.Str(n))
		}
	case mapkit.TypeFloat:
		switch k {
		case cogsjson.Number:
			f, ok := doc.Float(n)
			return cogs.Float(f), ok
		case cogsjson.String:
			return mapkit.Convert(t, doc.Str(n))
		}
	case mapkit.TypeBool:
		switch k {
		case cogsjson.Bool:
			b, _ := doc.Bool(n)
			return cogs.Bool(b), true
		case cogsjson.String:
			return mapkit.Convert(t, doc.Str(n))
		}
	case mapkit.TypeString, mapkit.TypeBytes:
		switch k {
		case cogsjson.String:
			return mapkit.Convert(t, doc.Str(n))
		case cogsjson.Number, cogsjson.Bool:
			return mapkit.Convert(t, doc.Raw(n))
		}
	}
	return cogs.Null(), false
}

func main() {}
