package connectors_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/connectors"
)

type fake struct{ cfg string }

func (fake) Apply(context.Context, []abi.RowOp, connectors.Checkpoint) error { return nil }
func (fake) Checkpoint(context.Context, string) (abi.StreamID, error)        { return abi.StreamID{}, nil }
func (fake) Close() error                                                    { return nil }

func init() {
	connectors.Register("fake-test", func(cfg map[string]any) (connectors.Connector, error) {
		o := connectors.NewOptions(cfg)
		s := o.String("dsn", "default")
		if err := o.Err(); err != nil {
			return nil, err
		}
		return fake{cfg: s}, nil
	})
}

func TestOpen(t *testing.T) {
	t.Setenv("COGS_TEST_SECRET", "s3cret")
	c, err := connectors.Open("fake-test", map[string]any{"dsn": "user:${env:COGS_TEST_SECRET}@host"})
	if err != nil || c.(fake).cfg != "user:s3cret@host" {
		t.Fatalf("Open = %v, %v", c, err)
	}
	if _, err := connectors.Open("fake-test", map[string]any{"dsn": "x", "dns": "y"}); err == nil || !strings.Contains(err.Error(), `unknown option "dns"`) {
		t.Errorf("unknown option: %v", err)
	}
	if _, err := connectors.Open("nope", nil); !errors.Is(err, connectors.ErrUnknown) {
		t.Errorf("unknown connector: %v", err)
	}
}

func TestExpand(t *testing.T) {
	t.Setenv("COGS_TEST_A", "alpha")
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want, err string }{
		{"plain", "plain", ""},
		{"${env:COGS_TEST_A}", "alpha", ""},
		{"a-${env:COGS_TEST_A}-${file:" + file + "}-z", "a-alpha-from-file-z", ""},
		{"$ not a ref {}", "$ not a ref {}", ""},
		{"${env:COGS_TEST_UNSET_XYZ}", "", "COGS_TEST_UNSET_XYZ is not set"},
		{"${file:/nonexistent/cogs}", "", "no such file"},
		{"${vault:x}", "", "unknown reference"},
		{"${env:X", "", "unterminated"},
	} {
		got, err := connectors.Expand(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Expand(%q) = %q, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestOptions(t *testing.T) {
	o := connectors.NewOptions(map[string]any{"n": 3.0, "s": "x", "m": "12"})
	if n := o.Int("n", 0); n != 3 {
		t.Errorf("n = %d", n)
	}
	if m := o.Int("m", 0); m != 12 {
		t.Errorf("m = %d", m)
	}
	if d := o.Int("absent", 7); d != 7 {
		t.Errorf("absent = %d", d)
	}
	if err := o.Err(); err == nil || !strings.Contains(err.Error(), `unknown option "s"`) {
		t.Errorf("Err = %v", err)
	}
	o = connectors.NewOptions(map[string]any{"s": 5})
	o.String("s", "")
	if err := o.Err(); err == nil || !strings.Contains(err.Error(), `option "s": want a string`) {
		t.Errorf("Err = %v", err)
	}
}

func TestBatchError(t *testing.T) {
	base := errors.New("duplicate key")
	err := error(&connectors.BatchError{Index: 3, Permanent: true, Err: base})
	if !errors.Is(err, base) || !connectors.IsPermanent(err) || err.Error() != "apply batch: op 3 (permanent): duplicate key" {
		t.Errorf("BatchError = %v", err)
	}
	if connectors.IsPermanent(&connectors.BatchError{Index: -1, Err: base}) || connectors.IsPermanent(base) {
		t.Error("transient reported permanent")
	}
}

func TestArg(t *testing.T) {
	for _, tc := range []struct {
		v    abi.Value
		want any
	}{
		{abi.Null(), nil},
		{abi.String("s"), "s"},
		{abi.Int(-3), int64(-3)},
		{abi.Float(1.5), 1.5},
		{abi.Bool(true), true},
	} {
		if got := connectors.Arg(tc.v); got != tc.want {
			t.Errorf("connectors.Arg(%v) = %#v, want %#v", tc.v.Kind(), got, tc.want)
		}
	}
	if b, ok := connectors.Arg(abi.Bytes([]byte{0, 1})).([]byte); !ok || string(b) != "\x00\x01" {
		t.Errorf("connectors.Arg(bytes) = %#v", connectors.Arg(abi.Bytes([]byte{0, 1})))
	}
}
