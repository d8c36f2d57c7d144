package connectors

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Options reads a connector's configuration section. Each getter marks its
// option as known; Err then reports the first bad value or, failing that,
// the first option nobody asked for.
//
//	o := connectors.NewOptions(cfg)
//	path := o.String("path", "")
//	busy := o.Int("busy_timeout_ms", 5000)
//	if err := o.Err(); err != nil { ... }
type Options struct {
	cfg  map[string]any
	used map[string]bool
	err  error
}

// NewOptions wraps a configuration section.
func NewOptions(cfg map[string]any) *Options {
	return &Options{cfg: cfg, used: map[string]bool{}}
}

func (o *Options) fail(err error) {
	if o.err == nil {
		o.err = err
	}
}

// String returns a string option with ${env:NAME} and ${file:/path}
// expanded, or def when it is absent.
func (o *Options) String(name, def string) string {
	o.used[name] = true
	v, ok := o.cfg[name]
	if !ok || v == nil {
		return def
	}
	s, ok := v.(string)
	if !ok {
		o.fail(fmt.Errorf("option %q: want a string, got %T", name, v))
		return def
	}
	s, err := Expand(s)
	if err != nil {
		o.fail(fmt.Errorf("option %q: %w", name, err))
		return def
	}
	return s
}

// Int returns an integer option (a number or a string holding one), or def.
func (o *Options) Int(name string, def int) int {
	o.used[name] = true
	v, ok := o.cfg[name]
	if !ok || v == nil {
		return def
	}
	switch n := v.(type) {
	case int:
		return n
	case int64:
		return int(n)
	case uint64:
		return int(n)
	case float64:
		if n == float64(int(n)) {
			return int(n)
		}
	case string:
		s, err := Expand(n)
		if err == nil {
			if i, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
				return i
			}
		}
	}
	o.fail(fmt.Errorf("option %q: want an integer, got %v", name, v))
	return def
}

// Err returns the first invalid option, or the first unknown one.
func (o *Options) Err() error {
	if o.err != nil {
		return o.err
	}
	var unknown []string
	for k := range o.cfg {
		if !o.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		known := make([]string, 0, len(o.used))
		for k := range o.used {
			known = append(known, k)
		}
		sort.Strings(known)
		return fmt.Errorf("unknown option %q (known: %s)", unknown[0], strings.Join(known, ", "))
	}
	return nil
}

// Expand replaces ${env:NAME} with the environment variable NAME and
// ${file:/path} with the contents of the file, without trailing newlines.
// An unset variable or an unreadable file is an error; other text is kept.
func Expand(s string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("unterminated %q", s[i:])
		}
		ref := s[i+2 : i+j]
		s = s[i+j+1:]
		switch {
		case strings.HasPrefix(ref, "env:"):
			name := ref[len("env:"):]
			v, ok := os.LookupEnv(name)
			if !ok {
				return "", fmt.Errorf("environment variable %s is not set", name)
			}
			b.WriteString(v)
		case strings.HasPrefix(ref, "file:"):
			data, err := os.ReadFile(ref[len("file:"):])
			if err != nil {
				return "", err
			}
			b.WriteString(strings.TrimRight(string(data), "\r\n"))
		default:
			return "", fmt.Errorf("unknown reference ${%s} (want ${env:NAME} or ${file:/path})", ref)
		}
	}
}
