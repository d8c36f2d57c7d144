package cogsjson

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// decodeOracle decodes s with encoding/json, numbers kept as text.
func decodeOracle(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// value rebuilds node n as encoding/json would decode it (UseNumber).
func (d *Doc) value(t testing.TB, n int) any {
	switch d.Kind(n) {
	case Null:
		return nil
	case Bool:
		b, _ := d.Bool(n)
		return b
	case Number:
		return json.Number(d.Raw(n))
	case String:
		return d.Str(n)
	case Array:
		a := []any{}
		for e := d.First(n); e >= 0; e = d.After(n, e) {
			a = append(a, d.value(t, e))
		}
		return a
	case Object:
		m := map[string]any{}
		for k := d.First(n); k >= 0; k = d.After(n, k) {
			m[d.Str(k)] = d.value(t, k+1)
		}
		return m
	}
	t.Fatalf("node %d has kind %v", n, d.Kind(n))
	return nil
}

// lookupOracle follows p through a value decoded by encoding/json.
func lookupOracle(v any, p *Path) (any, bool) {
	for _, s := range p.steps {
		if s.isIndex {
			a, ok := v.([]any)
			if !ok {
				return nil, false
			}
			i := s.index
			if i < 0 {
				i += len(a)
			}
			if i < 0 || i >= len(a) {
				return nil, false
			}
			v = a[i]
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[s.key]; !ok {
			return nil, false
		}
	}
	return v, true
}

func tooDeep(err error) bool {
	var e *TooDeepError
	return errors.As(err, &e)
}

// checkDoc compares Parse with encoding/json on s.
func checkDoc(t *testing.T, s string) {
	var d Doc
	err := d.Parse(s)
	if tooDeep(err) {
		return
	}
	want := json.Valid([]byte(s))
	if (err == nil) != want {
		t.Fatalf("Parse(%q) = %v, json.Valid = %v", s, err, want)
	}
	if err != nil {
		if d.Len() != 0 {
			t.Fatalf("Parse(%q) failed but left %d nodes", s, d.Len())
		}
		return
	}
	ov, oerr := decodeOracle(s)
	if oerr != nil {
		t.Fatalf("encoding/json cannot decode %q: %v", s, oerr)
	}
	if got := d.value(t, 0); !reflect.DeepEqual(got, ov) {
		t.Fatalf("Parse(%q):\n got %#v\nwant %#v", s, got, ov)
	}
	if d.Next(0) != d.Len() {
		t.Fatalf("Parse(%q): root's Next is %d, want %d", s, d.Next(0), d.Len())
	}
	// Every node's Raw decodes on its own to the same value.
	for n := 0; n < d.Len(); n++ {
		raw := d.Raw(n)
		rv, err := decodeOracle(raw)
		if err != nil {
			t.Fatalf("Parse(%q): node %d raw %q does not decode: %v", s, n, raw, err)
		}
		var sub Doc
		if err := sub.Parse(raw); err != nil {
			t.Fatalf("Parse(%q): node %d raw %q does not parse: %v", s, n, raw, err)
		}
		if got := d.value(t, n); !reflect.DeepEqual(got, rv) {
			t.Fatalf("Parse(%q) node %d:\n got %#v\nwant %#v", s, n, got, rv)
		}
	}
}

var docs = []string{
	`null`, `true`, `false`, `0`, `-0`, `1.5e10`, `-12.25E-3`, `""`, `"a"`,
	` {"a" : [1, 2, {"b": null}], "c": "d\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"} `,
	`{"a":1,"a":2}`, `[]`, `{}`, `[[[]]]`, `[{},{}]`, `{"":""}`,
	`"\ud800"`, `"\ud800\u0041"`, `"\udc00\ud800"`, "\"\xff\xfe\"", "\"caf\xc3\xa9\"", "{\"\xff\":1}",
	// invalid
	``, ` `, `{`, `}`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `01`, `1.`, `.5`, `1e`, `-`, `+1`,
	`tru`, `nul`, `falsey`, `"abc`, "\"a\x01\"", `"\x"`, `"\u12g4"`, `[1 2]`, `1 2`, `{"a":1}}`, `[`, `["a"`, `NaN`,
}

func TestParseAgainstEncodingJSON(t *testing.T) {
	for _, s := range docs {
		checkDoc(t, s)
	}
}

func TestSyntaxErrors(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{`{"a" 1}`, `json: invalid character '1' after object key at offset 5`},
		{`[1,]`, `json: invalid character ']' looking for beginning of value at offset 3`},
		{`{"a":1`, `json: unexpected end of input after object member value at offset 6`},
		{`tru`, `json: unexpected end of input in literal true at offset 3`},
		{`"a` + "\x01" + `"`, `json: invalid character '\x01' in string literal at offset 2`},
		{`1 2`, `json: invalid character '2' after top-level value at offset 2`},
	} {
		var d Doc
		err := d.Parse(c.doc)
		if err == nil || err.Error() != c.want {
			t.Errorf("Parse(%q) = %v, want %s", c.doc, err, c.want)
		}
	}
	var d Doc
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	if err := d.Parse(deep); !tooDeep(err) {
		t.Errorf("Parse of %d nested arrays = %v, want a TooDeepError", MaxDepth+1, err)
	}
	ok := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if err := d.Parse(ok); err != nil {
		t.Errorf("Parse of %d nested arrays = %v", MaxDepth, err)
	}
}

func TestLookup(t *testing.T) {
	doc := `{"title": "Heat", "year": 1995, "rating": 8.3, "cast": [{"name": "Pacino"}, {"name": "De Niro"}],
		"x y": {"it's": true}, "a.b": 1, "esc\u0061ped": "yes", "dup": 1, "dup": 2, "n": null}`
	var d Doc
	if err := d.Parse(doc); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, raw string }{
		{`$`, doc},
		{`$.title`, `"Heat"`},
		{`title`, `"Heat"`},
		{`$.cast[0].name`, `"Pacino"`},
		{`cast[1].name`, `"De Niro"`},
		{`$.cast[-1].name`, `"De Niro"`},
		{`$.cast[2]`, ``},
		{`$.cast[-3]`, ``},
		{`$["x y"]["it's"]`, `true`},
		{`$['x y']['it\'s']`, `true`},
		{`$["a.b"]`, `1`},
		{`$.a.b`, ``},
		{`$.escaped`, `"yes"`},
		{`$.dup`, `2`},
		{`$.n`, `null`},
		{`$.title.length`, ``},
		{`$[0]`, ``},
		{`$.missing`, ``},
	} {
		p, err := ParsePath(c.path)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", c.path, err)
			continue
		}
		if got := d.Raw(d.Lookup(&p)); got != c.raw {
			t.Errorf("Lookup(%q) = %q, want %q", c.path, got, c.raw)
		}
	}
}

func TestParsePathErrors(t *testing.T) {
	for _, c := range []struct{ path, want string }{
		{``, `path "": empty path at offset 0`},
		{`$.`, `path "$.": a member name must follow '.' at offset 2`},
		{`$.a[`, `path "$.a[": unterminated '[' at offset 4`},
		{`$.a[1`, `path "$.a[1": want ']' at offset 5`},
		{`$.a[x]`, `path "$.a[x]": want a number or a quoted name after '[' at offset 4`},
		{`$.*`, `path "$.*": wildcards are not supported at offset 2`},
		{`$[*]`, `path "$[*]": wildcards are not supported at offset 2`},
		{`$["a]`, `path "$[\"a]": bad quoted name at offset 2`},
		{`$x`, `path "$x": want '.' or '[' at offset 1`},
		{`a..b`, `path "$.a..b": a member name must follow '.' at offset 4`},
	} {
		_, err := ParsePath(c.path)
		if err == nil || err.Error() != c.want {
			t.Errorf("ParsePath(%q) = %v, want %s", c.path, err, c.want)
		}
	}
}

func TestNumbers(t *testing.T) {
	var d Doc
	if err := d.Parse(`[42, -7, 2.0, 2e3, 2.5, 1e400, 9223372036854775807, 9223372036854775808, -9223372036854775808]`); err != nil {
		t.Fatal(err)
	}
	type res struct {
		i   int64
		iok bool
		fok bool
	}
	want := []res{{42, true, true}, {-7, true, true}, {2, true, true}, {2000, true, true}, {0, false, true},
		{0, false, false}, {9223372036854775807, true, true}, {0, false, true}, {-9223372036854775808, true, true}}
	for i, w := range want {
		n := d.Index(0, i)
		iv, iok := d.Int(n)
		_, fok := d.Float(n)
		if iv != w.i || iok != w.iok || fok != w.fok {
			t.Errorf("element %d (%s): Int = %d, %v; Float ok %v; want %+v", i, d.Raw(n), iv, iok, fok, w)
		}
	}
}

func TestConfigHelpers(t *testing.T) {
	var d Doc
	if err := d.ParseConfig([]byte(`{"name": "x", "n": 3, "b": true, "m": "up", "obj": {"a": 1, "a": 2}, "bad": {"q": 1}}`)); err != nil {
		t.Fatal(err)
	}
	if err := d.CheckMembers(0, "", "name", "n", "b", "m", "obj", "bad"); err != nil {
		t.Fatal(err)
	}
	if err := d.CheckMembers(0, "", "name"); err == nil || err.Error() != `config: unknown option "n" (known: name)` {
		t.Errorf("CheckMembers: %v", err)
	}
	if err := d.CheckMembers(d.Member(0, "obj"), "obj", "a"); err == nil || err.Error() != `config: obj.a: given twice` {
		t.Errorf("CheckMembers of a duplicate: %v", err)
	}
	if _, err := d.GetString(0, "", "n", ""); err == nil || err.Error() != `config: n: want a string, not a number (3)` {
		t.Errorf("GetString: %v", err)
	}
	if _, err := d.GetInt(0, "", "n", 0, 5, 10); err == nil || err.Error() != `config: n: want an integer from 5 to 10, not a number (3)` {
		t.Errorf("GetInt: %v", err)
	}
	if _, err := d.GetEnum(0, "", "m", "", "down", "left"); err == nil || err.Error() != `config: m: want one of "down", "left"; not "up"` {
		t.Errorf("GetEnum: %v", err)
	}
	if b, err := d.GetBool(0, "", "b", false); !b || err != nil {
		t.Errorf("GetBool = %v, %v", b, err)
	}
	if s, err := d.GetString(0, "", "absent", "def"); s != "def" || err != nil {
		t.Errorf("GetString of an absent member = %q, %v", s, err)
	}
	if err := d.ParseConfig(nil); err != ErrNoConfig {
		t.Errorf("ParseConfig(nil) = %v", err)
	}
	if err := d.ParseConfig([]byte(`[1]`)); err == nil || err.Error() != `config: want a JSON object, not an array` {
		t.Errorf("ParseConfig([1]) = %v", err)
	}
	if got := Join("columns", "a b"); got != `columns["a b"]` {
		t.Errorf("Join = %s", got)
	}
}

func TestReuseAllocatesNothing(t *testing.T) {
	doc := `{"title": "Heat", "year": 1995, "cast": [{"name": "Pacino"}, {"name": "De Niro"}]}`
	var d Doc
	p, _ := ParsePath("$.cast[1].name")
	d.Parse(doc)
	allocs := testing.AllocsPerRun(100, func() {
		if d.Parse(doc) != nil || d.Str(d.Lookup(&p)) != "De Niro" {
			t.Fatal("lookup failed")
		}
	})
	if allocs != 0 {
		t.Errorf("Parse and Lookup allocate %v times per run", allocs)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range docs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkDoc(t, s)
	})
}

func FuzzLookup(f *testing.F) {
	f.Add(`{"a":{"b":[1,{"c":"d"}]}}`, `$.a.b[1].c`)
	f.Add(`{"x y":[true,false]}`, `$["x y"][-1]`)
	f.Add(`{"a":1,"a":{"b":2}}`, `a.b`)
	f.Add(`[0,1,2]`, `$[-4]`)
	f.Add(`{"\u00e9":1}`, `$['é']`)
	f.Fuzz(func(t *testing.T, doc, path string) {
		p, err := ParsePath(path)
		if err != nil {
			return
		}
		var d Doc
		if d.Parse(doc) != nil {
			if d.Lookup(&p) != -1 {
				t.Fatalf("Lookup in a failed document found something")
			}
			return
		}
		ov, err := decodeOracle(doc)
		if err != nil {
			t.Fatalf("encoding/json cannot decode %q: %v", doc, err)
		}
		want, found := lookupOracle(ov, &p)
		n := d.Lookup(&p)
		if (n >= 0) != found {
			t.Fatalf("Lookup(%q) in %q = node %d, encoding/json found=%v", path, doc, n, found)
		}
		if found {
			if got := d.value(t, n); !reflect.DeepEqual(got, want) {
				t.Fatalf("Lookup(%q) in %q:\n got %#v\nwant %#v", path, doc, got, want)
			}
		}
	})
}

// FuzzUnquote checks Str against encoding/json for any string literal.
func FuzzUnquote(f *testing.F) {
	f.Add([]byte("a\\u00e9\xff\\ud83d"))
	f.Fuzz(func(t *testing.T, b []byte) {
		lit := `"` + string(b) + `"`
		got, ok := Unquote(lit)
		var want string
		err := json.Unmarshal([]byte(lit), &want)
		if ok != (err == nil) {
			t.Fatalf("Unquote(%q) ok=%v, encoding/json: %v", lit, ok, err)
		}
		if ok && got != want {
			t.Fatalf("Unquote(%q) = %q, want %q", lit, got, want)
		}
	})
}

const benchDoc = `{"title": "Heat", "year": 1995, "rating": 8.3, "released": true,
	"cast": [{"name": "Al Pacino", "role": "Hanna"}, {"name": "Robert De Niro", "role": "McCauley"}, {"name": "Val Kilmer", "role": "Shiherlis"}],
	"genres": ["crime", "drama", "thriller"], "production company": {"name": "Forward Pass", "country": "US"},
	"plot": "A group of high-end professional thieves start to feel the heat from the LAPD when they unknowingly leave a clue at their latest heist."}`

// BenchmarkLookup parses a document and picks four values, as jsondoc does
// per change.
func BenchmarkLookup(b *testing.B) {
	var paths []Path
	for _, s := range []string{"$.title", "$.year", "$.cast[-1].name", `$["production company"].name`} {
		p, err := ParsePath(s)
		if err != nil {
			b.Fatal(err)
		}
		paths = append(paths, p)
	}
	var d Doc
	b.SetBytes(int64(len(benchDoc)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Parse(benchDoc); err != nil {
			b.Fatal(err)
		}
		for i := range paths {
			if d.Lookup(&paths[i]) < 0 {
				b.Fatal("not found")
			}
		}
	}
}

// BenchmarkEncodingJSON is the same work with encoding/json, for
// comparison.
func BenchmarkEncodingJSON(b *testing.B) {
	b.SetBytes(int64(len(benchDoc)))
	b.ReportAllocs()
	for b.Loop() {
		var v map[string]any
		if err := json.Unmarshal([]byte(benchDoc), &v); err != nil {
			b.Fatal(err)
		}
		cast := v["cast"].([]any)
		_ = cast[len(cast)-1].(map[string]any)["name"].(string)
		_ = v["production company"].(map[string]any)["name"].(string)
	}
}
