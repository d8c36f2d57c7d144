package mapkit

import (
	"testing"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/sdk/go/cogsjson"
)

func parseKey(t *testing.T, config, prefix string) Key {
	t.Helper()
	var d cogsjson.Doc
	if err := d.Parse(config); err != nil {
		t.Fatal(err)
	}
	k, err := ParseKey(&d, 0, prefix)
	if err != nil {
		t.Fatalf("ParseKey(%s): %v", config, err)
	}
	return k
}

func TestKeyExtract(t *testing.T) {
	for _, c := range []struct {
		config, prefix, key string
		want                string // values, or "!" and the reason
	}{
		{`"id"`, "p:", "p:42", `str:"42"`},
		{`"id"`, "p:", "p:", `!key part id is empty`},
		{`{"column": "id", "type": "float"}`, "p:", "p:1.5", `float:0x3ff8000000000000`},
		{`{"pattern": "t:{a}:u:{b:int}"}`, "t:", "t:x:u:7", `str:"x" int:7`},
		{`{"pattern": "t:{a}:u:{b:int}"}`, "t:", "t:x:y:u:7", `str:"x:y" int:7`},
		{`{"pattern": "t:{a}:u:{b:int}"}`, "t:", "t:x:u:7:u:8", `!key part b: "7:u:8" is not a valid int`},
		{`{"pattern": "t:{a}:u:{b:int}"}`, "t:", "t:x:v:7", `!key "t:x:v:7" does not match pattern "t:{a}:u:{b:int}"`},
		{`{"pattern": "t:{a}!"}`, "t:", "t:x!", `str:"x"`},
		{`{"pattern": "t:{a}!"}`, "t:", "t:x", `!key "t:x" does not match pattern "t:{a}!"`},
		{`{"pattern": "t:{a}!"}`, "t:", "t:!", `!key "t:!" has an empty {a}`},
		{`{"pattern": "{a}:{b}"}`, "x", "xy:z", `str:"xy" str:"z"`},
		{`{"separator": "::", "columns": ["a", "", "b:bool"]}`, "s:", "s:x::y::true", `str:"x" null bool:true`},
		{`{"separator": "::", "columns": ["a", "", "b:bool"]}`, "s:", "s:x::y", `!key "s:x::y" has 2 parts after the prefix, want 3 separated by "::"`},
	} {
		k := parseKey(t, c.config, c.prefix)
		why := k.Extract(c.key, c.key[len(c.prefix):])
		got := "!" + why
		if why == "" {
			got = ""
			for i, v := range k.vals {
				if i > 0 {
					got += " "
				}
				got += string(abi.AppendValueText(nil, v))
			}
		}
		if got != c.want {
			t.Errorf("key %s, Extract(%q) = %s, want %s", c.config, c.key, got, c.want)
		}
	}
}

func TestConvert(t *testing.T) {
	for _, c := range []struct {
		t    Type
		in   string
		want string // "" when it does not convert
	}{
		{TypeString, "", `str:""`},
		{TypeInt, "-12", `int:-12`},
		{TypeInt, "1.0", ``},
		{TypeInt, "9223372036854775808", ``},
		{TypeFloat, "1e3", `float:0x408f400000000000`},
		{TypeFloat, "x", ``},
		{TypeBool, "TRUE", `bool:true`},
		{TypeBool, "yes", ``},
		{TypeBytes, "\xff", `bytes:"\xff"`},
		{TypeJSON, `{"a": [1]}`, `str:"{\x22a\x22: [1]}"`},
		{TypeJSON, `{a}`, ``},
	} {
		v, ok := Convert(c.t, c.in)
		got := ""
		if ok {
			got = string(abi.AppendValueText(nil, v))
		}
		if got != c.want {
			t.Errorf("Convert(%v, %q) = %s, want %s", c.t, c.in, got, c.want)
		}
	}
}

func TestHolds(t *testing.T) {
	var d cogsjson.Doc
	if err := d.Parse(`[{"field": "f", "op": "ge", "value": 2.5}, {"field": "f", "op": "not_in", "value": ["3", 4]}]`); err != nil {
		t.Fatal(err)
	}
	conds, err := ParseFilter(&d, 0, "field")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		v         string
		ok        bool
		ge, notIn bool
	}{
		{"2.5", true, true, true},
		{"2.4", true, false, true},
		{"3", true, true, false},
		{"4", true, true, false},
		{"4.0", true, true, true},
		{"", false, false, true},
		{"abc", true, false, true},
	} {
		if got := conds[0].Holds(c.v, c.ok); got != c.ge {
			t.Errorf("ge 2.5 on %q (present %v) = %v", c.v, c.ok, got)
		}
		if got := conds[1].Holds(c.v, c.ok); got != c.notIn {
			t.Errorf("not_in on %q (present %v) = %v", c.v, c.ok, got)
		}
	}
}
