package abi

import "errors"

// ValidateRecipe checks the rules a host applies to a declared recipe (see
// SPEC.md, declare). The error says which rule failed.
func ValidateRecipe(m *Recipe) error {
	if !validName(m.Name) {
		return errors.New("recipe name " + quote(m.Name) + " is invalid: want [a-z][a-z0-9_-]*, at most 64 bytes")
	}
	if _, ok := ParseSemver(m.Version); !ok {
		return errors.New("recipe " + quote(m.Name) + ": version " + quote(m.Version) + " is not a semantic version (MAJOR.MINOR.PATCH)")
	}
	if len(m.Triggers) == 0 {
		return errors.New("recipe " + quote(m.Name) + " declares no triggers")
	}
	for i := range m.Triggers {
		t := &m.Triggers[i]
		where := "recipe " + quote(m.Name) + ": trigger " + quote(t.Prefix)
		if t.Prefix == "" {
			return errors.New("recipe " + quote(m.Name) + ": trigger " + utoa(uint64(i)) + " has an empty prefix")
		}
		if t.Connection == "" {
			return errors.New(where + " names no connection")
		}
		if t.Mode != ModeWriteBehind && t.Mode != ModeWriteThrough {
			return errors.New(where + " has an unknown mode")
		}
		if t.Data < DataHash || t.Data > DataString {
			return errors.New(where + " has an unknown data kind")
		}
		for j := range m.Triggers {
			u := &m.Triggers[j]
			if i != j && len(u.Prefix) <= len(t.Prefix) && t.Prefix[:len(u.Prefix)] == u.Prefix {
				return errors.New(where + " overlaps trigger " + quote(u.Prefix))
			}
		}
	}
	seen := map[string]bool{}
	for _, p := range m.Params {
		if seen[p.Name] {
			return errors.New("recipe " + quote(m.Name) + ": parameter " + quote(p.Name) + " given twice")
		}
		seen[p.Name] = true
		var max int64
		switch p.Name {
		case ParamBatchSize:
			max = 1000000
		case ParamBatchAgeMs:
			max = 3600000
		default:
			return errors.New("recipe " + quote(m.Name) + ": unknown parameter " + quote(p.Name))
		}
		if p.Value.Kind() != KindInt || p.Value.Int() < 1 || p.Value.Int() > max {
			return errors.New("recipe " + quote(m.Name) + ": parameter " + p.Name + " must be an int from 1 to " + itoa(max))
		}
	}
	return nil
}

func quote(s string) string { return string(AppendQuoted(nil, s)) }

func validName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLen || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Semver is a parsed semantic version.
type Semver struct {
	Major, Minor, Patch uint64
	Pre                 string // pre-release, without the '-'
}

// ParseSemver parses MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] (semver.org 2.0).
func ParseSemver(s string) (Semver, bool) {
	var v Semver
	if i := indexByte(s, '+'); i >= 0 {
		if !validIdents(s[i+1:], false) {
			return v, false
		}
		s = s[:i]
	}
	if i := indexByte(s, '-'); i >= 0 {
		if !validIdents(s[i+1:], true) {
			return v, false
		}
		v.Pre = s[i+1:]
		s = s[:i]
	}
	var nums [3]uint64
	for k := 0; k < 3; k++ {
		n, j, ok := parseUint(s, 0)
		if !ok || (j > 1 && s[0] == '0') {
			return v, false
		}
		nums[k] = n
		s = s[j:]
		if k < 2 {
			if len(s) == 0 || s[0] != '.' {
				return v, false
			}
			s = s[1:]
		}
	}
	if s != "" {
		return v, false
	}
	v.Major, v.Minor, v.Patch = nums[0], nums[1], nums[2]
	return v, true
}

// Compare returns -1, 0 or 1 as v sorts before, with or after w by semver
// precedence (build metadata ignored).
func (v Semver) Compare(w Semver) int {
	for _, p := range [3][2]uint64{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		if p[0] != p[1] {
			if p[0] < p[1] {
				return -1
			}
			return 1
		}
	}
	switch {
	case v.Pre == w.Pre:
		return 0
	case v.Pre == "":
		return 1
	case w.Pre == "":
		return -1
	}
	a, b := v.Pre, w.Pre
	for a != "" && b != "" {
		x, y := a, b
		if i := indexByte(a, '.'); i >= 0 {
			x, a = a[:i], a[i+1:]
		} else {
			a = ""
		}
		if i := indexByte(b, '.'); i >= 0 {
			y, b = b[:i], b[i+1:]
		} else {
			b = ""
		}
		if c := compareIdent(x, y); c != 0 {
			return c
		}
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}

func compareIdent(x, y string) int {
	xn, xi, xok := parseUint(x, 0)
	yn, yi, yok := parseUint(y, 0)
	xnum, ynum := xok && xi == len(x), yok && yi == len(y)
	switch {
	case xnum && ynum:
		if xn < yn {
			return -1
		} else if xn > yn {
			return 1
		}
		return 0
	case xnum:
		return -1
	case ynum:
		return 1
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func validIdents(s string, pre bool) bool {
	if s == "" {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			id := s[start:i]
			if id == "" {
				return false
			}
			numeric := true
			for k := 0; k < len(id); k++ {
				if id[k] < '0' || id[k] > '9' {
					numeric = false
				}
			}
			if pre && numeric && len(id) > 1 && id[0] == '0' {
				return false
			}
			start = i + 1
			continue
		}
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
