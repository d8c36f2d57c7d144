package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Size is a number of bytes. In the file it is written as a number of
// bytes or a number with a unit: 64MiB, 512KB, 1 GiB.
type Size uint64

// Units of Size.
const (
	B   Size = 1
	KiB Size = 1 << 10
	MiB Size = 1 << 20
	GiB Size = 1 << 30
	TiB Size = 1 << 40
)

var units = []struct {
	name string
	n    Size
}{
	{"TiB", TiB}, {"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"kB", 1e3}, {"B", B},
}

// ParseSize parses a size: digits, then optionally spaces and a unit (B,
// KB, MB, GB, TB: powers of 1000; KiB, MiB, GiB, TiB: powers of 1024).
// Units are case-sensitive, so that "mb" (millibits?) is refused rather
// than guessed.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	digits := len(t) - len(strings.TrimLeft(t, "0123456789"))
	if digits == 0 {
		return 0, fmt.Errorf("%q is not a size (bytes, or a number with B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", s)
	}
	n, err := strconv.ParseUint(t[:digits], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is too large", s)
	}
	unit := strings.TrimSpace(t[digits:])
	if unit == "" {
		return Size(n), nil
	}
	for _, u := range units {
		if unit == u.name {
			if n > math.MaxUint64/uint64(u.n) {
				return 0, fmt.Errorf("%q is too large", s)
			}
			return Size(n) * u.n, nil
		}
	}
	return 0, fmt.Errorf("%q is not a size (bytes, or a number with B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", s)
}

// String writes s with the largest binary unit that divides it: "64MiB",
// "1000B".
func (s Size) String() string {
	for _, u := range units[:4] {
		if s >= u.n && s%u.n == 0 {
			return strconv.FormatUint(uint64(s/u.n), 10) + u.name
		}
	}
	return strconv.FormatUint(uint64(s), 10) + "B"
}
