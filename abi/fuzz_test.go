package abi

import (
	"bytes"
	"os"
	"testing"
)

// seedVectors adds the bytes of every vector in testdata/vectors.txt to f,
// those of type typ first. Vectors of other types are seeds too: they are
// realistic bytes that a decoder may be handed by mistake.
func seedVectors(f *testing.F, typ string) {
	data, err := os.ReadFile(vectorsPath)
	if err != nil {
		f.Fatal(err)
	}
	vs, err := parseVectors(data)
	if err != nil {
		f.Fatal(err)
	}
	for _, v := range vs {
		if v.typ == typ {
			f.Add(v.in)
		}
	}
	for _, v := range vs {
		if v.typ != typ {
			f.Add(v.in)
		}
	}
}

// hasOverlongVarintPattern reports whether b could hold a non-minimal
// uvarint: a minimal uvarint of two or more bytes never ends in 0x00, so a
// non-minimal one always contains a byte >= 0x80 followed by 0x00. Inputs
// without that pattern must re-encode to exactly themselves.
func hasOverlongVarintPattern(b []byte) bool {
	for i := 0; i+1 < len(b); i++ {
		if b[i] >= 0x80 && b[i+1] == 0 {
			return true
		}
	}
	return false
}

// checkDecoder is the property every decoder must have, whatever the input:
//   - it does not panic;
//   - an error is a *DecodeError with a known sentinel, a record and a
//     field name, and an offset within the input;
//   - a success re-encodes to bytes that decode again to the same text and
//     re-encode to themselves; those bytes are the input itself unless the
//     input may hold non-minimal varints, and never longer than it.
func checkDecoder(t *testing.T, typ string, in []byte) {
	orig := bytes.Clone(in)
	text, enc, err := decodeVector(typ, in)
	if !bytes.Equal(in, orig) {
		t.Fatalf("decoder modified its input")
	}
	if err != nil {
		de, ok := err.(*DecodeError)
		if !ok {
			t.Fatalf("error %T %v is not a *DecodeError", err, err)
		}
		switch de.Err {
		case ErrTruncated, ErrVarint, ErrEnum, ErrTooLong, ErrTrailing, ErrInvalid:
		default:
			t.Fatalf("error %v has unknown cause %v", de, de.Err)
		}
		if de.Record == "" || de.Field == "" {
			t.Fatalf("error %v does not name its record and field", de)
		}
		if de.Offset < 0 || de.Offset > len(in) {
			t.Fatalf("error %v: offset %d outside [0, %d]", de, de.Offset, len(in))
		}
		return
	}
	text2, enc2, err := decodeVector(typ, enc)
	if err != nil {
		t.Fatalf("re-encoding %x of %x does not decode: %v", enc, in, err)
	}
	if text2 != text {
		t.Fatalf("re-encoding changed the text\n got %s\nwant %s", text2, text)
	}
	if !bytes.Equal(enc2, enc) {
		t.Fatalf("encoding is not stable: %x then %x", enc, enc2)
	}
	if len(enc) > len(in) {
		t.Fatalf("re-encoding %x is longer than the input %x", enc, in)
	}
	if !hasOverlongVarintPattern(in) && !bytes.Equal(enc, in) {
		t.Fatalf("input %x re-encodes to different bytes %x", in, enc)
	}
}

func FuzzDecodeValue(f *testing.F) {
	seedVectors(f, "value")
	f.Fuzz(func(t *testing.T, in []byte) { checkDecoder(t, "value", in) })
}

func FuzzDecodeChange(f *testing.F) {
	seedVectors(f, "change")
	f.Fuzz(func(t *testing.T, in []byte) {
		checkDecoder(t, "change", in)
		// Decoding into a used Change gives the same record as into a new one.
		used := vecChangeHash
		used.Fields = append([]Field(nil), used.Fields...)
		used.Doc = "stale"
		errUsed := DecodeChange(in, &used)
		var fresh Change
		errFresh := DecodeChange(in, &fresh)
		if (errUsed == nil) != (errFresh == nil) {
			t.Fatalf("reuse changed the outcome: %v vs %v", errUsed, errFresh)
		}
		if errFresh == nil && ChangeText(&used) != ChangeText(&fresh) {
			t.Fatalf("reuse changed the record\n got %s\nwant %s", ChangeText(&used), ChangeText(&fresh))
		}
	})
}

func FuzzDecodeResults(f *testing.F) {
	seedVectors(f, "results")
	f.Fuzz(func(t *testing.T, in []byte) {
		checkDecoder(t, "results", in)
		// Appending to a non-empty dst keeps what was there.
		prev := []Result{{Change: 9, Outcome: OutcomeSkip}}
		rs, err := DecodeResults(in, prev)
		if len(rs) == 0 || rs[0].Change != 9 || rs[0].Outcome != OutcomeSkip {
			t.Fatalf("DecodeResults lost dst[0]: %v", rs)
		}
		if err == nil {
			fresh, _ := DecodeResults(in, nil)
			if resultsText(rs[1:]) != resultsText(fresh) {
				t.Fatalf("appending changed the results")
			}
		}
	})
}

func FuzzRowOp(f *testing.F) {
	seedVectors(f, "rowop")
	f.Fuzz(func(t *testing.T, in []byte) {
		checkDecoder(t, "rowop", in)
		used := vecRowInsert
		used.Keys = append([]Column(nil), used.Keys...)
		used.Cols = append([]Column(nil), used.Cols...)
		r := NewReader(in)
		r.RowOp(&used)
		errUsed := r.End()
		_, _, errFresh := decodeVector("rowop", in)
		if (errUsed == nil) != (errFresh == nil) {
			t.Fatalf("reuse changed the outcome: %v vs %v", errUsed, errFresh)
		}
		if errFresh == nil {
			var fresh RowOp
			NewReader(in).RowOp(&fresh)
			if RowOpText(&used) != RowOpText(&fresh) {
				t.Fatalf("reuse changed the record\n got %s\nwant %s", RowOpText(&used), RowOpText(&fresh))
			}
		}
	})
}

func FuzzTrigger(f *testing.F) {
	seedVectors(f, "trigger")
	f.Fuzz(func(t *testing.T, in []byte) { checkDecoder(t, "trigger", in) })
}

func FuzzDecodeRecipe(f *testing.F) {
	seedVectors(f, "recipe")
	f.Fuzz(func(t *testing.T, in []byte) { checkDecoder(t, "recipe", in) })
}

// FuzzResult checks the single-record Reader.Result (with End), which the
// other decoders do not reach on its own.
func FuzzResult(f *testing.F) {
	seedVectors(f, "result")
	f.Fuzz(func(t *testing.T, in []byte) { checkDecoder(t, "result", in) })
}

// FuzzParseStreamID checks that a parsed ID formats back to a string that
// parses to the same ID.
func FuzzParseStreamID(f *testing.F) {
	for _, s := range []string{"0", "1-2", "1700000000000-5", "18446744073709551615-18446744073709551615", "18446744073709551616", "-", "1-", "01-002", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := ParseStreamID(s)
		if !ok {
			return
		}
		id2, ok := ParseStreamID(id.String())
		if !ok || id2 != id {
			t.Fatalf("%q parsed to %v, which parses back to %v, %v", s, id, id2, ok)
		}
	})
}

// FuzzParseSemver checks that ParseSemver never panics and that Compare is
// a consistent order on what it accepts.
func FuzzParseSemver(f *testing.F) {
	for _, s := range []string{"1.2.3", "1.0.0-alpha.1", "1.0.0-rc.1+build.5", "0.0.0-0", "1.2", "01.0.0", "1.0.0-", "1.0.0-a..b"} {
		f.Add(s, "1.0.0-beta.11")
	}
	f.Fuzz(func(t *testing.T, s1, s2 string) {
		a, ok1 := ParseSemver(s1)
		b, ok2 := ParseSemver(s2)
		if !ok1 || !ok2 {
			return
		}
		if a.Compare(a) != 0 || b.Compare(b) != 0 {
			t.Fatalf("a version is not equal to itself: %q %q", s1, s2)
		}
		if a.Compare(b) != -b.Compare(a) {
			t.Fatalf("Compare is not antisymmetric for %q and %q", s1, s2)
		}
	})
}
