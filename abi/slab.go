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
)

// grow returns the capacity of a slab's next array: doubling from a small
// start, so a batch of one result does not pay for a thousand.
func grow(prev, need int) int {
	c := min(max(2*prev, slabFirst), slabMax)
	return max(c, need)
}

// ResultSlab decodes one result record into res like Result, taking its
// rows and columns from s.
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
		if cap(s.rows)-len(s.rows) < n {
			s.rows = make([]RowOp, 0, grow(cap(s.rows), n))
		}
		start := len(s.rows)
		s.rows = s.rows[:start+n]
		res.Rows = s.rows[start : start+n : start+n]
		for i := range res.Rows {
			if r.rowOpSlab(&res.Rows[i], s) != nil {
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
	op.Keys = r.columnsSlab("nkeys", s)
	if r.err == nil && len(op.Keys) == 0 {
		r.fail("nkeys", ErrInvalid)
	}
	op.Cols = r.columnsSlab("ncols", s)
	if r.err == nil && op.Op == RowDelete && len(op.Cols) != 0 {
		r.fail("ncols", ErrInvalid)
	}
	return r.Err()
}

func (r *Reader) columnsSlab(field string, s *Slab) []Column {
	n := r.count(field)
	if r.err != nil || n == 0 {
		return nil
	}
	if cap(s.cols)-len(s.cols) < n {
		s.cols = make([]Column, 0, grow(cap(s.cols), n))
	}
	start := len(s.cols)
	s.cols = s.cols[:start+n]
	cols := s.cols[start : start+n : start+n]
	for i := range cols {
		cols[i].Name = r.str("column_name", MaxRecordLen)
		cols[i].Value = r.value("column_value")
		if r.err != nil {
			break
		}
	}
	return cols
}
