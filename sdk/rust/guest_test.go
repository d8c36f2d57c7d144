// Package rustsdk_test runs the Rust SDK's test recipe (testdata/guest)
// compiled to Wasm through the host's engine: the cases its cargo test
// checks natively, and the failure modes only Wasm has (traps).
package rustsdk_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/engine"
	"github.com/cogs-dev/cogs/host/enginetest"
	"github.com/cogs-dev/cogs/sdk/go/cogstest"
)

const rustTarget = "wasm32-unknown-unknown"

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

var (
	buildOnce sync.Once
	guestWasm []byte
	buildErr  string
	missing   string
)

// guest builds testdata/guest with the Debian Rust toolchain (as
// mk/rust.mk does) once per test binary. A missing toolchain skips the
// test, or fails it when COGS_REQUIRE_INTEGRATION=1.
func guest(t *testing.T) []byte {
	t.Helper()
	buildOnce.Do(func() {
		cargo := envOr("COGS_CARGO", "/usr/bin/cargo")
		rustc := envOr("COGS_RUSTC", "/usr/bin/rustc")
		for _, p := range []string{cargo, rustc, "/usr/lib/rustlib/" + rustTarget} {
			if _, err := os.Stat(p); err != nil {
				missing = p + " is missing (`make test-rust` installs the Rust toolchain)"
				return
			}
		}
		target, err := os.MkdirTemp("", "cogs-rust-guest")
		if err != nil {
			buildErr = err.Error()
			return
		}
		defer os.RemoveAll(target)
		cmd := exec.Command(cargo, "build", "--offline", "--quiet", "--release", "--target", rustTarget,
			"--manifest-path", filepath.Join("testdata", "guest", "Cargo.toml"))
		cmd.Env = append(os.Environ(), "RUSTC="+rustc, "CARGO_TARGET_DIR="+target)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = strings.Join(cmd.Args, " ") + ": " + err.Error() + "\n" + string(out)
			return
		}
		guestWasm, err = os.ReadFile(filepath.Join(target, rustTarget, "release", "cogs_test_guest.wasm"))
		if err != nil {
			buildErr = err.Error()
		}
	})
	switch {
	case missing != "" && os.Getenv("COGS_REQUIRE_INTEGRATION") == "1":
		t.Fatal(missing)
	case missing != "":
		t.Skip(missing)
	case buildErr != "":
		t.Fatal(buildErr)
	}
	return guestWasm
}

// readCases reads testdata/guest/cases.txt, which the guest's cargo test
// also checks.
func readCases(t *testing.T) []cogstest.Case {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "guest", "cases.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []cogstest.Case
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		parts := strings.Split(line, "\t")
		if len(parts) != 4 {
			t.Fatalf("cases.txt: %q has %d tab-separated parts, want 4", line, len(parts))
		}
		c := cogstest.Case{Name: parts[0], Want: parts[3]}
		if parts[2] != "" {
			c.Change = cogstest.Doc(parts[0], parts[2])
		} else {
			var fields []string
			for _, f := range strings.Split(parts[1], ";") {
				if n, v, ok := strings.Cut(f, "="); ok {
					fields = append(fields, n, v)
				}
			}
			c.Change = cogstest.Hash(parts[0], fields...)
		}
		cases = append(cases, c)
	}
	if len(cases) < 5 {
		t.Fatalf("cases.txt: only %d cases", len(cases))
	}
	return cases
}

func TestGuestCases(t *testing.T) {
	r := enginetest.New(t, "guest", guest(t), nil, engine.Config{})
	meta := r.Recipe()
	want := `recipe name="guest" version="1.2.3" triggers=[trigger prefix="k:" mode=write-behind data=hash connection="db" flags=0; ` +
		`trigger prefix="j:" mode=write-through data=json connection="db" flags=0] params=["batch_size"=int:10]`
	if got := abi.RecipeText(&meta); got != want {
		t.Errorf("declared\n got %s\nwant %s", got, want)
	}
	cogstest.Check(t, r, readCases(t))
}

// logged returns an engine config whose logger writes into the returned
// buffer.
func logged() (engine.Config, *syncBuffer) {
	var buf syncBuffer
	return engine.Config{CacheDir: enginetest.CacheDir(), Logger: hclog.New(&hclog.LoggerOptions{
		Output: &buf, Level: hclog.Trace,
	})}, &buf
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestGuestInitFailures(t *testing.T) {
	wasm := guest(t)
	for _, tc := range []struct {
		config  string
		wantErr string
		wantLog string
	}{
		{"init-error", "the configuration says no", ""},
		{"bad-name", `recipe name "Bad" is invalid`, ""},
		{"init-panic", "", "panic: init panics"},
	} {
		t.Run(tc.config, func(t *testing.T) {
			ctx := context.Background()
			cfg, logs := logged()
			e, err := engine.New(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close(ctx)
			_, err = e.Load(ctx, "guest", wasm, []byte(tc.config))
			if err == nil {
				t.Fatal("load succeeded")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
			if !strings.Contains(logs.String(), tc.wantLog) {
				t.Errorf("log %q does not contain %q", logs.String(), tc.wantLog)
			}
		})
	}
}

// A panic in the map function traps: the batch fails, the message is
// logged, and the recipe goes on with a fresh instance.
func TestGuestMapPanicAndLogs(t *testing.T) {
	ctx := context.Background()
	cfg, logs := logged()
	e, err := engine.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(ctx)
	r, err := e.Load(ctx, "guest", guest(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ok := cogstest.Hash("k:1", "n", "5")
	bad := cogstest.Hash("k:panic")
	_, err = r.Map(ctx, []abi.Change{ok, bad})
	var re *engine.RecipeError
	if !errors.As(err, &re) {
		t.Fatalf("map of a panicking change: %v, want a RecipeError", err)
	}
	if !strings.Contains(logs.String(), `panic: map panics on "k:panic"`) {
		t.Errorf("log %q has no panic message", logs.String())
	}
	res, err := r.Map(ctx, []abi.Change{ok, cogstest.Hash("k:log")})
	if err != nil {
		t.Fatalf("map after a trap: %v", err)
	}
	if got := abi.ResultText(&res[0]); !strings.Contains(got, `"n"=int:5`) {
		t.Errorf("after a trap: %s", got)
	}
	for _, want := range []string{"init with 0 bytes of configuration", "a warning"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log %q does not contain %q", logs.String(), want)
		}
	}
}
