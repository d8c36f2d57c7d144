package abi

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.txt from the vectors defined in vectors_test.go")

const vectorsPath = "testdata/vectors.txt"

// vector is one conformance vector: bytes, and either the canonical text
// they decode to or the code of the error decoding them gives.
type vector struct {
	comment string // optional, written as "# ..." above the block
	name    string
	typ     string // change, result, results, rowop, trigger, recipe, value
	in      []byte
	text    string // valid vector
	err     string // error vector: a DecodeError.Code()
}

// vectorTypes lists the record types in the order the file presents them.
var vectorTypes = []string{"value", "change", "rowop", "result", "results", "trigger", "recipe"}

// errorCodes are all the codes DecodeError.Code returns.
var errorCodes = []string{"truncated", "varint", "enum", "too-long", "trailing", "invalid"}

// decodeVector decodes in as a record of type typ and returns its canonical
// text and its re-encoding. It is the one definition of what each vector
// type means, shared by TestVectors and the fuzz tests.
func decodeVector(typ string, in []byte) (text string, enc []byte, err error) {
	switch typ {
	case "value":
		v, err := DecodeValue(in)
		if err != nil {
			return "", nil, err
		}
		return string(AppendValueText(nil, v)), AppendValue(nil, v), nil
	case "change":
		var c Change
		if err := DecodeChange(in, &c); err != nil {
			return "", nil, err
		}
		return ChangeText(&c), AppendChange(nil, &c), nil
	case "rowop":
		var op RowOp
		r := NewReader(in)
		r.RowOp(&op)
		if err := r.End(); err != nil {
			return "", nil, err
		}
		return RowOpText(&op), AppendRowOp(nil, &op), nil
	case "result":
		var res Result
		r := NewReader(in)
		r.Result(&res)
		if err := r.End(); err != nil {
			return "", nil, err
		}
		return ResultText(&res), AppendResult(nil, &res), nil
	case "results":
		rs, err := DecodeResults(in, nil)
		if err != nil {
			return "", nil, err
		}
		return resultsText(rs), appendResults(nil, rs), nil
	case "trigger":
		var t Trigger
		r := NewReader(in)
		r.Trigger(&t)
		if err := r.End(); err != nil {
			return "", nil, err
		}
		return TriggerText(&t), AppendTrigger(nil, &t), nil
	case "recipe":
		var m Recipe
		if err := DecodeRecipe(in, &m); err != nil {
			return "", nil, err
		}
		return RecipeText(&m), AppendRecipe(nil, &m), nil
	}
	panic("unknown vector type " + typ)
}

func resultsText(rs []Result) string {
	texts := make([]string, len(rs))
	for i := range rs {
		texts[i] = ResultText(&rs[i])
	}
	return strings.Join(texts, " | ")
}

func appendResults(b []byte, rs []Result) []byte {
	for i := range rs {
		b = AppendResult(b, &rs[i])
	}
	return b
}

// ---- building vectors ----

// Byte builders for hand-made (mostly invalid) records.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
func u8(v ...byte) []byte        { return v }
func uv(v uint64) []byte         { return AppendUvarint(nil, v) }
func u64(v uint64) []byte        { return AppendU64(nil, v) }
func str(s string) []byte        { return AppendStr(nil, s) }
func val(v Value) []byte         { return AppendValue(nil, v) }
func rep(c byte, n int) string   { return strings.Repeat(string(c), n) }

func validValue(name, comment string, v Value) vector {
	return vector{name: name, typ: "value", comment: comment, in: val(v), text: string(AppendValueText(nil, v))}
}

func validChange(name, comment string, c Change) vector {
	return vector{name: name, typ: "change", comment: comment, in: AppendChange(nil, &c), text: ChangeText(&c)}
}

func validRowOp(name, comment string, op RowOp) vector {
	return vector{name: name, typ: "rowop", comment: comment, in: AppendRowOp(nil, &op), text: RowOpText(&op)}
}

func validResult(name, comment string, r Result) vector {
	return vector{name: name, typ: "result", comment: comment, in: AppendResult(nil, &r), text: ResultText(&r)}
}

func validResults(name, comment string, rs ...Result) vector {
	return vector{name: name, typ: "results", comment: comment, in: appendResults(nil, rs), text: resultsText(rs)}
}

func validTrigger(name, comment string, t Trigger) vector {
	return vector{name: name, typ: "trigger", comment: comment, in: AppendTrigger(nil, &t), text: TriggerText(&t)}
}

func validRecipe(name, comment string, m Recipe) vector {
	return vector{name: name, typ: "recipe", comment: comment, in: AppendRecipe(nil, &m), text: RecipeText(&m)}
}

func bad(typ, name, code, comment string, in []byte) vector {
	return vector{name: name, typ: typ, comment: comment, in: in, err: code}
}

// Records reused by several vectors.
var (
	vecChangeHash = Change{
		Op: ChangeSet, Data: DataHash, Trigger: 0, ID: StreamID{Ms: 1700000000000, Seq: 0},
		Key:    "person:1",
		Fields: []Field{{"first_name", "Ann"}, {"last_name", "Lee"}, {"age", "42"}},
	}
	vecRowUpsert = RowOp{
		Op: RowUpsert, Table: "persons",
		Keys: []Column{{"person_id", String("1")}},
		Cols: []Column{{"first", String("Ann")}, {"last", String("Lee")}, {"age", Int(42)}},
	}
	vecRowDelete = RowOp{Op: RowDelete, Table: "persons", Keys: []Column{{"person_id", String("7")}}}
	vecRowInsert = RowOp{
		Op: RowInsert, Table: "events",
		Keys: []Column{{"stream", String("person")}, {"seq", Int(3)}},
		Cols: []Column{{"payload", Bytes([]byte{0, 1, 2})}, {"ok", Bool(true)}, {"score", Float(0.5)}, {"note", Null()}},
	}
	vecTrigger = Trigger{Prefix: "person:", Mode: ModeWriteBehind, Data: DataHash, Connection: "mysql"}
	vecRecipe  = Recipe{Name: "persons", Version: "1.0.0", Triggers: []Trigger{vecTrigger}}
)

// allVectors returns every conformance vector, in file order.
func allVectors() []vector {
	var vs []vector
	add := func(v ...vector) { vs = append(vs, v...) }

	// ---- value ----
	add(
		validValue("value-null", "", Null()),
		validValue("value-string-empty", "", String("")),
		validValue("value-string-ascii", "", String("hello")),
		validValue("value-string-quote-backslash", "'\"' and '\\' are written as \\x22 and \\x5c in the text form", String(`say "hi" \ bye`)),
		validValue("value-string-utf8", "non-ASCII bytes are written as \\xHH in the text form", String("héllo ✓ 日本")),
		validValue("value-string-300-bytes", "a length that takes a two-byte uvarint", String(rep('s', 300))),
		validValue("value-bytes-empty", "", Bytes(nil)),
		validValue("value-bytes-binary", "", Bytes([]byte{0x00, 0xff, 0x80, 0x7f, '\n', '"', '\\', 0x1f, 0x20})),
		validValue("value-int-zero", "", Int(0)),
		validValue("value-int-one", "", Int(1)),
		validValue("value-int-minus-one", "", Int(-1)),
		validValue("value-int-min", "", Int(math.MinInt64)),
		validValue("value-int-max", "", Int(math.MaxInt64)),
		validValue("value-float-zero", "", Float(0)),
		validValue("value-float-negative-zero", "-0 keeps its sign bit", Float(math.Copysign(0, -1))),
		validValue("value-float-one-and-a-half", "", Float(1.5)),
		validValue("value-float-pi", "", Float(math.Pi)),
		validValue("value-float-inf", "", Float(math.Inf(1))),
		validValue("value-float-minus-inf", "", Float(math.Inf(-1))),
		validValue("value-float-nan", "a NaN travels as its exact bits", Float(math.Float64frombits(0x7ff8000000000001))),
		validValue("value-float-nan-payload", "a signalling NaN with a payload keeps every bit", Float(math.Float64frombits(0xfff000000000dead))),
		validValue("value-float-smallest-subnormal", "", Float(math.SmallestNonzeroFloat64)),
		validValue("value-bool-false", "", Bool(false)),
		validValue("value-bool-true", "", Bool(true)),
	)
	add(
		bad("value", "value-empty", "truncated", "no tag byte", nil),
		bad("value", "value-tag-6", "enum", "tags are 0..5", u8(6)),
		bad("value", "value-tag-255", "enum", "", u8(0xff)),
		bad("value", "value-bool-2", "invalid", "a bool byte is 0 or 1", u8(5, 2)),
		bad("value", "value-bool-255", "invalid", "", u8(5, 0xff)),
		bad("value", "value-bool-truncated", "truncated", "", u8(5)),
		bad("value", "value-int-truncated", "truncated", "an int takes exactly 8 bytes", u8(3, 1, 2, 3)),
		bad("value", "value-float-truncated", "truncated", "", u8(4, 0, 0, 0, 0, 0, 0, 0xf0)),
		bad("value", "value-string-truncated", "truncated", "the length says 5, 2 bytes follow", cat(u8(1), uv(5), []byte("ab"))),
		bad("value", "value-bytes-length-truncated", "truncated", "the length uvarint itself is cut", u8(2, 0x80)),
		bad("value", "value-string-length-11-byte-varint", "varint", "a uvarint is at most 10 bytes", cat(u8(1), bytes.Repeat([]byte{0x80}, 10), u8(0))),
		bad("value", "value-string-length-10th-byte-2", "varint", "the 10th byte of a uvarint is at most 1", cat(u8(1), bytes.Repeat([]byte{0xff}, 9), u8(2))),
		bad("value", "value-string-over-max-record-len", "too-long", "a string longer than MAX_RECORD_LEN is refused before its bytes are looked for", cat(u8(1), uv(MaxRecordLen+1))),
		bad("value", "value-null-trailing", "trailing", "", u8(0, 0)),
		bad("value", "value-int-trailing", "trailing", "", cat(val(Int(5)), u8(9))),
	)

	// ---- change ----
	add(
		validChange("change-hash-set", "HSET person:1 first_name Ann last_name Lee age 42", vecChangeHash),
		validChange("change-hash-set-big-ids", "trigger index 300 (two-byte uvarint), largest stream ID",
			Change{Op: ChangeSet, Data: DataHash, Trigger: 300, ID: StreamID{Ms: math.MaxUint64, Seq: math.MaxUint64},
				Key: "k", Fields: []Field{{"f", "v"}}}),
		validChange("change-hash-set-empty-values", "an empty field name and empty values are allowed",
			Change{Op: ChangeSet, Data: DataHash, Trigger: 1, ID: StreamID{Ms: 1, Seq: 2},
				Key: "h:", Fields: []Field{{"", ""}, {"a", ""}}}),
		validChange("change-hash-set-long-value", "a field value of 200 bytes (two-byte length)",
			Change{Op: ChangeSet, Data: DataHash, ID: StreamID{Ms: 1700000000123, Seq: 7},
				Key: "blob:1", Fields: []Field{{"data", rep('x', 200)}}}),
		validChange("change-hash-delete", "DEL person:7: no fields, empty doc",
			Change{Op: ChangeDelete, Data: DataHash, ID: StreamID{Ms: 1700000000001, Seq: 3}, Key: "person:7"}),
		validChange("change-hash-expired", "person:8 expired (trigger with expiry-deletes)",
			Change{Op: ChangeExpired, Data: DataHash, Trigger: 2, ID: StreamID{Ms: 1700000000002, Seq: 0}, Key: "person:8"}),
		validChange("change-json-set", "JSON.SET movie:1 $ {...}: the post-image is the document",
			Change{Op: ChangeSet, Data: DataJSON, ID: StreamID{Ms: 1700000000003, Seq: 1},
				Key: "movie:1", Doc: `{"title":"Alien","year":1979,"cast":["Weaver"]}`}),
		validChange("change-json-delete", "",
			Change{Op: ChangeDelete, Data: DataJSON, ID: StreamID{Ms: 1700000000004, Seq: 0}, Key: "movie:2"}),
		validChange("change-string-set", "SET greeting:en hello",
			Change{Op: ChangeSet, Data: DataString, ID: StreamID{Ms: 1700000000005, Seq: 0}, Key: "greeting:en", Doc: "hello\n"}),
		validChange("change-key-unicode-binary", "keys and fields are raw bytes: UTF-8, NUL, 0xff",
			Change{Op: ChangeSet, Data: DataHash, ID: StreamID{Ms: 1700000000006, Seq: 9},
				Key: "ключ:ü\x00\xff\x7f", Fields: []Field{{"имя", "Ünïcödé"}, {"bin", "\x00\x01\xfe\xff"}}}),
	)
	hashHead := cat(u8(1, 1), uv(0), u64(1700000000000), u64(0)) // op, data, trigger, id
	add(
		bad("change", "change-empty", "truncated", "", nil),
		bad("change", "change-truncated-after-op", "truncated", "", u8(1)),
		bad("change", "change-truncated-in-trigger", "truncated", "the trigger uvarint has its continuation bit set", u8(1, 1, 0x80)),
		bad("change", "change-truncated-in-id-ms", "truncated", "", cat(u8(1, 1), uv(0), u8(1, 2, 3))),
		bad("change", "change-truncated-in-id-seq", "truncated", "", cat(u8(1, 1), uv(0), u64(5), u8(0, 0, 0, 0, 0, 0, 0))),
		bad("change", "change-truncated-in-key", "truncated", "the key length says 8, 3 bytes follow", cat(hashHead, uv(8), []byte("per"))),
		bad("change", "change-nfields-over-remaining", "truncated", "a count larger than the bytes left", cat(hashHead, str("k"), uv(1000), str("a"))),
		bad("change", "change-truncated-in-field-value", "truncated", "", cat(hashHead, str("k"), uv(1), str("name"), uv(4), []byte("An"))),
		bad("change", "change-truncated-before-doc", "truncated", "everything but the doc", cat(hashHead, str("k"), uv(0))),
		bad("change", "change-op-0", "enum", "", cat(u8(0, 1), uv(0), u64(1), u64(0), str("k"), uv(0), str(""))),
		bad("change", "change-op-4", "enum", "", cat(u8(4, 1), uv(0), u64(1), u64(0), str("k"), uv(0), str(""))),
		bad("change", "change-data-0", "enum", "", cat(u8(1, 0), uv(0), u64(1), u64(0), str("k"), uv(0), str(""))),
		bad("change", "change-data-4", "enum", "", cat(u8(1, 4), uv(0), u64(1), u64(0), str("k"), uv(0), str(""))),
		bad("change", "change-trigger-11-byte-varint", "varint", "", cat(u8(1, 1), bytes.Repeat([]byte{0x80}, 10), u8(0), u64(1), u64(0), str("k"), uv(0), str(""))),
		bad("change", "change-trigger-over-u32", "too-long", "a trigger index above 4294967295", cat(u8(1, 1), uv(1<<32), u64(1), u64(0), str("k"), uv(0), str(""))),
		bad("change", "change-key-over-max-record-len", "too-long", "", cat(hashHead, uv(MaxRecordLen+1))),
		bad("change", "change-nfields-10th-byte-2", "varint", "", cat(hashHead, str("k"), bytes.Repeat([]byte{0xff}, 9), u8(2))),
		bad("change", "change-trailing-byte", "trailing", "one byte after a whole change", cat(AppendChange(nil, &vecChangeHash), u8(0))),
	)

	// ---- rowop ----
	add(
		validRowOp("rowop-upsert", "", vecRowUpsert),
		validRowOp("rowop-upsert-keys-only", "an upsert may have no other columns", RowOp{Op: RowUpsert, Table: "tags", Keys: []Column{{"tag", String("red")}}}),
		validRowOp("rowop-delete", "", vecRowDelete),
		validRowOp("rowop-insert", "two key columns and every value kind", vecRowInsert),
		validRowOp("rowop-unicode-names", "table and column names are raw bytes",
			RowOp{Op: RowUpsert, Table: "schéma.tâble", Keys: []Column{{"clé", Int(-9)}}, Cols: []Column{{"", String("empty column name")}}}),
	)
	add(
		bad("rowop", "rowop-empty", "truncated", "", nil),
		bad("rowop", "rowop-op-0", "enum", "", cat(u8(0), str("t"), uv(1), str("k"), val(Int(1)), uv(0))),
		bad("rowop", "rowop-op-4", "enum", "", cat(u8(4), str("t"), uv(1), str("k"), val(Int(1)), uv(0))),
		bad("rowop", "rowop-empty-table", "invalid", "the table name is not empty", cat(u8(1), str(""), uv(1), str("k"), val(Int(1)), uv(0))),
		bad("rowop", "rowop-zero-keys", "invalid", "at least one key column", cat(u8(1), str("t"), uv(0), uv(1), str("c"), val(Int(1)))),
		bad("rowop", "rowop-delete-with-cols", "invalid", "a delete has no columns besides its keys", cat(u8(2), str("t"), uv(1), str("k"), val(Int(1)), uv(1), str("c"), val(Null()))),
		bad("rowop", "rowop-key-bool-2", "invalid", "", cat(u8(1), str("t"), uv(1), str("k"), u8(5, 2), uv(0))),
		bad("rowop", "rowop-col-tag-9", "enum", "", cat(u8(1), str("t"), uv(1), str("k"), val(Int(1)), uv(1), str("c"), u8(9))),
		bad("rowop", "rowop-nkeys-over-remaining", "truncated", "", cat(u8(1), str("t"), uv(50), str("k"), val(Int(1)))),
		bad("rowop", "rowop-truncated-in-col-value", "truncated", "", cat(u8(1), str("t"), uv(1), str("k"), val(Int(1)), uv(1), str("c"), u8(3, 1, 2))),
		bad("rowop", "rowop-truncated-before-ncols", "truncated", "", cat(u8(1), str("t"), uv(1), str("k"), val(Int(1)))),
		bad("rowop", "rowop-trailing-byte", "trailing", "", cat(AppendRowOp(nil, &vecRowDelete), u8(1))),
	)

	// ---- result ----
	add(
		validResult("result-rows-one", "", Result{Change: 0, Outcome: OutcomeRows, Rows: []RowOp{vecRowUpsert}}),
		validResult("result-rows-several", "one change may produce several row operations, on several tables",
			Result{Change: 5, Outcome: OutcomeRows, Rows: []RowOp{vecRowUpsert, vecRowDelete, vecRowInsert}}),
		validResult("result-rows-none", "outcome rows with zero row operations", Result{Change: 1, Outcome: OutcomeRows}),
		validResult("result-skip", "", Result{Change: 2, Outcome: OutcomeSkip}),
		validResult("result-reject", "", Result{Change: 3, Outcome: OutcomeReject, Reason: "age is not a number"}),
		validResult("result-reject-empty-reason", "", Result{Change: 4, Outcome: OutcomeReject}),
		validResult("result-reject-reason-4096", "the longest reason allowed", Result{Change: 0, Outcome: OutcomeReject, Reason: rep('r', MaxReasonLen)}),
		validResult("result-change-128", "a change index that takes a two-byte uvarint", Result{Change: 128, Outcome: OutcomeSkip}),
		validResult("result-change-max-u32", "", Result{Change: math.MaxUint32, Outcome: OutcomeSkip}),
	)
	add(
		bad("result", "result-empty", "truncated", "", nil),
		bad("result", "result-outcome-0", "enum", "", cat(u8(0), uv(0))),
		bad("result", "result-outcome-4", "enum", "", cat(u8(4), uv(0))),
		bad("result", "result-truncated-in-change", "truncated", "", u8(2, 0x81)),
		bad("result", "result-change-over-u32", "too-long", "", cat(u8(2), uv(1<<32))),
		bad("result", "result-nrows-11-byte-varint", "varint", "", cat(u8(1), uv(0), bytes.Repeat([]byte{0x80}, 10), u8(0))),
		bad("result", "result-nrows-over-remaining", "truncated", "", cat(u8(1), uv(0), uv(3), u8(1))),
		bad("result", "result-truncated-in-row", "truncated", "", cat(u8(1), uv(0), uv(1), u8(1), str("persons"), uv(1))),
		bad("result", "result-row-delete-with-cols", "invalid", "", cat(u8(1), uv(0), uv(1), u8(2), str("t"), uv(1), str("k"), val(Int(1)), uv(1), str("c"), val(Int(2)))),
		bad("result", "result-row-empty-table", "invalid", "", cat(u8(1), uv(0), uv(1), u8(1), str(""), uv(1), str("k"), val(Int(1)), uv(0))),
		bad("result", "result-row-op-0", "enum", "", cat(u8(1), uv(0), uv(1), u8(0), str("t"), uv(1), str("k"), val(Int(1)), uv(0))),
		bad("result", "result-reason-4097", "too-long", "one byte over MAX_REASON_LEN", cat(u8(3), uv(0), str(rep('r', MaxReasonLen+1)))),
		bad("result", "result-reason-length-only-4097", "too-long", "the length alone is refused, before the bytes are looked for", cat(u8(3), uv(0), uv(MaxReasonLen+1))),
		bad("result", "result-reason-truncated", "truncated", "", cat(u8(3), uv(0), uv(10), []byte("short"))),
		bad("result", "result-skip-trailing-byte", "trailing", "a skip has nothing after the change index", cat(u8(2), uv(0), u8(0))),
	)

	// ---- results ----
	res0 := Result{Change: 0, Outcome: OutcomeRows, Rows: []RowOp{vecRowUpsert}}
	res1 := Result{Change: 1, Outcome: OutcomeSkip}
	res2 := Result{Change: 2, Outcome: OutcomeReject, Reason: "bad age"}
	add(
		validResults("results-one", "", res1),
		validResults("results-three", "one result per change of a batch of three", res0, res1, res2),
		validResults("results-any-order", "decoding does not care about order (the host checks indexes)", res2, res0, res1,
			Result{Change: 3, Outcome: OutcomeRows, Rows: []RowOp{vecRowDelete, vecRowInsert}}),
	)
	add(
		bad("results", "results-second-truncated", "truncated", "", cat(AppendResult(nil, &res0), u8(3), uv(1), uv(4), []byte("ab"))),
		bad("results", "results-second-outcome-9", "enum", "", cat(AppendResult(nil, &res1), u8(9), uv(0))),
		bad("results", "results-trailing-zero-byte", "enum", "a sequence has no trailing error: a stray byte is read as the next outcome", cat(AppendResult(nil, &res1), u8(0))),
		bad("results", "results-second-row-zero-keys", "invalid", "", cat(AppendResult(nil, &res1), u8(1), uv(2), uv(1), u8(1), str("t"), uv(0), uv(0))),
		bad("results", "results-reason-4097", "too-long", "", cat(AppendResult(nil, &res0), u8(3), uv(1), uv(MaxReasonLen+1))),
		bad("results", "results-change-10th-byte-2", "varint", "", cat(u8(2), bytes.Repeat([]byte{0xff}, 9), u8(2))),
	)

	// ---- trigger ----
	add(
		validTrigger("trigger-write-behind-hash", "", vecTrigger),
		validTrigger("trigger-write-through-hash", "", Trigger{Prefix: "account:", Mode: ModeWriteThrough, Data: DataHash, Connection: "pg"}),
		validTrigger("trigger-write-behind-json", "", Trigger{Prefix: "movie:", Mode: ModeWriteBehind, Data: DataJSON, Connection: "sqlite"}),
		validTrigger("trigger-write-through-string", "", Trigger{Prefix: "s:", Mode: ModeWriteThrough, Data: DataString, Connection: "redis2"}),
		validTrigger("trigger-expiry-deletes", "flags bit 0: expired keys become ChangeExpired records", Trigger{Prefix: "session:", Mode: ModeWriteBehind, Data: DataHash, Connection: "mysql", Flags: TriggerExpiryDeletes}),
		validTrigger("trigger-empty-connection", "decodes; the host refuses it at declare with BAD_ARGUMENT", Trigger{Prefix: "x", Mode: ModeWriteBehind, Data: DataHash}),
	)
	add(
		bad("trigger", "trigger-empty", "truncated", "", nil),
		bad("trigger", "trigger-empty-prefix", "invalid", "the prefix is not empty", cat(str(""), u8(1, 1), str("mysql"), u8(0))),
		bad("trigger", "trigger-mode-0", "enum", "", cat(str("p:"), u8(0, 1), str("mysql"), u8(0))),
		bad("trigger", "trigger-mode-3", "enum", "", cat(str("p:"), u8(3, 1), str("mysql"), u8(0))),
		bad("trigger", "trigger-data-0", "enum", "", cat(str("p:"), u8(1, 0), str("mysql"), u8(0))),
		bad("trigger", "trigger-data-4", "enum", "", cat(str("p:"), u8(1, 4), str("mysql"), u8(0))),
		bad("trigger", "trigger-flag-bit-7", "enum", "unknown flag bits are refused", cat(str("p:"), u8(1, 1), str("mysql"), u8(0x80))),
		bad("trigger", "trigger-flag-bit-1", "enum", "", cat(str("p:"), u8(1, 1), str("mysql"), u8(0x03))),
		bad("trigger", "trigger-truncated-before-flags", "truncated", "", cat(str("p:"), u8(1, 1), str("mysql"))),
		bad("trigger", "trigger-truncated-in-connection", "truncated", "", cat(str("p:"), u8(1, 1), uv(5), []byte("my"))),
		bad("trigger", "trigger-trailing-byte", "trailing", "", cat(AppendTrigger(nil, &vecTrigger), u8(0))),
	)

	// ---- recipe ----
	add(
		validRecipe("recipe-persons", "one trigger, no params", vecRecipe),
		validRecipe("recipe-with-params", "two triggers and both batching params",
			Recipe{Name: "movies", Version: "2.1.0-rc.1+build.5",
				Triggers: []Trigger{
					{Prefix: "movie:", Mode: ModeWriteBehind, Data: DataJSON, Connection: "pg"},
					{Prefix: "actor:", Mode: ModeWriteThrough, Data: DataHash, Connection: "pg", Flags: TriggerExpiryDeletes},
				},
				Params: []Param{{ParamBatchSize, Int(500)}, {ParamBatchAgeMs, Int(2000)}}}),
		validRecipe("recipe-name-64", "the longest name and version allowed",
			Recipe{Name: "a" + rep('b', MaxNameLen-1), Version: "1.0.0-" + rep('x', MaxNameLen-6), Triggers: []Trigger{vecTrigger}}),
		validRecipe("recipe-decodes-but-invalid", "decodes; the host refuses it at declare with BAD_ARGUMENT (bad name, no trigger, unknown param)",
			Recipe{Name: "Bad Name", Version: "one", Params: []Param{{"color", String("red")}, {"batch_size", Float(1)}}}),
	)
	add(
		bad("recipe", "recipe-empty", "truncated", "", nil),
		bad("recipe", "recipe-name-65", "too-long", "names are at most MAX_NAME_LEN bytes", cat(str(rep('a', MaxNameLen+1)), str("1.0.0"), uv(0), uv(0))),
		bad("recipe", "recipe-version-65", "too-long", "", cat(str("r"), str(rep('1', MaxNameLen+1)), uv(0), uv(0))),
		bad("recipe", "recipe-param-name-65", "too-long", "", cat(str("r"), str("1.0.0"), uv(0), uv(1), str(rep('p', MaxNameLen+1)), val(Int(1)))),
		bad("recipe", "recipe-truncated-in-version", "truncated", "", cat(str("persons"), uv(5), []byte("1.0"))),
		bad("recipe", "recipe-ntriggers-over-remaining", "truncated", "", cat(str("r"), str("1.0.0"), uv(200), u8(0))),
		bad("recipe", "recipe-truncated-in-trigger", "truncated", "", cat(str("r"), str("1.0.0"), uv(1), str("p:"), u8(1))),
		bad("recipe", "recipe-truncated-before-nparams", "truncated", "", cat(str("r"), str("1.0.0"), uv(1), AppendTrigger(nil, &vecTrigger))),
		bad("recipe", "recipe-trigger-empty-prefix", "invalid", "", cat(str("r"), str("1.0.0"), uv(1), str(""), u8(1, 1), str("c"), u8(0), uv(0))),
		bad("recipe", "recipe-trigger-flag-bit-7", "enum", "", cat(str("r"), str("1.0.0"), uv(1), str("p:"), u8(1, 1), str("c"), u8(0x80), uv(0))),
		bad("recipe", "recipe-param-bool-2", "invalid", "", cat(str("r"), str("1.0.0"), uv(0), uv(1), str("x"), u8(5, 2))),
		bad("recipe", "recipe-param-tag-7", "enum", "", cat(str("r"), str("1.0.0"), uv(0), uv(1), str("x"), u8(7))),
		bad("recipe", "recipe-ntriggers-11-byte-varint", "varint", "", cat(str("r"), str("1.0.0"), bytes.Repeat([]byte{0x80}, 10), u8(0))),
		bad("recipe", "recipe-trailing-byte", "trailing", "", cat(AppendRecipe(nil, &vecRecipe), u8(0))),
	)
	return vs
}

// ---- the file format ----

const vectorsHeader = `# cogs ABI 1.0 conformance vectors. Generated by TestVectorsGenerate in
# abi/vectors_test.go (go test ./abi -run TestVectorsGenerate -update);
# do not edit by hand. The format is described in abi/SPEC.md, section
# "Conformance vectors".
#
# Blocks are separated by blank lines. A line starting with '#' is a
# comment. Every other line is "<key>: <value>": the key is what comes
# before the first ':', the value the rest of the line without the one
# space that follows the ':'. An empty input is written "hex:". Each block
# has:
#
#   name:  a unique identifier
#   type:  value | change | rowop | result | results | trigger | recipe
#   hex:   the input bytes, lowercase hex, no spaces
#   text:  (valid vector) the canonical text of the decoded record; for
#          "results", the text of each result joined with " | "
#   error: (error vector) the decode error code: truncated, varint, enum,
#          too-long, trailing or invalid
#
# A valid vector must decode to exactly the text, and encoding the decoded
# record must give back exactly the hex bytes. An error vector must fail to
# decode with exactly that code.
#
# Decoders per type: value = one typed value; change, rowop, result,
# trigger, recipe = exactly one record with nothing after it; results = a
# sequence of zero or more result records up to the end of the bytes.
`

func formatVectors(vs []vector) []byte {
	var b bytes.Buffer
	b.WriteString(vectorsHeader)
	typ := ""
	for _, v := range vs {
		b.WriteString("\n")
		if v.typ != typ {
			typ = v.typ
			b.WriteString("# ---- " + typ + " ----\n\n")
		}
		if v.comment != "" {
			b.WriteString("# " + v.comment + "\n")
		}
		b.WriteString("name: " + v.name + "\n")
		b.WriteString("type: " + v.typ + "\n")
		if len(v.in) == 0 {
			b.WriteString("hex:\n") // no trailing space for editors to strip
		} else {
			b.WriteString("hex: " + hex.EncodeToString(v.in) + "\n")
		}
		if v.err != "" {
			b.WriteString("error: " + v.err + "\n")
		} else {
			b.WriteString("text: " + v.text + "\n")
		}
	}
	return b.Bytes()
}

// parseVectors reads the vector file format. It is deliberately strict so
// that it documents the format: unknown keys, duplicate keys and
// incomplete blocks are errors.
func parseVectors(data []byte) ([]vector, error) {
	var vs []vector
	var cur *vector
	seen := map[string]bool{}
	line := 0
	finish := func() error {
		if cur == nil {
			return nil
		}
		v := *cur
		cur = nil
		switch {
		case v.name == "":
			return fmt.Errorf("line %d: block without name", line)
		case v.typ == "":
			return fmt.Errorf("vector %s: no type", v.name)
		case !seen["hex:"+v.name]:
			return fmt.Errorf("vector %s: no hex", v.name)
		case seen["text:"+v.name] == seen["error:"+v.name]:
			return fmt.Errorf("vector %s: needs exactly one of text and error", v.name)
		}
		vs = append(vs, v)
		return nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	names := map[string]bool{}
	for sc.Scan() {
		line++
		l := sc.Text()
		if strings.HasPrefix(l, "#") {
			continue
		}
		if l == "" {
			if err := finish(); err != nil {
				return nil, err
			}
			continue
		}
		key, value, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("line %d: no key", line)
		}
		value = strings.TrimPrefix(value, " ")
		if cur == nil {
			cur = &vector{}
		}
		if seen[key+":"+cur.name] && key != "name" {
			return nil, fmt.Errorf("line %d: duplicate %s", line, key)
		}
		switch key {
		case "name":
			if cur.name != "" {
				return nil, fmt.Errorf("line %d: duplicate name", line)
			}
			if names[value] {
				return nil, fmt.Errorf("line %d: vector name %s used twice", line, value)
			}
			names[value] = true
			cur.name = value
			continue
		case "type":
			cur.typ = value
		case "hex":
			b, err := hex.DecodeString(value)
			if err != nil || hex.EncodeToString(b) != value {
				return nil, fmt.Errorf("line %d: hex is not lowercase hex", line)
			}
			cur.in = b
		case "text":
			cur.text = value
		case "error":
			cur.err = value
		default:
			return nil, fmt.Errorf("line %d: unknown key %q", line, key)
		}
		if cur.name == "" {
			return nil, fmt.Errorf("line %d: %s before name", line, key)
		}
		seen[key+":"+cur.name] = true
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return vs, nil
}

func readVectors(t testing.TB) []vector {
	t.Helper()
	data, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := parseVectors(data)
	if err != nil {
		t.Fatalf("%s: %v", vectorsPath, err)
	}
	return vs
}

// checkVector reports what is wrong with one vector, or "".
func checkVector(v vector) string {
	text, enc, err := decodeVector(v.typ, v.in)
	if v.err != "" {
		if err == nil {
			return "decoded without error to " + text + "; want error " + v.err
		}
		var de *DecodeError
		if !errors.As(err, &de) {
			return fmt.Sprintf("error %v is not a *DecodeError", err)
		}
		if de.Code() != v.err {
			return fmt.Sprintf("error code %s (%v), want %s", de.Code(), err, v.err)
		}
		return ""
	}
	if err != nil {
		return fmt.Sprintf("decode: %v", err)
	}
	if text != v.text {
		return fmt.Sprintf("text\n got %s\nwant %s", text, v.text)
	}
	if !bytes.Equal(enc, v.in) {
		return fmt.Sprintf("re-encoded\n got %x\nwant %x", enc, v.in)
	}
	return ""
}

// TestVectorsGenerate builds the vectors from Go values, checks each one
// and, with -update, writes testdata/vectors.txt. Without -update it fails
// when the file is not what the generator would write.
func TestVectorsGenerate(t *testing.T) {
	vs := allVectors()
	names := map[string]bool{}
	validTypes := map[string]bool{}
	codes := map[string]int{}
	for _, v := range vs {
		if names[v.name] {
			t.Errorf("vector name %s used twice", v.name)
		}
		names[v.name] = true
		if msg := checkVector(v); msg != "" {
			t.Errorf("%s: %s", v.name, msg)
		}
		if v.err == "" {
			validTypes[v.typ] = true
		} else {
			codes[v.err]++
		}
	}
	for _, typ := range vectorTypes {
		if !validTypes[typ] {
			t.Errorf("no valid vector of type %s", typ)
		}
	}
	for _, code := range errorCodes {
		if codes[code] < 3 {
			t.Errorf("only %d vectors for error code %s", codes[code], code)
		}
	}
	if t.Failed() {
		return
	}
	data := formatVectors(vs)
	if *update {
		if err := os.WriteFile(vectorsPath, data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %d vectors to %s", len(vs), vectorsPath)
		return
	}
	old, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("%v (run go test ./abi -run TestVectorsGenerate -update)", err)
	}
	if !bytes.Equal(old, data) {
		t.Fatalf("%s is stale; run go test ./abi -run TestVectorsGenerate -update", vectorsPath)
	}
}

// TestVectors checks every block of testdata/vectors.txt against this
// package's decoders and encoders, as another SDK would.
func TestVectors(t *testing.T) {
	vs := readVectors(t)
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range vs {
		known := false
		for _, typ := range vectorTypes {
			known = known || typ == v.typ
		}
		if !known {
			t.Errorf("%s: unknown type %q", v.name, v.typ)
			continue
		}
		if v.err != "" {
			ok := false
			for _, c := range errorCodes {
				ok = ok || c == v.err
			}
			if !ok {
				t.Errorf("%s: unknown error code %q", v.name, v.err)
				continue
			}
		}
		if msg := checkVector(v); msg != "" {
			t.Errorf("%s: %s", v.name, msg)
		}
	}
}

// TestVectorsTruncated checks that every strict prefix of a valid
// single-record vector fails as truncated, and that for a results sequence
// it either decodes (a cut between records) or fails as truncated.
func TestVectorsTruncated(t *testing.T) {
	for _, v := range readVectors(t) {
		if v.err != "" {
			continue
		}
		for n := 0; n < len(v.in); n++ {
			_, _, err := decodeVector(v.typ, v.in[:n])
			if v.typ == "results" && err == nil {
				continue
			}
			var de *DecodeError
			if !errors.As(err, &de) || de.Code() != "truncated" {
				t.Errorf("%s cut to %d bytes: %v, want truncated", v.name, n, err)
				break
			}
			if de.Offset < 0 || de.Offset > n {
				t.Errorf("%s cut to %d bytes: offset %d", v.name, n, de.Offset)
			}
		}
	}
}
