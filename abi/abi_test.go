package abi

import (
	"go/parser"
	"go/token"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestParseStreamID(t *testing.T) {
	tests := []struct {
		in   string
		want StreamID
		ok   bool
	}{
		{"0", StreamID{0, 0}, true},
		{"5", StreamID{5, 0}, true},
		{"0-0", StreamID{0, 0}, true},
		{"1-2", StreamID{1, 2}, true},
		{"1700000000000-5", StreamID{1700000000000, 5}, true},
		{"007-08", StreamID{7, 8}, true},
		{"18446744073709551615-18446744073709551615", StreamID{math.MaxUint64, math.MaxUint64}, true},
		{"18446744073709551616", StreamID{}, false},
		{"99999999999999999999-0", StreamID{}, false},
		{"1-18446744073709551616", StreamID{}, false},
		{"", StreamID{}, false},
		{"-", StreamID{}, false},
		{"-1", StreamID{}, false},
		{"1-", StreamID{}, false},
		{"1-2-3", StreamID{}, false},
		{"1--2", StreamID{}, false},
		{"+1", StreamID{}, false},
		{" 1", StreamID{}, false},
		{"1 ", StreamID{}, false},
		{"1-a", StreamID{}, false},
		{"a-1", StreamID{}, false},
		{"1-*", StreamID{}, false},
		{"1.5", StreamID{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseStreamID(tt.in)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("ParseStreamID(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestStreamIDStringLess(t *testing.T) {
	tests := []struct {
		id   StreamID
		want string
	}{
		{StreamID{}, "0-0"},
		{StreamID{1700000000000, 5}, "1700000000000-5"},
		{StreamID{math.MaxUint64, math.MaxUint64}, "18446744073709551615-18446744073709551615"},
	}
	for _, tt := range tests {
		if got := tt.id.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.id, got, tt.want)
		}
	}
	ordered := []StreamID{{0, 0}, {0, 1}, {1, 0}, {1, math.MaxUint64}, {2, 0}}
	for i := range ordered {
		for j := range ordered {
			if got := ordered[i].Less(ordered[j]); got != (i < j) {
				t.Errorf("%v.Less(%v) = %v", ordered[i], ordered[j], got)
			}
		}
	}
}

func TestStatusString(t *testing.T) {
	tests := []struct {
		s    Status
		want string
	}{
		{StatusOK, "OK"},
		{StatusNotFound, "NOT_FOUND"},
		{StatusBufferTooSmall, "BUFFER_TOO_SMALL"},
		{StatusBadPointer, "BAD_POINTER"},
		{StatusBadEncoding, "BAD_ENCODING"},
		{StatusBadPhase, "BAD_PHASE"},
		{StatusLimitExceeded, "LIMIT_EXCEEDED"},
		{StatusBadArgument, "BAD_ARGUMENT"},
		{StatusRecipeError, "RECIPE_ERROR"},
		{9, "STATUS_9"},
		{math.MaxUint32, "STATUS_4294967295"},
	}
	for _, tt := range tests {
		if got := tt.s.String(); got != tt.want {
			t.Errorf("Status(%d).String() = %q, want %q", uint32(tt.s), got, tt.want)
		}
	}
}

func TestEnumStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{KindNull.String(), "null"},
		{KindBool.String(), "bool"},
		{Kind(6).String(), "kind(6)"},
		{ChangeExpired.String(), "expired"},
		{ChangeOp(0).String(), "op(0)"},
		{DataJSON.String(), "json"},
		{DataKind(9).String(), "data(9)"},
		{ModeWriteThrough.String(), "write-through"},
		{Mode(0).String(), "mode(0)"},
		{RowInsert.String(), "insert"},
		{RowOpKind(255).String(), "rowop(255)"},
		{OutcomeReject.String(), "reject"},
		{Outcome(4).String(), "outcome(4)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestValueAccessors(t *testing.T) {
	tests := []struct {
		name  string
		v     Value
		kind  Kind
		null  bool
		str   string
		i     int64
		f     float64
		b     bool
		fbits uint64
	}{
		{name: "zero", v: Value{}, kind: KindNull, null: true},
		{name: "null", v: Null(), kind: KindNull, null: true},
		{name: "string", v: String("abc"), kind: KindString, str: "abc"},
		{name: "bytes", v: Bytes([]byte{0, 1}), kind: KindBytes, str: "\x00\x01"},
		{name: "int", v: Int(-7), kind: KindInt, i: -7},
		{name: "int min", v: Int(math.MinInt64), kind: KindInt, i: math.MinInt64},
		{name: "float", v: Float(2.5), kind: KindFloat, f: 2.5, fbits: math.Float64bits(2.5)},
		{name: "float -0", v: Float(math.Copysign(0, -1)), kind: KindFloat, fbits: 1 << 63},
		{name: "true", v: Bool(true), kind: KindBool, b: true},
		{name: "false", v: Bool(false), kind: KindBool},
	}
	for _, tt := range tests {
		v := tt.v
		if v.Kind() != tt.kind || v.IsNull() != tt.null || v.Str() != tt.str || v.Int() != tt.i || v.Bool() != tt.b {
			t.Errorf("%s: got kind %v null %v str %q int %d bool %v", tt.name, v.Kind(), v.IsNull(), v.Str(), v.Int(), v.Bool())
		}
		if tt.kind == KindFloat {
			if math.Float64bits(v.Float()) != tt.fbits {
				t.Errorf("%s: float bits %x, want %x", tt.name, math.Float64bits(v.Float()), tt.fbits)
			}
		} else if v.Float() != 0 {
			t.Errorf("%s: Float() = %v, want 0", tt.name, v.Float())
		}
		if !v.Equal(v.Clone()) {
			t.Errorf("%s: not equal to its clone", tt.name)
		}
	}
	if Int(1).Equal(Bool(true)) || String("a").Equal(Bytes([]byte("a"))) || Null().Equal(Int(0)) {
		t.Error("values of different kinds are equal")
	}
	nan := Float(math.NaN())
	if !nan.Equal(nan) {
		t.Error("a NaN value is not equal to itself (Equal compares bits)")
	}
	if Float(0).Equal(Float(math.Copysign(0, -1))) {
		t.Error("0 and -0 are equal (Equal compares bits)")
	}

	// Bytes copies its argument; Clone detaches a decoded value from its buffer.
	b := []byte("xyz")
	v := Bytes(b)
	b[0] = 'Q'
	if v.Str() != "xyz" {
		t.Errorf("Bytes aliases its argument: %q", v.Str())
	}
	buf := AppendValue(nil, String("hello"))
	dec, err := DecodeValue(buf)
	if err != nil {
		t.Fatal(err)
	}
	c := dec.Clone()
	buf[2] = 'J'
	if dec.Str() != "Jello" {
		t.Errorf("decoded value does not alias its buffer: %q", dec.Str())
	}
	if c.Str() != "hello" {
		t.Errorf("clone aliases the buffer: %q", c.Str())
	}
}

func TestDecodeErrorMessage(t *testing.T) {
	var c Change
	err := DecodeChange([]byte{9}, &c)
	de, ok := err.(*DecodeError)
	if !ok {
		t.Fatalf("error %T", err)
	}
	want := "abi: decode change.op at offset 0: unknown enum"
	if de.Error() != want || de.Code() != "enum" || de.Unwrap() != ErrEnum {
		t.Errorf("got %q, %s, %v", de.Error(), de.Code(), de.Unwrap())
	}
	_, err = DecodeValue([]byte{5, 2})
	if de, ok := err.(*DecodeError); !ok || de.Record != "value" || de.Offset != 1 || de.Code() != "invalid" {
		t.Errorf("DecodeValue bool 2: %v", err)
	}
}

func TestChangeText(t *testing.T) {
	tests := []struct {
		c    Change
		want string
	}{
		{vecChangeHash, `change op=set data=hash trigger=0 id=1700000000000-0 key="person:1" fields=["first_name"="Ann" "last_name"="Lee" "age"="42"] doc=""`},
		{Change{Op: ChangeDelete, Data: DataJSON, Trigger: 3, ID: StreamID{5, 6}, Key: "m:\x00é"},
			`change op=delete data=json trigger=3 id=5-6 key="m:\x00\xc3\xa9" fields=[] doc=""`},
		{Change{Op: ChangeSet, Data: DataString, ID: StreamID{1, 0}, Key: "s", Doc: "a\"b\\c\n"},
			`change op=set data=string trigger=0 id=1-0 key="s" fields=[] doc="a\x22b\x5cc\x0a"`},
	}
	for _, tt := range tests {
		if got := ChangeText(&tt.c); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

func TestResultText(t *testing.T) {
	tests := []struct {
		r    Result
		want string
	}{
		{Result{Change: 0, Outcome: OutcomeRows, Rows: []RowOp{vecRowUpsert, vecRowDelete}},
			`result change=0 outcome=rows rows=[upsert table="persons" keys=["person_id"=str:"1"] cols=["first"=str:"Ann" "last"=str:"Lee" "age"=int:42]; delete table="persons" keys=["person_id"=str:"7"] cols=[]]`},
		{Result{Change: 1, Outcome: OutcomeRows}, `result change=1 outcome=rows rows=[]`},
		{Result{Change: 2, Outcome: OutcomeSkip}, `result change=2 outcome=skip`},
		{Result{Change: 3, Outcome: OutcomeReject, Reason: "bad \"age\""}, `result change=3 outcome=reject reason="bad \x22age\x22"`},
		{Result{Change: 4, Outcome: OutcomeRows, Rows: []RowOp{vecRowInsert}},
			`result change=4 outcome=rows rows=[insert table="events" keys=["stream"=str:"person" "seq"=int:3] cols=["payload"=bytes:"\x00\x01\x02" "ok"=bool:true "score"=float:0x3fe0000000000000 "note"=null]]`},
	}
	for _, tt := range tests {
		if got := ResultText(&tt.r); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
	m := Recipe{Name: "movies", Version: "1.0.0", Triggers: []Trigger{vecTrigger, {Prefix: "a:", Mode: ModeWriteThrough, Data: DataJSON, Connection: "pg", Flags: TriggerExpiryDeletes}},
		Params: []Param{{ParamBatchSize, Int(10)}}}
	want := `recipe name="movies" version="1.0.0" triggers=[trigger prefix="person:" mode=write-behind data=hash connection="mysql" flags=0; trigger prefix="a:" mode=write-through data=json connection="pg" flags=1] params=["batch_size"=int:10]`
	if got := RecipeText(&m); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestBuildsForWasip1 checks that the package compiles for the target the
// SDK uses, so nothing host-only creeps in.
func TestBuildsForWasip1(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	cmd := exec.Command(goBin, "build", ".")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=wasip1 GOARCH=wasm go build: %v\n%s", err, out)
	}
}

// TestImports keeps the package TinyGo-safe: its non-test files import only
// errors, math and unsafe (no fmt, reflect, encoding/json, ...).
func TestImports(t *testing.T) {
	allowed := map[string]bool{"errors": true, "math": true, "unsafe": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		n++
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			if !allowed[path] {
				t.Errorf("%s imports %q; abi may import only errors, math and unsafe", name, path)
			}
		}
	}
	if n == 0 {
		t.Fatal("no non-test Go files found")
	}
}

// TestValidateRecipe checks one case per rule of SPEC.md, declare.
func TestValidateRecipe(t *testing.T) {
	ok := func() Recipe {
		return Recipe{Name: "persons", Version: "1.0.0", Triggers: []Trigger{
			{Prefix: "person:", Mode: ModeWriteBehind, Data: DataHash, Connection: "mysql"},
			{Prefix: "car:", Mode: ModeWriteThrough, Data: DataJSON, Connection: "pg", Flags: TriggerExpiryDeletes},
		}}
	}
	tests := []struct {
		name  string
		edit  func(m *Recipe)
		valid bool
	}{
		{"valid", func(m *Recipe) {}, true},
		{"name with digits, _ and -", func(m *Recipe) { m.Name = "a0_b-c" }, true},
		{"name of 64 bytes", func(m *Recipe) { m.Name = "a" + strings.Repeat("b", 63) }, true},
		{"name of 65 bytes", func(m *Recipe) { m.Name = "a" + strings.Repeat("b", 64) }, false},
		{"empty name", func(m *Recipe) { m.Name = "" }, false},
		{"upper case name", func(m *Recipe) { m.Name = "Persons" }, false},
		{"name starting with a digit", func(m *Recipe) { m.Name = "1persons" }, false},
		{"name starting with _", func(m *Recipe) { m.Name = "_persons" }, false},
		{"name with a space", func(m *Recipe) { m.Name = "a b" }, false},
		{"name with a dot", func(m *Recipe) { m.Name = "a.b" }, false},
		{"pre-release and build", func(m *Recipe) { m.Version = "1.2.3-rc.1+build.5" }, true},
		{"version 1.0", func(m *Recipe) { m.Version = "1.0" }, false},
		{"version v1.0.0", func(m *Recipe) { m.Version = "v1.0.0" }, false},
		{"version with leading zero", func(m *Recipe) { m.Version = "1.01.0" }, false},
		{"empty version", func(m *Recipe) { m.Version = "" }, false},
		{"no triggers", func(m *Recipe) { m.Triggers = nil }, false},
		{"empty prefix", func(m *Recipe) { m.Triggers[1].Prefix = "" }, false},
		{"empty connection", func(m *Recipe) { m.Triggers[0].Connection = "" }, false},
		{"mode 0", func(m *Recipe) { m.Triggers[0].Mode = 0 }, false},
		{"data 4", func(m *Recipe) { m.Triggers[0].Data = 4 }, false},
		{"prefix of another prefix", func(m *Recipe) { m.Triggers[1].Prefix = "person:vip:" }, false},
		{"another prefix is its prefix", func(m *Recipe) { m.Triggers[0].Prefix = "c" }, false},
		{"equal prefixes", func(m *Recipe) { m.Triggers[1].Prefix = "person:" }, false},
		{"disjoint similar prefixes", func(m *Recipe) { m.Triggers[1].Prefix = "persons:" }, true},
		{"both params", func(m *Recipe) {
			m.Params = []Param{{ParamBatchSize, Int(1000000)}, {ParamBatchAgeMs, Int(3600000)}}
		}, true},
		{"smallest params", func(m *Recipe) { m.Params = []Param{{ParamBatchSize, Int(1)}, {ParamBatchAgeMs, Int(1)}} }, true},
		{"batch_size 0", func(m *Recipe) { m.Params = []Param{{ParamBatchSize, Int(0)}} }, false},
		{"batch_size over 1000000", func(m *Recipe) { m.Params = []Param{{ParamBatchSize, Int(1000001)}} }, false},
		{"batch_age_ms over 3600000", func(m *Recipe) { m.Params = []Param{{ParamBatchAgeMs, Int(3600001)}} }, false},
		{"batch_size not an int", func(m *Recipe) { m.Params = []Param{{ParamBatchSize, String("10")}} }, false},
		{"batch_size twice", func(m *Recipe) { m.Params = []Param{{ParamBatchSize, Int(5)}, {ParamBatchSize, Int(5)}} }, false},
		{"unknown param", func(m *Recipe) { m.Params = []Param{{"batch_bytes", Int(5)}} }, false},
	}
	for _, tt := range tests {
		m := ok()
		tt.edit(&m)
		err := ValidateRecipe(&m)
		if (err == nil) != tt.valid {
			t.Errorf("%s: ValidateRecipe = %v, want valid %v", tt.name, err, tt.valid)
		}
	}
}

func TestParseSemver(t *testing.T) {
	tests := []struct {
		in  string
		ok  bool
		pre string
	}{
		{"0.0.0", true, ""},
		{"1.2.3", true, ""},
		{"10.20.30", true, ""},
		{"1.2.3-alpha", true, "alpha"},
		{"1.2.3-alpha.1", true, "alpha.1"},
		{"1.2.3-0a.x-y", true, "0a.x-y"},
		{"1.2.3-rc.1+build.5", true, "rc.1"},
		{"1.2.3+build.007", true, ""},
		{"1.2.3+a-b", true, ""},
		{"18446744073709551615.0.0", true, ""},
		{"18446744073709551616.0.0", false, ""},
		{"1.2", false, ""},
		{"1.2.3.4", false, ""},
		{"01.2.3", false, ""},
		{"1.02.3", false, ""},
		{"1.2.03", false, ""},
		{"1.2.3-", false, ""},
		{"1.2.3+", false, ""},
		{"1.2.3-01", false, ""},
		{"1.2.3-a..b", false, ""},
		{"1.2.3-a_b", false, ""},
		{"1.2.3+a+b", false, ""},
		{"v1.2.3", false, ""},
		{" 1.2.3", false, ""},
		{"", false, ""},
	}
	for _, tt := range tests {
		v, ok := ParseSemver(tt.in)
		if ok != tt.ok || (ok && v.Pre != tt.pre) {
			t.Errorf("ParseSemver(%q) = %+v, %v; want ok %v pre %q", tt.in, v, ok, tt.ok, tt.pre)
		}
	}
	// The precedence example of semver.org 2.0.0, section 11, and more.
	ordered := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
		"1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.10.0", "2.0.0"}
	for i := range ordered {
		for j := range ordered {
			a, _ := ParseSemver(ordered[i])
			b, _ := ParseSemver(ordered[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.Compare(b); got != want {
				t.Errorf("%s compared to %s = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	a, _ := ParseSemver("1.0.0+a")
	b, _ := ParseSemver("1.0.0+b")
	if a.Compare(b) != 0 {
		t.Error("build metadata takes part in precedence")
	}
}
