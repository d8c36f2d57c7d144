package sqlbatch

import "strings"

// QuoteDouble quotes an identifier the standard SQL way: "a""b".
// PostgreSQL and SQLite use it.
func QuoteDouble(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// OnConflict is the standard upsert clause (PostgreSQL, SQLite):
// ON CONFLICT (keys) DO UPDATE SET c = EXCLUDED.c, ..., or DO NOTHING when
// only key columns are written.
func OnConflict(keys, cols []string) string {
	var b strings.Builder
	b.WriteString(" ON CONFLICT (")
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteDouble(k))
	}
	if len(cols) == 0 {
		b.WriteString(") DO NOTHING")
		return b.String()
	}
	b.WriteString(") DO UPDATE SET ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteDouble(c))
		b.WriteString(" = EXCLUDED.")
		b.WriteString(QuoteDouble(c))
	}
	return b.String()
}
