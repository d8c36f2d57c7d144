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
	data                     cogs.DataKind
	mode                     cogs.Mode
	expiryDeletes            bool
	batchSize, batchAgeMs    int
	table                    string
	insert                   bool

	key              mapkit.Key
	skipKeyMismatch  bool
	skipDeletes      bool
	skipBadDocuments bool
	filter           []mapkit.Condition
	filterPaths      []cogsjson.Path
	deleteFiltered   bool
	cols             []column
	document         string // the column the whole document goes to
	otherMembers     bool
	used             map[string]bool // column names the configuration writes
	constants        []constCol
}

type constCol struct {
	name  string
	value cogs.Value
}

// policy is what to do with a missing or invalid value.
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

// column is one configured path-to-column mapping.
type column struct {
	name      string
	path      cogsjson.Path
	typ       mapkit.Type
	key       bool
	onMissing policy
	onInvalid policy
	def       cogs.Value
	emptyNull bool
}

// value returns the column's value in doc, or omit, or why the change is
// rejected.
func (col *column) value() (v cogs.Value, omit bool, why string) {
	n := doc.Lookup(&col.path)
	if n < 0 {
		switch col.onMissing {
		case polOmit:
			return cogs.Null(), true, ""
		case polReject:
			return cogs.Null(), false, "missing " + col.path.String() + " (column " + col.name + ")"
		case polDefault:
			return col.def, false, ""
		}
		return cogs.Null(), false, ""
	}
	if col.emptyNull && doc.Raw(n) == `""` {
		return cogs.Null(), false, ""
	}
	v, ok := nodeValue(n, col.typ)
	if ok && !(col.key && v.IsNull()) {
		return v, false, ""
	}
	if !col.key {
		switch col.onInvalid {
		case polNull:
			return cogs.Null(), false, ""
		case polDefault:
			return col.def, false, ""
		}
	} else if col.onInvalid == polDefault {
		return col.def, false, ""
	}
	return cogs.Null(), false, col.path.String() + ": " + mapkit.Clip(doc.Raw(n)) + " is not a valid " + typeName(col.typ) + " (column " + col.name + ")"
}

func typeName(t mapkit.Type) string {
	if t == typeAuto {
		return "auto"
	}
	return t.String()
}

var topOptions = []string{
	"name", "prefix", "connection", "data", "mode", "expiry_deletes", "batch_size", "batch_age_ms",
	"table", "operation", "key", "on_key_mismatch", "on_delete", "on_bad_document",
	"filter", "on_filtered", "columns", "document", "other_members", "constants",
	"on_missing", "on_invalid", "empty_as_null",
}

var columnOptions = []string{"path", "type", "key", "on_missing", "on_invalid", "default", "empty_as_null"}

var typeNames = append([]string{"auto"}, mapkit.TypeNames...)

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
	m.name = str("name", "jsondoc", true)
	m.prefix = str("prefix", "", true)
	m.connection = str("connection", "", true)
	m.table = str("table", "", true)
	m.document = str("document", "", false)
	data := enum("data", "json", "json", "string")
	mode := enum("mode", "write-behind", "write-behind", "write-through")
	m.insert = enum("operation", "upsert", "upsert", "insert") == "insert"
	m.skipKeyMismatch = enum("on_key_mismatch", "reject", "reject", "skip") == "skip"
	m.skipDeletes = enum("on_delete", "delete", "delete", "skip") == "skip"
	m.skipBadDocuments = enum("on_bad_document", "reject", "reject", "skip") == "skip"
	m.deleteFiltered = enum("on_filtered", "skip", "skip", "delete") == "delete"
	onMissing := enum("on_missing", "null", "null", "omit", "reject")
	onInvalid := enum("on_invalid", "reject", "reject", "null")
	if err == nil {
		err = mapkit.CheckName(m.name)
	}
	if err != nil {
		return m, err
	}
	m.data = cogs.JSON
	if data == "string" {
		m.data = cogs.StringData
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

	if m.key, err = mapkit.ParseKey(&d, d.Member(0, "key"), m.prefix); err != nil {
		return m, err
	}
	used := map[string]string{} // column -> what writes it
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
	if d.Member(0, "document") >= 0 && m.document == "" {
		return m, cogsjson.Errorf("document", "want a column name, not \"\"")
	}
	if m.document != "" {
		if err := use(m.document, "document"); err != nil {
			return m, err
		}
	}

	cols := d.Member(0, "columns")
	if cols >= 0 && d.Kind(cols) != cogsjson.Object {
		return m, cogsjson.Errorf("columns", "want an object {\"column\": \"$.path\" or {\"path\": ..., \"type\": ...}, ...}")
	}
	for k := d.First(cols); k >= 0; k = d.After(cols, k) {
		name, at, spec := d.Str(k), cogsjson.Join("columns", d.Str(k)), k+1
		if name == "" {
			return m, cogsjson.Errorf(at, "a column needs a name")
		}
		col := column{name: name, typ: typeAuto, emptyNull: emptyNull,
			onMissing: parsePolicy(onMissing), onInvalid: parsePolicy(onInvalid)}
		path := "$[" + strconv.Quote(name) + "]"
		switch d.Kind(spec) {
		case cogsjson.String:
			path = d.Str(spec)
		case cogsjson.Object:
			if path, err = parseColumn(&d, spec, at, path, &col); err != nil {
				return m, err
			}
		default:
			return m, cogsjson.Errorf(at, "want a JSON path or an object {\"path\": ..., \"type\": ...}")
		}
		if col.path, err = cogsjson.ParsePath(path); err != nil {
			return m, cogsjson.Errorf(at, err.Error())
		}
		if err := use(name, at); err != nil {
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
	if len(m.cols) == 0 && m.document == "" {
		other = "columns"
	}
	if other, err = d.GetEnum(0, "", "other_members", other, "ignore", "columns"); err != nil {
		return m, err
	}
	m.otherMembers = other == "columns"
	m.used = map[string]bool{}
	for c := range used {
		m.used[c] = true
	}

	if m.filter, err = mapkit.ParseFilter(&d, d.Member(0, "filter"), "path"); err != nil {
		return m, err
	}
	for i, c := range m.filter {
		p, err := cogsjson.ParsePath(c.Subject)
		if err != nil {
			at := "filter"
			if d.Kind(d.Member(0, "filter")) == cogsjson.Array {
				at = cogsjson.JoinIndex(at, i)
			}
			return m, cogsjson.Errorf(at+".path", err.Error())
		}
		m.filterPaths = append(m.filterPaths, p)
	}

	keys := len(keyCols)
	fieldKey := ""
	for _, c := range m.cols {
		if c.key {
			keys++
			fieldKey = c.name
		}
	}
	if keys == 0 {
		return m, cogsjson.Errorf("key", "required: say which columns identify a row (\"key\": \"id\", a pattern or a separator), or mark a column \"key\": true")
	}
	if fieldKey != "" && !m.skipDeletes && len(keyCols) == 0 {
		return m, cogsjson.Errorf("on_delete", "a deleted key has no document, and key column "+strconv.Quote(fieldKey)+" comes from the document: take the key columns from the key, or set on_delete to \"skip\"")
	}
	return m, nil
}

// parseColumn reads a column object into col (whose defaults are set) and
// returns its path (def when it gives none).
func parseColumn(d *cogsjson.Doc, n int, at, def string, col *column) (string, error) {
	if err := d.CheckMembers(n, at, columnOptions...); err != nil {
		return "", err
	}
	path, err := d.GetString(n, at, "path", def)
	if err != nil {
		return "", err
	}
	ts, err := d.GetEnum(n, at, "type", "auto", typeNames...)
	if err != nil {
		return "", err
	}
	col.typ = typeAuto
	if t, ok := mapkit.ParseType(ts); ok {
		col.typ = t
	}
	if col.key, err = d.GetBool(n, at, "key", false); err != nil {
		return "", err
	}
	if col.emptyNull, err = d.GetBool(n, at, "empty_as_null", col.emptyNull); err != nil {
		return "", err
	}
	dn := d.Member(n, "default")
	if dn >= 0 {
		t := col.typ
		if t == typeAuto {
			col.def, err = mapkit.ConfigValue(d, dn, at+".default", mapkit.TypeString, false)
		} else {
			col.def, err = mapkit.ConfigValue(d, dn, at+".default", t, true)
		}
		if err != nil {
			return "", err
		}
	}
	if col.key {
		col.onMissing, col.onInvalid = polReject, polReject
		if col.emptyNull {
			return "", cogsjson.Errorf(at+".empty_as_null", "a key column cannot be NULL")
		}
	}
	if dn >= 0 && d.Member(n, "on_missing") < 0 {
		col.onMissing = polDefault
	}
	if d.Member(n, "on_missing") >= 0 {
		s, err := d.GetEnum(n, at, "on_missing", "", missingPolicies...)
		if err != nil {
			return "", err
		}
		col.onMissing = parsePolicy(s)
	}
	if d.Member(n, "on_invalid") >= 0 {
		s, err := d.GetEnum(n, at, "on_invalid", "", invalidPolicies...)
		if err != nil {
			return "", err
		}
		col.onInvalid = parsePolicy(s)
	}
	if (col.onMissing == polDefault || col.onInvalid == polDefault) && dn < 0 {
		return "", cogsjson.Errorf(at+".default", "required by the \"default\" policy")
	}
	if col.key {
		if col.onMissing == polNull || col.onMissing == polOmit || col.onInvalid == polNull {
			return "", cogsjson.Errorf(at, "a key column must have a value: on_missing and on_invalid may be reject or default")
		}
		if dn >= 0 && col.def.IsNull() {
			return "", cogsjson.Errorf(at+".default", "a key column cannot default to null")
		}
	}
	return path, nil
}
