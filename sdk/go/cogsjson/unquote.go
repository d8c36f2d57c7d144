package cogsjson

import (
	"unicode/utf16"
	"unicode/utf8"
)

// Unquote returns the value of a JSON string literal (with its quotes) and
// whether s is one.
func Unquote(s string) (string, bool) {
	var d Doc
	if d.Parse(s) != nil || d.Kind(0) != String {
		return "", false
	}
	return d.Str(0), true
}

// unquote decodes the inside of a string literal that scanString
// accepted: escapes are decoded, and invalid UTF-8 and unpaired
// surrogates become U+FFFD, as encoding/json does.
func unquote(s string) string {
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		c := s[i]
		if c == '\\' {
			switch s[i+1] {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r := hex4(s[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						r2 = hex4(s[i+2:])
					}
					if p := utf16.DecodeRune(r, r2); p != utf8.RuneError {
						b = utf8.AppendRune(b, p)
						i += 6
						continue
					}
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
				continue
			default: // '"', '\\', '/'
				b = append(b, s[i+1])
			}
			i += 2
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return string(b)
}

// hex4 decodes four hexadecimal digits (checked by scanString).
func hex4(s string) rune {
	return unhex(s[0])<<12 | unhex(s[1])<<8 | unhex(s[2])<<4 | unhex(s[3])
}
