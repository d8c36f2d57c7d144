package abi

// Slab hands out the RowOp and Column slices of decoded results from a few
// large arrays instead of one small allocation each, for a decoder of many
// results (the host decodes a whole batch's results at once). The slices
// it hands out stay valid after the slab moves on to a new array; a Slab
// is reset by dropping it.
type Slab struct {
	rows []RowOp
	cols []Column
}

const (
	slabFirst = 8
	slabMax   = 1024

	minRowLen    = 7 // op, table length and one byte, nkeys, a key's name length and tag, ncols
	minColumnLen = 2 // name length, tag
)

// grow returns the capacity of a slab's next array: doubling from a small
// start, so a batch of one result does not pay for a thousand.
func grow(prev, need int) int {
	c := min(max(2*prev, slabFirst), slabMax)
	return max(c, need)
}

// ResultSlab decodes one result record into res, taking its rows and
// columns from s. Result and RowOp are this decoder with a fresh Slab.
func (r *Reader) ResultSlab(res *Result, s *Slab) error {
	r.record = "result"
	res.Outcome = Outcome(r.enum("outcome", byte(OutcomeReject)))
	c := r.uvarint("change")
	if r.err == nil && c > 1<<32-1 {
		r.fail("change", ErrTooLong)
	}
	res.Change = uint32(c)
	res.Rows = nil
	res.Reason = ""
	switch res.Outcome {
	case OutcomeRows:
		n := r.count("nrows")
		if r.err != nil || n == 0 {
			break
		}
		// A well-formed row takes at least minRowLen bytes, so a count over
		// what the bytes left can hold means the record will fail: reserve
		// no more slots than can be filled (a slot is far larger than a
		// byte), and decode any excess into a scratch row, so the error is
		// the same as Result's.
		reserve := min(n, r.Len()/minRowLen+1)
		if cap(s.rows)-len(s.rows) < reserve {
			s.rows = make([]RowOp, 0, grow(cap(s.rows), reserve))
		}
		start := len(s.rows)
		s.rows = s.rows[:start+reserve]
		res.Rows = s.rows[start : start+reserve : start+reserve]
		var scratch RowOp
		for i := 0; i < n; i++ {
			op := &scratch
			if i < reserve {
				op = &res.Rows[i]
			}
			if r.rowOpSlab(op, s) != nil {
				break
			}
		}
		r.record = "result"
	case OutcomeReject:
		res.Reason = r.str("reason", MaxReasonLen)
	}
	return r.Err()
}

func (r *Reader) rowOpSlab(op *RowOp, s *Slab) error {
	r.record = "row"
	op.Op = RowOpKind(r.enum("op", byte(RowInsert)))
	op.Table = r.str("table", MaxRecordLen)
	if r.err == nil && op.Table == "" {
		r.fail("table", ErrInvalid)
	}
	op.Keys = r.columnsSlab("nkeys", s, false)
	if r.err == nil && len(op.Keys) == 0 {
		r.fail("nkeys", ErrInvalid)
	}
	op.Cols = r.columnsSlab("ncols", s, op.Op == RowDelete)
	return r.Err()
}

func (r *Reader) columnsSlab(field string, s *Slab, none bool) []Column {
	n := r.count(field)
	if r.err != nil || n == 0 {
		return nil
	}
	if none {
		r.fail(field, ErrInvalid) // a delete carries no columns
		return nil
	}
	// As for rows: a column takes at least minColumnLen bytes.
	reserve := min(n, r.Len()/minColumnLen+1)
	if cap(s.cols)-len(s.cols) < reserve {
		s.cols = make([]Column, 0, grow(cap(s.cols), reserve))
	}
	start := len(s.cols)
	s.cols = s.cols[:start+reserve]
	cols := s.cols[start : start+reserve : start+reserve]
	var scratch Column
	for i := 0; i < n; i++ {
		c := &scratch
		if i < reserve {
			c = &cols[i]
		}
		c.Name = r.str("column_name", MaxRecordLen)
		c.Value = r.value("column_value")
		if r.err != nil {
			break
		}
	}
	return cols
}
