// Package engine runs cogs recipes: WebAssembly modules that speak the ABI
// in package abi. It compiles each recipe once (with an on-disk
// compilation cache), keeps a bounded pool of instances per recipe, and
// runs batches of changes through them with a memory limit per instance
// and a deadline per call. A trap, a timeout or an exhausted memory limit
// fails that call and discards the instance; the engine keeps running.
package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/cogs-dev/cogs/abi"
	"github.com/cogs-dev/cogs/host/engine/internal/instrument"
)

// Config configures an Engine. The zero value is usable: every field has a
// default.
type Config struct {
	// CacheDir holds compiled recipes across restarts. Empty means an
	// in-memory cache only.
	CacheDir string
	// MemoryLimit is the most linear memory one instance may have, in bytes
	// (rounded down to 64 KiB pages). Default 64 MiB.
	MemoryLimit uint64
	// InitTimeout bounds instantiation plus cogs_init. Default 10s.
	InitTimeout time.Duration
	// MapTimeout bounds one cogs_map call. Default 5s.
	MapTimeout time.Duration
	// PoolSize is the most instances of one recipe alive at once. Default
	// GOMAXPROCS.
	PoolSize int
	// MaxOutput is the most result bytes a recipe may push in one map call.
	// Default 256 MiB.
	MaxOutput int
	// Logger receives recipe logs and engine events. Default: no logging.
	Logger hclog.Logger
}

// MaxPoolSize is the largest PoolSize: each instance may hold MemoryLimit
// of memory, so a larger pool is a configuration mistake.
const MaxPoolSize = 4096

const (
	defaultMemoryLimit = 64 << 20
	defaultInitTimeout = 10 * time.Second
	defaultMapTimeout  = 5 * time.Second
	defaultMaxOutput   = 256 << 20
	pageSize           = 65536
)

func (c *Config) setDefaults() {
	if c.MemoryLimit == 0 {
		c.MemoryLimit = defaultMemoryLimit
	}
	if c.InitTimeout == 0 {
		c.InitTimeout = defaultInitTimeout
	}
	if c.MapTimeout == 0 {
		c.MapTimeout = defaultMapTimeout
	}
	if c.PoolSize == 0 {
		c.PoolSize = runtime.GOMAXPROCS(0)
	}
	if c.MaxOutput == 0 {
		c.MaxOutput = defaultMaxOutput
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	switch {
	case c.MemoryLimit != 0 && c.MemoryLimit < 2*pageSize:
		return errors.New("engine.memory_limit: must be at least 128 KiB")
	case c.MemoryLimit > 4<<30:
		return errors.New("engine.memory_limit: must be at most 4 GiB")
	case c.InitTimeout < 0:
		return errors.New("engine.init_timeout: must not be negative")
	case c.MapTimeout < 0:
		return errors.New("engine.map_timeout: must not be negative")
	case c.PoolSize < 0:
		return errors.New("engine.pool_size: must not be negative")
	case c.PoolSize > MaxPoolSize:
		return fmt.Errorf("engine.pool_size: must be at most %d", MaxPoolSize)
	case c.MaxOutput < 0:
		return errors.New("engine.max_output: must not be negative")
	}
	return nil
}

// Engine compiles and runs recipes. It is safe for concurrent use.
type Engine struct {
	cfg    Config
	rt     wazero.Runtime // instrumented modules
	rtSafe wazero.Runtime // modules the instrumenter refuses
	cache  wazero.CompilationCache
	log    hclog.Logger
}

// New returns an Engine.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("engine: compilation cache %q: %w", cfg.CacheDir, err)
		}
		cache = c
	} else {
		cache = wazero.NewCompilationCache()
	}
	e := &Engine{cfg: cfg, cache: cache, log: cfg.Logger.Named("engine")}
	var err error
	if e.rt, err = e.newRuntime(ctx, false); err != nil {
		return nil, err
	}
	if e.rtSafe, err = e.newRuntime(ctx, true); err != nil {
		e.rt.Close(ctx)
		return nil, err
	}
	return e, nil
}

// newRuntime returns a runtime with WASI and the host module. The fast one
// runs instrumented modules (see package instrument), whose calls the
// engine stops through the interrupt flag; the safe one runs modules the
// instrumenter refuses, with wazero's own per-loop check of the context
// (several times slower for standard-Go modules, see RATIONALE.md).
func (e *Engine) newRuntime(ctx context.Context, closeOnDone bool) (wazero.Runtime, error) {
	rc := wazero.NewRuntimeConfigCompiler().
		WithCompilationCache(e.cache).
		WithMemoryLimitPages(uint32(e.cfg.MemoryLimit / pageSize)).
		WithCloseOnContextDone(closeOnDone).
		// Without DWARF lookups a trap's stack trace names functions but
		// not source lines; with them, a trap cost about a second in an
		// unstripped Rust recipe (5 MB of debug sections), and the
		// scheduler isolates a failing change by splitting its batch, one
		// trap per split.
		WithDebugInfoEnabled(false)
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("engine: wasi: %w", err)
	}
	if err := instantiateHost(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("engine: host module: %w", err)
	}
	return rt, nil
}

// Close releases the runtime and every recipe instance.
func (e *Engine) Close(ctx context.Context) error {
	err := e.rt.Close(ctx)
	if serr := e.rtSafe.Close(ctx); err == nil {
		err = serr
	}
	if cerr := e.cache.Close(ctx); err == nil {
		err = cerr
	}
	return err
}

// Load compiles a recipe, checks its ABI version before instantiating it,
// instantiates and initialises one instance, and returns the recipe. name
// is what the module was uploaded as (a file name, say); it names the
// recipe in errors until the recipe has declared its own name. config is
// the recipe's load-time configuration (may be nil).
func (e *Engine) Load(ctx context.Context, name string, wasm []byte, config []byte) (*Recipe, error) {
	loadErr := func(kind error, detail string) error {
		return &RecipeError{Recipe: name, Op: "load", Kind: kind, Detail: detail}
	}
	// wazero's decoder allocates by the counts a module announces; screen
	// them first so a tiny crafted module cannot exhaust the host's memory.
	if err := instrument.Screen(wasm); err != nil {
		return nil, loadErr(ErrInvalidModule, "not a valid WebAssembly module: "+err.Error())
	}
	rt, code, safe := e.rt, wasm, false
	if patched, err := instrument.Instrument(wasm, interruptExport); err == nil {
		code = patched
	} else {
		rt, safe = e.rtSafe, true
		e.log.Info("recipe runs with wazero's termination checks (slower)", "recipe", name, "reason", err.Error())
	}
	compiled, err := compile(ctx, rt, code)
	if err != nil {
		return nil, loadErr(ErrInvalidModule, "not a valid WebAssembly module: "+firstLine(err.Error()))
	}
	minor, err := checkModule(name, compiled)
	if err != nil {
		compiled.Close(ctx)
		return nil, err
	}
	r := &Recipe{
		e:        e,
		rt:       rt,
		safe:     safe,
		compiled: compiled,
		source:   name,
		abiMinor: minor,
		config:   append([]byte(nil), config...),
		idle:     make(chan *instance, e.cfg.PoolSize),
		slots:    make(chan struct{}, e.cfg.PoolSize),
	}
	r.slots <- struct{}{}
	inst, err := r.newInstance(ctx)
	if err != nil {
		<-r.slots
		compiled.Close(ctx)
		return nil, err
	}
	r.log = e.cfg.Logger.Named("recipe").With("recipe", r.meta.Name, "version", r.meta.Version)
	inst.st.log = r.log
	inst.output.log = r.log
	r.release(inst)
	return r, nil
}

// interruptExport names the global through which the engine stops a call
// of an instrumented module.
const interruptExport = "cogs_interrupt"

// compile compiles a module, turning a panic of wazero's decoder (which
// fuzzing has found) into an error.
func compile(ctx context.Context, rt wazero.Runtime, wasm []byte) (m wazero.CompiledModule, err error) {
	defer func() {
		if p := recover(); p != nil {
			m, err = nil, fmt.Errorf("wazero: %v", p)
		}
	}()
	return rt.CompileModule(ctx, wasm)
}

// checkModule checks, before instantiation, the ABI version marker, the
// required exports and the imports. It returns the recipe's ABI minor.
func checkModule(name string, m wazero.CompiledModule) (int, error) {
	loadErr := func(kind error, detail string) error {
		return &RecipeError{Recipe: name, Op: "load", Kind: kind, Detail: detail}
	}
	exports := m.ExportedFunctions()
	major, minor, found := -1, -1, 0
	for n := range exports {
		if !strings.HasPrefix(n, abi.VersionExportPrefix) {
			continue
		}
		found++
		ma, mi, ok := parseVersionExport(n[len(abi.VersionExportPrefix):])
		if !ok {
			return 0, loadErr(ErrABIVersion, "malformed ABI version marker "+strconv.Quote(n))
		}
		major, minor = ma, mi
	}
	switch {
	case found == 0:
		return 0, loadErr(ErrABIVersion, "no ABI version marker (an export named "+abi.VersionExportPrefix+"<major>_<minor>); was it built with a cogs SDK?")
	case found > 1:
		return 0, loadErr(ErrABIVersion, "more than one ABI version marker")
	case major != abi.VersionMajor:
		return 0, &RecipeError{Recipe: name, Op: "load", Kind: ErrABIVersion, Detail: fmt.Sprintf(
			"recipe %q was built for ABI %d.%d; this host speaks %d.x", name, major, minor, abi.VersionMajor)}
	case minor > abi.VersionMinor:
		return 0, &RecipeError{Recipe: name, Op: "load", Kind: ErrABIVersion, Detail: fmt.Sprintf(
			"recipe %q was built for ABI %d.%d; this host speaks %d.%d (it needs a host speaking %d.%d or later)",
			name, major, minor, abi.VersionMajor, abi.VersionMinor, major, minor)}
	}
	for _, want := range []struct {
		name    string
		params  []api.ValueType
		results []api.ValueType
	}{
		{abi.ExportInit, nil, []api.ValueType{api.ValueTypeI32}},
		{abi.ExportMap, []api.ValueType{api.ValueTypeI32}, []api.ValueType{api.ValueTypeI32}},
	} {
		f, ok := exports[want.name]
		if !ok {
			return 0, loadErr(ErrInvalidModule, "missing export "+strconv.Quote(want.name))
		}
		if !sameTypes(f.ParamTypes(), want.params) || !sameTypes(f.ResultTypes(), want.results) {
			return 0, loadErr(ErrInvalidModule, "export "+strconv.Quote(want.name)+" has the wrong signature")
		}
	}
	if _, ok := m.ExportedMemories()[abi.ExportMemory]; !ok {
		return 0, loadErr(ErrInvalidModule, "missing memory export \"memory\"")
	}
	for _, f := range m.ImportedFunctions() {
		mod, fn, _ := f.Import()
		switch mod {
		case wasi_snapshot_preview1.ModuleName:
			continue
		case abi.ImportModule:
			if _, ok := hostFuncs[fn]; ok {
				continue
			}
		}
		return 0, loadErr(ErrInvalidModule, "imports "+mod+"."+fn+", which this host does not provide")
	}
	return minor, nil
}

// parseVersionExport parses "<major>_<minor>": decimal digits, no sign,
// no leading zero.
func parseVersionExport(s string) (int, int, bool) {
	a, b, ok := strings.Cut(s, "_")
	if !ok {
		return 0, 0, false
	}
	ma, ok1 := versionNumber(a)
	mi, ok2 := versionNumber(b)
	return ma, mi, ok1 && ok2
}

func versionNumber(s string) (int, bool) {
	if s == "" || len(s) > 4 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func sameTypes(a, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
