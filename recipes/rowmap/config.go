package main

import (
	"strconv"

	"github.com/cogs-dev/cogs/recipes/internal/mapkit"
	cogs "github.com/cogs-dev/cogs/sdk/go"
	"github.com/cogs-dev/cogs/sdk/go/cogsjson"
)

// mapping is a parsed configuration.
type mapping struct {
	name, prefix, connection string
	mode                     cogs.Mode
	expiryDeletes            bool
	batchSize, batchAgeMs    int
	table                    string
	insert                   bool

	key             mapkit.Key
	skipKeyMismatch bool
	skipDeletes     bool
	filter          []mapkit.Condition
	filterSrc       []fieldSource // where each filter condition's field is
	deleteFiltered  bool
	cols            []column
	otherFields     bool
	pass            map[string]string // hash field -> column for other_fields ("" skips it)
	addedCols       []constCol        // added fields written by other_fields
	constants       []constCol
}

type constCol struct {
	name  string
	value cogs.Value
}

// srcKind is where a record field's value comes from.
type srcKind uint8

const (
	srcHash   srcKind = iota // a hash field
	srcConst                 // add_fields
	srcAbsent                // removed, or renamed to another name
)

// fieldSource locates a record field (a field after rename_fields,
// remove_fields and add_fields) in a change.
type fieldSource struct {
	kind srcKind
	name string // srcHash: the hash field
	text string // srcConst: the value
}

func (s *fieldSource) get(c *cogs.Change) (string, bool) {
	switch s.kind {
	case srcHash:
		return c.Get(s.name)
	case srcConst:
		return s.text, true
	}
	return "", false
}

// policy is what to do with a missing or invalid field.
type policy uint8

const (
	polNull policy = iota
	polOmit
	polReject
	polDefault
)

var missingPolicies = []string{"null", "omit", "reject", "default"}
var invalidPolicies = []string{"reject", "null", "default"}

func parsePolicy(s string) policy {
	switch s {
	case "omit":
		return polOmit
	case "reject":
		return polReject
	case "default":
		return polDefault
	}
	return polNull
}

// column is one configured field-to-column mapping.
type column struct {
	field     string // the record field
	src       fieldSource
	name      string // the column
	typ       mapkit.Type
	key       bool
	onMissing policy
	onInvalid policy
	def       cogs.Value
	emptyNull bool
	// constant: the field comes from add_fields, its value converted once.
	constant bool
	constVal cogs.Value
}

// value returns the column's value for a change, or omit, or why the
// change is rejected.
func (col *column) value(c *cogs.Change) (v cogs.Value, omit bool, why string) {
	if col.constant {
		return col.constVal, false, ""
	}
	s, ok := col.src.get(c)
	if ok && s == "" && col.emptyNull {
		return cogs.Null(), false, ""
	}
	if !ok {
		switch col.onMissing {
		case polOmit:
			return cogs.Null(), true, ""
		case polReject:
			return cogs.Null(), false, "missing field " + strconv.Quote(col.field) + " (column " + col.name + ")"
		case polDefault:
			return col.def, false, ""
		}
		return cogs.Null(), false, ""
	}
	v, good := mapkit.Convert(col.typ, s)
	if good {
		return v, false, ""
	}
	switch col.onInvalid {
	case polNull:
		return cogs.Null(), false, ""
	case polDefault:
		return col.def, false, ""
	}
	return cogs.Null(), false, "field " + strconv.Quote(col.field) + ": " + mapkit.Clip(s) + " is not a valid " + col.typ.String() + " (column " + col.name + ")"
}

var topOptions = []string{
	"name", "prefix", "connection", "mode", "expiry_deletes", "batch_size", "batch_age_ms",
	"table", "operation", "key", "on_key_mismatch", "on_delete",
	"rename_fields", "remove_fields", "add_fields", "filter", "on_filtered",
	"columns", "other_fields", "constants", "on_missing", "on_invalid", "empty_as_null",
}

var columnOptions = []string{"column", "type", "key", "on_missing", "on_invalid", "default", "empty_as_null"}

// parseConfig parses and checks a configuration.
func parseConfig(config []byte) (mapping, error) {
	var m mapping
	var d cogsjson.Doc
	if err := d.ParseConfig(config); err != nil {
		return m, err
	}
	if err := d.CheckMembers(0, "", topOptions...); err != nil {
		return m, err
	}
	var err error
	str := func(name, def string, required bool) string {
		if err != nil {
			return ""
		}
		var s string
		if s, err = d.GetString(0, "", name, def); err == nil && required && s == "" {
			err = cogsjson.Errorf(name, "required")
		}
		return s
	}
	enum := func(name, def string, allowed ...string) string {
		if err != nil {
			return ""
		}
		var s string
		s, err = d.GetEnum(0, "", name, def, allowed...)
		return s
	}
	m.name = str("name", "rowmap", true)
	m.prefix = str("prefix", "", true)
	m.connection = str("connection", "", true)
	m.table = str("table", "", true)
	mode := enum("mode", "write-behind", "write-behind", "write-through")
	m.insert = enum("operation", "upsert", "upsert", "insert") == "insert"
	m.skipKeyMismatch = enum("on_key_mismatch", "reject", "reject", "skip") == "skip"
	m.skipDeletes = enum("on_delete", "delete", "delete", "skip") == "skip"
	m.deleteFiltered = enum("on_filtered", "skip", "skip", "delete") == "delete"
	onMissing := enum("on_missing", "null", "null", "omit", "reject")
	onInvalid := enum("on_invalid", "reject", "reject", "null")
	if err == nil {
		err = mapkit.CheckName(m.name)
	}
	if err != nil {
		return m, err
	}
	m.mode = cogs.WriteBehind
	if mode == "write-through" {
		m.mode = cogs.WriteThrough
	}
	if m.expiryDeletes, err = d.GetBool(0, "", "expiry_deletes", false); err != nil {
		return m, err
	}
	emptyNull, err := d.GetBool(0, "", "empty_as_null", false)
	if err != nil {
		return m, err
	}
	bs, err := d.GetInt(0, "", "batch_size", 0, 0, 1000000)
	if err != nil {
		return m, err
	}
	ba, err := d.GetInt(0, "", "batch_age_ms", 0, 0, 3600000)
	if err != nil {
		return m, err
	}
	m.batchSize, m.batchAgeMs = int(bs), int(ba)

	// rename_fields, remove_fields, add_fields, in that order.
	renameFrom, renameTo := map[string]string{}, map[string]string{}
	if n := d.Member(0, "rename_fields"); n >= 0 {
		if d.Kind(n) != cogsjson.Object {
			return m, cogsjson.Errorf("rename_fields", "want an object {\"old_name\": \"new_name\", ...}")
		}
		for k := d.First(n); k >= 0; k = d.After(n, k) {
			from, at := d.Str(k), cogsjson.Join("rename_fields", d.Str(k))
			if d.Kind(k+1) != cogsjson.String || d.Str(k+1) == "" {
				return m, cogsjson.Errorf(at, "want the new field name")
			}
			to := d.Str(k + 1)
			if _, dup := renameFrom[from]; dup {
				return m, cogsjson.Errorf(at, "given twice")
			}
			if prev, dup := renameTo[to]; dup {
				return m, cogsjson.Errorf(at, "renames to "+strconv.Quote(to)+", as "+strconv.Quote(prev)+" does")
			}
			if from == to {
				return m, cogsjson.Errorf(at, "renames the field to itself")
			}
			renameFrom[from], renameTo[to] = to, from
		}
	}
	removed := map[string]bool{}
	if n := d.Member(0, "remove_fields"); n >= 0 {
		if d.Kind(n) != cogsjson.Array {
			return m, cogsjson.Errorf("remove_fields", "want a list of field names")
		}
		for i, e := 0, d.First(n); e >= 0; i, e = i+1, d.After(n, e) {
			if d.Kind(e) != cogsjson.String || d.Str(e) == "" {
				return m, cogsjson.Errorf(cogsjson.JoinIndex("remove_fields", i), "want a field name")
			}
			removed[d.Str(e)] = true
		}
	}
	added := map[string]string{}
	var addedOrder []string
	if n := d.Member(0, "add_fields"); n >= 0 {
		if d.Kind(n) != cogsjson.Object {
			return m, cogsjson.Errorf("add_fields", "want an object {\"field\": value, ...}")
		}
		for k := d.First(n); k >= 0; k = d.After(n, k) {
			name, at := d.Str(k), cogsjson.Join("add_fields", d.Str(k))
			if _, dup := added[name]; dup {
				return m, cogsjson.Errorf(at, "given twice")
			}
			s, err := mapkit.ScalarText(&d, k+1, at)
			if err != nil {
				return m, err
			}
			added[name] = s
			addedOrder = append(addedOrder, name)
		}
	}
	resolve := func(field string) fieldSource {
		if s, ok := added[field]; ok {
			return fieldSource{kind: srcConst, text: s}
		}
		if removed[field] {
			return fieldSource{kind: srcAbsent}
		}
		if from, ok := renameTo[field]; ok {
			return fieldSource{kind: srcHash, name: from}
		}
		if _, ok := renameFrom[field]; ok {
			return fieldSource{kind: srcAbsent}
		}
		return fieldSource{kind: srcHash, name: field}
	}

	if m.key, err = mapkit.ParseKey(&d, d.Member(0, "key"), m.prefix); err != nil {
		return m, err
	}
	used := map[string]string{} // column -> what defines it, for duplicate checks
	use := func(col, what string) error {
		if prev, dup := used[col]; dup {
			return cogsjson.Errorf(what, "column "+strconv.Quote(col)+" is already written by "+prev)
		}
		used[col] = what
		return nil
	}
	keyCols := m.key.Columns()
	for _, c := range keyCols {
		if err := use(c, "key"); err != nil {
			return m, err
		}
	}

	explicit := map[string]bool{}
	cols := d.Member(0, "columns")
	if cols >= 0 && d.Kind(cols) != cogsjson.Object {
		return m, cogsjson.Errorf("columns", "want an object {\"field\": \"column\" or {\"column\": ..., \"type\": ...}, ...}")
	}
	for k := d.First(cols); k >= 0; k = d.After(cols, k) {
		field, at, spec := d.Str(k), cogsjson.Join("columns", d.Str(k)), k+1
		if explicit[field] {
			return m, cogsjson.Errorf(at, "given twice")
		}
		explicit[field] = true
		col := column{field: field, src: resolve(field), name: field, emptyNull: emptyNull,
			onMissing: parsePolicy(onMissing), onInvalid: parsePolicy(onInvalid)}
		switch d.Kind(spec) {
		case cogsjson.String:
			col.name = d.Str(spec)
			if col.name == "" {
				return m, cogsjson.Errorf(at, "want a column name, not \"\"")
			}
		case cogsjson.Object:
			if err := parseColumn(&d, spec, at, &col); err != nil {
				return m, err
			}
		default:
			return m, cogsjson.Errorf(at, "want a column name or an object {\"column\": ..., \"type\": ...}")
		}
		if col.src.kind == srcConst {
			v, ok := mapkit.Convert(col.typ, col.src.text)
			if !ok {
				return m, cogsjson.Errorf(at+".type", "the value add_fields gives, "+mapkit.Clip(col.src.text)+", is not a valid "+col.typ.String())
			}
			if col.emptyNull && col.src.text == "" {
				v = cogs.Null()
			}
			col.constant, col.constVal = true, v
		}
		if col.src.kind == srcAbsent && col.key {
			return m, cogsjson.Errorf(at, "is a key column, but the field is removed by remove_fields or renamed away by rename_fields")
		}
		what := at
		if err := use(col.name, what); err != nil {
			return m, err
		}
		m.cols = append(m.cols, col)
	}

	if n := d.Member(0, "constants"); n >= 0 {
		if d.Kind(n) != cogsjson.Object {
			return m, cogsjson.Errorf("constants", "want an object {\"column\": value, ...}")
		}
		for k := d.First(n); k >= 0; k = d.After(n, k) {
			name, at := d.Str(k), cogsjson.Join("constants", d.Str(k))
			v, err := mapkit.ConfigValue(&d, k+1, at, mapkit.TypeString, false)
			if err != nil {
				return m, err
			}
			if err := use(name, at); err != nil {
				return m, err
			}
			m.constants = append(m.constants, constCol{name: name, value: v})
		}
	}

	other := "ignore"
	if len(m.cols) == 0 {
		other = "columns"
	}
	if other, err = d.GetEnum(0, "", "other_fields", other, "ignore", "columns"); err != nil {
		return m, err
	}
	m.otherFields = other == "columns"
	if m.otherFields {
		// Which column each hash field named in the configuration goes to;
		// any other field goes to a column of its own name.
		m.pass = map[string]string{}
		passName := func(h string) string {
			rec := h
			if to, ok := renameFrom[h]; ok {
				rec = to
			} else if _, ok := renameTo[h]; ok {
				return "" // replaced by the field renamed to its name
			}
			if removed[rec] || explicit[rec] {
				return ""
			}
			if _, ok := added[rec]; ok {
				return ""
			}
			if _, ok := used[rec]; ok {
				return ""
			}
			return rec
		}
		var names []string
		for n := range renameFrom {
			names = append(names, n)
		}
		for n := range renameTo {
			names = append(names, n)
		}
		for n := range removed {
			names = append(names, n)
		}
		for n := range added {
			names = append(names, n)
		}
		for n := range explicit {
			names = append(names, n)
		}
		for n := range used {
			names = append(names, n)
		}
		for _, n := range names {
			m.pass[n] = passName(n)
		}
		for _, name := range addedOrder {
			if explicit[name] {
				continue
			}
			if err := use(name, cogsjson.Join("add_fields", name)); err != nil {
				return m, err
			}
			m.addedCols = append(m.addedCols, constCol{name: name, value: cogs.String(added[name])})
		}
	}

	if m.filter, err = mapkit.ParseFilter(&d, d.Member(0, "filter"), "field"); err != nil {
		return m, err
	}
	for _, c := range m.filter {
		m.filterSrc = append(m.filterSrc, resolve(c.Subject))
	}

	keys := len(keyCols)
	fieldKeys := ""
	for _, c := range m.cols {
		if c.key {
			keys++
			fieldKeys = c.field
		}
	}
	if keys == 0 {
		return m, cogsjson.Errorf("key", "required: say which columns identify a row (\"key\": \"id\", a pattern or a separator), or mark a column \"key\": true")
	}
	if fieldKeys != "" && !m.skipDeletes && len(keyCols) == 0 {
		return m, cogsjson.Errorf("on_delete", "a deleted key has no fields, and key column "+strconv.Quote(fieldKeys)+" comes from a field: take the key columns from the key, or set on_delete to \"skip\"")
	}
	return m, nil
}

// parseColumn reads a column object into col (whose defaults are set).
func parseColumn(d *cogsjson.Doc, n int, at string, col *column) error {
	if err := d.CheckMembers(n, at, columnOptions...); err != nil {
		return err
	}
	name, err := d.GetString(n, at, "column", col.field)
	if err != nil {
		return err
	}
	if name == "" {
		return cogsjson.Errorf(at+".column", "want a column name, not \"\"")
	}
	col.name = name
	ts, err := d.GetEnum(n, at, "type", "string", mapkit.TypeNames...)
	if err != nil {
		return err
	}
	col.typ, _ = mapkit.ParseType(ts)
	if col.key, err = d.GetBool(n, at, "key", false); err != nil {
		return err
	}
	if col.emptyNull, err = d.GetBool(n, at, "empty_as_null", col.emptyNull); err != nil {
		return err
	}
	def := d.Member(n, "default")
	if def >= 0 {
		if col.def, err = mapkit.ConfigValue(d, def, at+".default", col.typ, true); err != nil {
			return err
		}
	}
	if col.key {
		// A key column has a value; its policies default to reject.
		col.onMissing, col.onInvalid = polReject, polReject
		if col.emptyNull {
			return cogsjson.Errorf(at+".empty_as_null", "a key column cannot be NULL")
		}
	}
	if def >= 0 && d.Member(n, "on_missing") < 0 {
		col.onMissing = polDefault
	}
	if d.Member(n, "on_missing") >= 0 {
		s, err := d.GetEnum(n, at, "on_missing", "", missingPolicies...)
		if err != nil {
			return err
		}
		col.onMissing = parsePolicy(s)
	}
	if d.Member(n, "on_invalid") >= 0 {
		s, err := d.GetEnum(n, at, "on_invalid", "", invalidPolicies...)
		if err != nil {
			return err
		}
		col.onInvalid = parsePolicy(s)
	}
	if (col.onMissing == polDefault || col.onInvalid == polDefault) && def < 0 {
		return cogsjson.Errorf(at+".default", "required by the \"default\" policy")
	}
	if col.key {
		if col.onMissing == polNull || col.onMissing == polOmit || col.onInvalid == polNull {
			return cogsjson.Errorf(at, "a key column must have a value: on_missing and on_invalid may be reject or default")
		}
		if def >= 0 && col.def.IsNull() {
			return cogsjson.Errorf(at+".default", "a key column cannot default to null")
		}
	}
	return nil
}
