package abi

import "testing"

// TestResultSlab decodes the same result sequences with Result and
// ResultSlab and compares the canonical text.
func TestResultSlab(t *testing.T) {
	var b []byte
	var want []string
	for i := 0; i < 3000; i++ {
		res := Result{Change: uint32(i), Outcome: Outcome(1 + i%3), Reason: "no"}
		if res.Outcome == OutcomeRows {
			for k := 0; k < i%4; k++ {
				res.Rows = append(res.Rows, RowOp{Op: RowUpsert, Table: "t",
					Keys: []Column{{Name: "id", Value: Int(int64(i))}},
					Cols: []Column{{Name: "a", Value: String("x")}, {Name: "b", Value: Null()}}})
			}
		}
		b = AppendResult(b, &res)
		want = append(want, ResultText(&res))
	}
	r := NewReader(b)
	var s Slab
	var got []Result
	for r.Len() > 0 {
		got = append(got, Result{})
		if err := r.ResultSlab(&got[len(got)-1], &s); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d", len(got), len(want))
	}
	for i := range got {
		if txt := ResultText(&got[i]); txt != want[i] {
			t.Fatalf("result %d: %s, want %s", i, txt, want[i])
		}
	}
	// Errors match the plain decoder's.
	for cut := 0; cut < 40; cut++ {
		r1, r2 := NewReader(b[:cut]), NewReader(b[:cut])
		var a, c Result
		e1, e2 := r1.Result(&a), r2.ResultSlab(&c, &s)
		if (e1 == nil) != (e2 == nil) || (e1 != nil && e1.Error() != e2.Error()) {
			t.Fatalf("cut %d: %v vs %v", cut, e1, e2)
		}
	}
}

func FuzzResultSlab(f *testing.F) {
	f.Add(AppendResult(nil, &Result{Outcome: OutcomeRows, Rows: []RowOp{{Op: RowDelete, Table: "t", Keys: []Column{{Name: "k", Value: Int(1)}}}}}))
	f.Add([]byte{3, 0, 2, 'n', 'o'})
	f.Fuzz(func(t *testing.T, b []byte) {
		var a, c Result
		var s Slab
		r1, r2 := NewReader(b), NewReader(b)
		e1, e2 := r1.Result(&a), r2.ResultSlab(&c, &s)
		if (e1 == nil) != (e2 == nil) {
			t.Fatalf("%v vs %v", e1, e2)
		}
		if e1 == nil && ResultText(&a) != ResultText(&c) {
			t.Fatalf("%s vs %s", ResultText(&a), ResultText(&c))
		}
	})
}
