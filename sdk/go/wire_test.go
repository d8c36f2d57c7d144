package cogs

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/cogs-dev/cogs/abi"
)

// The SDK's change decoder and result encoder must agree exactly with
// package abi: the same records accepted and rejected, the same decoded
// text, the same bytes written.

// vectorInputs returns the input bytes of every conformance vector.
func vectorInputs(t testing.TB) [][]byte {
	f, err := os.Open("../../abi/testdata/vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ins [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if h, ok := strings.CutPrefix(sc.Text(), "hex: "); ok {
			b, err := hex.DecodeString(h)
			if err != nil {
				t.Fatal(err)
			}
			ins = append(ins, b)
		} else if sc.Text() == "hex:" {
			ins = append(ins, nil)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return ins
}

func seedChanges(f *testing.F) {
	for _, in := range vectorInputs(f) {
		f.Add(in)
	}
	long := strings.Repeat("x", 200)
	for _, c := range []abi.Change{
		{Op: abi.ChangeSet, Data: abi.DataHash, Key: "person:1", ID: abi.StreamID{Ms: 1700000000000, Seq: 7},
			Fields: []abi.Field{{Name: "first_name", Value: "Ada"}, {Name: "age", Value: "36"}}},
		{Op: abi.ChangeDelete, Data: abi.DataHash, Trigger: 3, Key: "person:2"},
		{Op: abi.ChangeExpired, Data: abi.DataJSON, Trigger: 300, Key: long, Doc: `{"a":1}`},
		{Op: abi.ChangeSet, Data: abi.DataString, Key: "k", Doc: long},
		{Op: abi.ChangeSet, Data: abi.DataHash, Key: "k", Fields: []abi.Field{{Name: long, Value: ""}, {Name: "", Value: long}}},
		{Op: abi.ChangeSet, Data: abi.DataHash, Key: "", Fields: make([]abi.Field, 130)},
	} {
		b := abi.AppendChange(nil, &c)
		f.Add(b)
		f.Add(b[:len(b)-1])
		f.Add(append(b, 0))
	}
	// A non-minimal trigger varint, which abi accepts.
	f.Add(append([]byte{1, 1, 0x81, 0x00}, make([]byte, 16+3)...))
}

// FuzzDecodeChange checks decodeChange against abi.DecodeChange on any
// input: the same verdict and, on success, the same record, whether the
// Change is fresh or was used for another record before.
func FuzzDecodeChange(f *testing.F) {
	seedChanges(f)
	used := new(Change)
	f.Fuzz(func(t *testing.T, in []byte) {
		in = bytes.Clone(in) // the Change aliases it
		var want abi.Change
		werr := abi.DecodeChange(in, &want)
		for _, c := range []*Change{new(Change), used} {
			c.buf = in
			ok := decodeChange(in, c)
			if ok != (werr == nil) {
				t.Fatalf("decodeChange(%x) = %v, abi.DecodeChange says %v", in, ok, werr)
			}
			if !ok {
				continue
			}
			got := c.record()
			if g, w := abi.ChangeText(&got), abi.ChangeText(&want); g != w {
				t.Fatalf("decodeChange(%x):\n got %s\nwant %s", in, g, w)
			}
			for _, fl := range want.Fields {
				if v, ok := c.Get(fl.Name); !ok || v != firstValue(&want, fl.Name) {
					t.Fatalf("Get(%q) = %q, %v", fl.Name, v, ok)
				}
			}
		}
	})
}

func firstValue(c *abi.Change, name string) string {
	for _, f := range c.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

func TestChangeAccessors(t *testing.T) {
	rec := abi.Change{Op: abi.ChangeSet, Data: abi.DataHash, Key: "person:42", ID: abi.StreamID{Ms: 5, Seq: 6},
		Fields: []abi.Field{{Name: "a", Value: "1"}, {Name: "age", Value: "-36"}, {Name: "x", Value: "nope"},
			{Name: "big", Value: "9223372036854775807"}, {Name: "f", Value: "2.5"}, {Name: "b", Value: "TRUE"}}}
	c := &Change{buf: abi.AppendChange(nil, &rec), prefixLen: uint32(len("person:"))}
	if !decodeChange(c.buf, c) {
		t.Fatal("does not decode")
	}
	if c.Key() != "person:42" || c.KeySuffix() != "42" || c.ID() != rec.ID || c.Op() != abi.ChangeSet || c.Deleted() || c.Doc() != "" {
		t.Fatalf("accessors: %q %q %v %v", c.Key(), c.KeySuffix(), c.ID(), c.Op())
	}
	if got := c.record(); abi.ChangeText(&got) != abi.ChangeText(&rec) {
		t.Fatalf("record: %s", abi.ChangeText(&got))
	}
	for _, tc := range []struct {
		name string
		want Value
		ok   bool
	}{
		{"age", abi.Int(-36), true},
		{"big", abi.Int(math.MaxInt64), true},
		{"x", abi.Null(), false},
		{"missing", abi.Null(), true},
	} {
		if v, ok := c.IntOK(tc.name); !v.Equal(tc.want) || ok != tc.ok {
			t.Errorf("IntOK(%q) = %v, %v", tc.name, abi.AppendValueText(nil, v), ok)
		}
	}
	if v := c.Float("f"); !v.Equal(abi.Float(2.5)) {
		t.Errorf("Float: %s", abi.AppendValueText(nil, v))
	}
	if v := c.Bool("b"); !v.Equal(abi.Bool(true)) {
		t.Errorf("Bool: %s", abi.AppendValueText(nil, v))
	}
	if v := c.Value("a"); !v.Equal(abi.String("1")) || !c.Has("x") || c.Has("y") {
		t.Errorf("Value/Has")
	}
}

// FuzzParseInt checks IntOK against strconv.ParseInt(s, 10, 64).
func FuzzParseInt(f *testing.F) {
	for _, s := range []string{"", "0", "-0", "+7", "-", "+", "12a", "007", "1_000", " 1",
		"999999999999999999", "-999999999999999999", "9223372036854775807", "9223372036854775808",
		"-9223372036854775808", "-9223372036854775809", "99999999999999999999", "0x10", "٣",
		"12345678", "123456789", "1234567890123456", "12345678901234567", "+1234567890123456", "-12345678901234567",
		"1234567/", "1234567:", "12345678901234:6", "\x00", "00000000000000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := strconv.ParseInt(s, 10, 64)
		rec := abi.Change{Op: abi.ChangeSet, Data: abi.DataHash, Fields: []abi.Field{{Name: "n", Value: s}}}
		c := &Change{buf: abi.AppendChange(nil, &rec)}
		if !decodeChange(c.buf, c) {
			t.Fatal("does not decode")
		}
		got, ok := c.IntOK("n")
		if ok != (err == nil) || (ok && !got.Equal(abi.Int(want))) || (!ok && !got.IsNull()) {
			t.Fatalf("IntOK(%q) = %s, %v; strconv says %d, %v", s, abi.AppendValueText(nil, got), ok, want, err)
		}
	})
}

// TestAppendResultMatchesABI builds outputs through the Output API and
// checks that the record the SDK writes is byte for byte the one
// abi.AppendResult writes for the same result.
func TestAppendResultMatchesABI(t *testing.T) {
	long := strings.Repeat("long", 40) // 160 bytes: a two-byte length
	values := []struct {
		name string
		v    Value
	}{
		{"null", Null()},
		{"str", String("Ada")},
		{"empty", String("")},
		{"longstr", String(long)},
		{"bytes", Bytes([]byte{0, 1, 0xff})},
		{"int", Int(-42)},
		{"maxint", Int(math.MaxInt64)},
		{"float", Float(3.25)},
		{"nan", Float(math.Float64frombits(0x7ff8000000000123))},
		{"negzero", Float(math.Copysign(0, -1))},
		{"true", Bool(true)},
		{"false", Bool(false)},
		{long, Int(1)},
	}
	for n := 0; n <= 20; n++ {
		values = append(values, struct {
			name string
			v    Value
		}{strings.Repeat("n", n), String(strings.Repeat("v", n))})
	}
	type step struct {
		row  int // index of the row the column goes to
		key  bool
		name string
		v    Value
	}
	type rowSpec struct {
		op    abi.RowOpKind
		table string
	}
	tests := []struct {
		name   string
		rows   []rowSpec
		steps  []step
		skip   bool
		reject string
		want   abi.Result // Change is set per index
	}{
		{name: "no output", want: abi.Result{Outcome: abi.OutcomeSkip}},
		{name: "skip", rows: []rowSpec{{abi.RowUpsert, "t"}}, steps: []step{{0, true, "id", Int(1)}}, skip: true,
			want: abi.Result{Outcome: abi.OutcomeSkip}},
		{name: "reject", rows: []rowSpec{{abi.RowUpsert, "t"}}, steps: []step{{0, true, "id", Int(1)}}, reject: "bad age",
			want: abi.Result{Outcome: abi.OutcomeReject, Reason: "bad age"}},
		{name: "reject long", reject: strings.Repeat("r", abi.MaxReasonLen+10),
			want: abi.Result{Outcome: abi.OutcomeReject, Reason: strings.Repeat("r", abi.MaxReasonLen)}},
		{name: "no key", rows: []rowSpec{{abi.RowUpsert, "t"}}, steps: []step{{0, false, "a", Int(1)}},
			want: abi.Result{Outcome: abi.OutcomeReject, Reason: `recipe bug: row of table "t" has no key column`}},
		{name: "empty table", rows: []rowSpec{{abi.RowUpsert, ""}}, steps: []step{{0, true, "id", Int(1)}},
			want: abi.Result{Outcome: abi.OutcomeReject, Reason: "recipe bug: row with an empty table name"}},
		{name: "persons", rows: []rowSpec{{abi.RowUpsert, "persons"}},
			steps: []step{{0, true, "person_id", String("42")}, {0, false, "first", String("Ada")}, {0, false, "age", Int(36)}},
			want: abi.Result{Outcome: abi.OutcomeRows, Rows: []abi.RowOp{{Op: abi.RowUpsert, Table: "persons",
				Keys: []abi.Column{{Name: "person_id", Value: String("42")}},
				Cols: []abi.Column{{Name: "first", Value: String("Ada")}, {Name: "age", Value: Int(36)}}}}}},
		{name: "delete ignores columns", rows: []rowSpec{{abi.RowDelete, "persons"}},
			steps: []step{{0, false, "first", String("Ada")}, {0, true, "person_id", String("42")}},
			want: abi.Result{Outcome: abi.OutcomeRows, Rows: []abi.RowOp{{Op: abi.RowDelete, Table: "persons",
				Keys: []abi.Column{{Name: "person_id", Value: String("42")}}}}}},
		{name: "long table", rows: []rowSpec{{abi.RowInsert, long}}, steps: []step{{0, true, "id", Int(1)}},
			want: abi.Result{Outcome: abi.OutcomeRows, Rows: []abi.RowOp{{Op: abi.RowInsert, Table: long,
				Keys: []abi.Column{{Name: "id", Value: Int(1)}}}}}},
	}
	// Every kind of value, as a key and as a column, in several rows built
	// at once (so that rows move in the arenas).
	all := struct {
		rows  []rowSpec
		steps []step
		want  abi.Result
	}{want: abi.Result{Outcome: abi.OutcomeRows}}
	for r, op := range []abi.RowOpKind{abi.RowUpsert, abi.RowInsert, abi.RowUpsert} {
		table := "t" + strconv.Itoa(r)
		all.rows = append(all.rows, rowSpec{op, table})
		all.want.Rows = append(all.want.Rows, abi.RowOp{Op: op, Table: table})
	}
	for k, nv := range values {
		for r := range all.rows {
			if (k+r)%2 == 0 {
				all.steps = append(all.steps, step{r, true, nv.name, nv.v})
				all.want.Rows[r].Keys = append(all.want.Rows[r].Keys, abi.Column{Name: nv.name, Value: nv.v})
			} else {
				all.steps = append(all.steps, step{r, false, nv.name, nv.v})
				all.want.Rows[r].Cols = append(all.want.Rows[r].Cols, abi.Column{Name: nv.name, Value: nv.v})
			}
		}
	}
	tests = append(tests, struct {
		name   string
		rows   []rowSpec
		steps  []step
		skip   bool
		reject string
		want   abi.Result
	}{name: "all kinds, interleaved rows", rows: all.rows, steps: all.steps, want: all.want})
	// 130 columns and 130 rows: one-byte counts no longer do.
	many := abi.Result{Outcome: abi.OutcomeRows, Rows: []abi.RowOp{{Op: abi.RowUpsert, Table: "wide"}}}
	var manySteps []step
	for k := 0; k < 130; k++ {
		name := "c" + strconv.Itoa(k)
		manySteps = append(manySteps, step{0, k < 129, name, Int(int64(k))})
		if k < 129 {
			many.Rows[0].Keys = append(many.Rows[0].Keys, abi.Column{Name: name, Value: Int(int64(k))})
		} else {
			many.Rows[0].Cols = append(many.Rows[0].Cols, abi.Column{Name: name, Value: Int(int64(k))})
		}
	}
	tests = append(tests, struct {
		name   string
		rows   []rowSpec
		steps  []step
		skip   bool
		reject string
		want   abi.Result
	}{name: "wide", rows: []rowSpec{{abi.RowUpsert, "wide"}}, steps: manySteps, want: many})
	var tall abi.Result
	var tallRows []rowSpec
	var tallSteps []step
	tall.Outcome = abi.OutcomeRows
	for k := 0; k < 130; k++ {
		tallRows = append(tallRows, rowSpec{abi.RowDelete, "t"})
		tallSteps = append(tallSteps, step{k, true, "id", Int(int64(k))})
		tall.Rows = append(tall.Rows, abi.RowOp{Op: abi.RowDelete, Table: "t", Keys: []abi.Column{{Name: "id", Value: Int(int64(k))}}})
	}
	tests = append(tests, struct {
		name   string
		rows   []rowSpec
		steps  []step
		skip   bool
		reject string
		want   abi.Result
	}{name: "tall", rows: tallRows, steps: tallSteps, want: tall})

	var o Output // reused across cases, as mapBatch does
	for _, tc := range tests {
		for _, idx := range []uint32{0, 1, 127, 128, 16383, 16384, 1 << 31} {
			for _, prefix := range [][]byte{nil, []byte("prefix"), make([]byte, 3, 4096)} {
				o.reset()
				var rows []Row
				for _, r := range tc.rows {
					switch r.op {
					case abi.RowUpsert:
						rows = append(rows, o.Upsert(r.table))
					case abi.RowInsert:
						rows = append(rows, o.Insert(r.table))
					case abi.RowDelete:
						rows = append(rows, o.Delete(r.table))
					}
				}
				for _, s := range tc.steps {
					if s.key {
						rows[s.row].Key(s.name, s.v)
					} else {
						rows[s.row].Col(s.name, s.v)
					}
				}
				if tc.skip {
					o.Skip()
				}
				if tc.reject != "" {
					o.Reject(tc.reject)
				}
				want := tc.want
				want.Change = idx
				wantB := abi.AppendResult(bytes.Clone(prefix), &want)
				got := o.appendResult(bytes.Clone(prefix), idx)
				if !bytes.Equal(got, wantB) {
					t.Fatalf("%s, change %d, prefix %q:\n got %x\nwant %x", tc.name, idx, prefix, got, wantB)
				}
				// And it decodes to the same result.
				rs, err := abi.DecodeResults(got[len(prefix):], nil)
				if err != nil || len(rs) != 1 || abi.ResultText(&rs[0]) != abi.ResultText(&want) {
					t.Fatalf("%s: decodes to %v, %v", tc.name, rs, err)
				}
			}
		}
	}
}

// TestHalves checks halves on every length it handles, with the string at
// the start, in the middle and at the end of a buffer.
func TestHalves(t *testing.T) {
	if !wordTricks {
		t.Skip("the word tricks run only in Wasm builds; the engine's Wasm tests exercise them")
	}
	src := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	for n := 0; n <= smallMax; n++ {
		for _, at := range []int{0, 5, len(src) - n} {
			s := unsafe.String(unsafe.SliceData(src[at:]), n)
			var want [16]byte
			copy(want[:], s)
			wantLo := uint64(0)
			for k := 7; k >= 0; k-- {
				wantLo = wantLo<<8 | uint64(want[k])
			}
			wantHi := uint64(0)
			if n > 8 {
				for k := n - 1; k >= n-8; k-- {
					wantHi = wantHi<<8 | uint64(s[k])
				}
			}
			if lo, hi := halves(s); lo != wantLo || hi != wantHi {
				t.Fatalf("halves(%q) = %#x, %#x; want %#x, %#x", s, lo, hi, wantLo, wantHi)
			}
		}
	}
}

// TestKeyHasPrefix checks keyHasPrefix against strings.HasPrefix, for
// prefixes up to 16 bytes; longer ones match nothing (the slow path
// checks them).
func TestKeyHasPrefix(t *testing.T) {
	if !wordTricks {
		t.Skip("the word tricks run only in Wasm builds; the engine's Wasm tests exercise them")
	}
	keys := []string{"", "p", "person:", "person:42", "persons:1", "x", strings.Repeat("k", 40), "0123456789abcdefgh"}
	for _, key := range keys {
		rec := abi.Change{Op: abi.ChangeDelete, Data: abi.DataHash, Key: key}
		c := &Change{buf: abi.AppendChange(nil, &rec)}
		if !decodeChange(c.buf, c) {
			t.Fatal("does not decode")
		}
		for _, k2 := range keys {
			for n := 0; n <= len(k2) && n <= smallMax+2; n++ {
				prefix := k2[:n]
				tp := newTriggerPrefix(prefix)
				want := strings.HasPrefix(key, prefix) && len(prefix) <= smallMax
				if got := keyHasPrefix(c, &tp); got != want {
					t.Errorf("keyHasPrefix(%q, %q) = %v", key, prefix, got)
				}
			}
		}
	}
}
