package abi

// Bits returns the payload of an int, float or bool value as it is stored:
// the int64 or float64 bits, or 0 or 1 for a bool; 0 for the other kinds.
// It lets an encoder write the 8 bytes of an int or float (or the byte of
// a bool) without branching on the kind.
func (v Value) Bits() uint64 { return v.n }
