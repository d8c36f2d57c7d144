// Command rowmap is a stock cogs recipe that maps Redis hashes to rows of
// one table without writing code: everything is in the JSON configuration
// given at load time (RECIPE LOAD ... CONFIG <json>). It covers what
// rgsync's mappings dictionary and RDI write-behind jobs (rename_field,
// add_field, remove_field, filter, keys and mapping) offer for hashes.
// See README.md for every option.
//
// Build it with `make recipes` (bin/recipes/rowmap.wasm).
package main

import (
	cogs "github.com/cogs-dev/cogs/sdk/go"
)

// Version is the recipe's version.
const Version = "1.0.0"

func init() {
	cogs.Register(cogs.Recipe{
		Name:    "rowmap",
		Version: Version,
		Init:    initRowmap,
		Map:     mapChange,
	})
}

// m is the mapping of this instance, built by initRowmap.
var m mapping

func initRowmap(config []byte, r *cogs.Recipe) error {
	mm, err := parseConfig(config)
	if err != nil {
		return err
	}
	m = mm
	r.Name = m.name
	r.Triggers = []cogs.Trigger{{Prefix: m.prefix, Data: cogs.Hash, Mode: m.mode, Connection: m.connection, ExpiryDeletes: m.expiryDeletes}}
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
	for i := range m.filter {
		if v, ok := m.filterSrc[i].get(c); !m.filter[i].Holds(v, ok) {
			if !m.deleteFiltered {
				out.Skip()
				return
			}
			row := out.Delete(m.table)
			m.key.AddTo(row)
			for i := range m.cols {
				if col := &m.cols[i]; col.key {
					v, _, why := col.value(c)
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
		v, omit, why := col.value(c)
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
	if m.otherFields {
		for _, f := range c.Fields() {
			name, ok := m.pass[f.Name]
			if !ok {
				name = f.Name
			}
			if name != "" {
				row.Col(name, cogs.String(f.Value))
			}
		}
		for i := range m.addedCols {
			row.Col(m.addedCols[i].name, m.addedCols[i].value)
		}
	}
	for i := range m.constants {
		row.Col(m.constants[i].name, m.constants[i].value)
	}
}

func main() {}
