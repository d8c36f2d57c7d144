package engine

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/cogs-dev/cogs/abi"
)

// Recipe is a loaded recipe: compiled once, run by a bounded pool of
// instances. It is safe for concurrent use; each concurrent Map uses its
// own instance.
type Recipe struct {
	e        *Engine
	rt       wazero.Runtime
	safe     bool // not instrumented: calls are stopped by wazero's context checks
	compiled wazero.CompiledModule
	source   string
	abiMinor int
	config   []byte
	meta     abi.Recipe
	log      hclog.Logger

	idle  chan *instance // instances ready for a call
	slots chan struct{}  // one token per live instance; its capacity bounds the pool

	mu     sync.Mutex
	closed bool
}

type instance struct {
	mod    api.Module
	mapFn  api.Function
	flag   api.MutableGlobal // the interrupt flag; nil for a safe recipe
	st     *callState
	output *tailWriter
	stack  [1]uint64
	// poisoned: the watchdog set the flag, so the instance must not be
	// used again.
	poisoned bool
}

// Meta returns what the recipe declared at init.
func (r *Recipe) Meta() abi.Recipe { return r.meta }

// ABIMinor returns the ABI minor version the recipe was built for.
func (r *Recipe) ABIMinor() int { return r.abiMinor }

func (r *Recipe) name() string {
	if r.meta.Name != "" {
		return r.meta.Name
	}
	return r.source
}

func (r *Recipe) errorf(op string, kind error, detail string) *RecipeError {
	return &RecipeError{Recipe: r.name(), Version: r.meta.Version, Op: op, Kind: kind, Detail: detail}
}

// newInstance instantiates the module (running _initialize) and calls
// cogs_init. The caller holds a slot.
func (r *Recipe) newInstance(ctx context.Context) (*instance, error) {
	log := r.log
	if log == nil {
		log = r.e.log.With("recipe", r.source)
	}
	st := &callState{phase: phaseStart, log: log, config: r.config, maxOutput: r.e.cfg.MaxOutput}
	out := &tailWriter{log: log}
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStdout(out).
		WithStderr(out)
	if r.safe {
		mc = mc.WithStartFunctions(abi.ExportInitialize)
	} else {
		// _initialize is called below, under the watchdog.
		mc = mc.WithStartFunctions()
	}
	// One deadline covers instantiation, _initialize and cogs_init.
	deadline := time.Now().Add(r.e.cfg.InitTimeout)
	ictx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	mod, err := r.rt.InstantiateModule(withState(ictx, st), r.compiled, mc)
	if err != nil {
		return nil, r.callErr(ctx, "init", out, err, r.e.cfg.InitTimeout)
	}
	inst := &instance{mod: mod, mapFn: mod.ExportedFunction(abi.ExportMap), st: st, output: out}
	if !r.safe {
		flag, ok := mod.ExportedGlobal(interruptExport).(api.MutableGlobal)
		if !ok {
			mod.Close(context.Background())
			return nil, r.errorf("init", ErrInvalidModule, "instrumented module lacks its interrupt flag")
		}
		inst.flag = flag
		if start := mod.ExportedFunction(abi.ExportInitialize); start != nil {
			err := r.call(ctx, "init", inst, start, time.Until(deadline))
			if err == nil && inst.poisoned {
				// The deadline passed as _initialize returned: the flag is
				// set, and cogs_init would trap at once.
				err = r.errorf("init", ErrTimeout, "the call ran longer than "+r.e.cfg.InitTimeout.String())
			}
			if err != nil {
				mod.Close(context.Background())
				return nil, err
			}
		}
	}
	st.phase = phaseInit
	st.failMsg, st.violation = "", "" // each call starts without a failure message
	err = r.call(ctx, "init", inst, mod.ExportedFunction(abi.ExportInit), time.Until(deadline))
	st.phase = phaseStart
	if err != nil || inst.poisoned {
		mod.Close(context.Background())
		if err == nil {
			err = r.errorf("init", ErrTimeout, "the call ran longer than "+r.e.cfg.InitTimeout.String())
		}
		return nil, err
	}
	fail := func(kind error, detail string) (*instance, error) {
		mod.Close(context.Background())
		return nil, r.errorf("init", kind, detail)
	}
	switch {
	case st.declErr != "":
		return fail(ErrInit, st.declErr)
	case abi.Status(inst.stack[0]) != abi.StatusOK:
		if st.violation != "" {
			return fail(ErrProtocol, joinDetail(st.violation, st.failMsg))
		}
		if st.failMsg == "" {
			return fail(ErrInit, "cogs_init returned "+abi.Status(inst.stack[0]).String())
		}
		return fail(ErrInit, st.failMsg)
	case st.meta == nil:
		return fail(ErrInit, "cogs_init returned without calling declare")
	case r.meta.Name == "":
		r.meta = *st.meta
	case abi.RecipeText(st.meta) != abi.RecipeText(&r.meta):
		return fail(ErrInit, "a new instance declared "+abi.RecipeText(st.meta)+", the first "+abi.RecipeText(&r.meta))
	}
	st.meta = nil
	return inst, nil
}

func joinDetail(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; recipe says: " + b
}

// callErr turns the error of a Wasm call into a RecipeError.
func (r *Recipe) callErr(parent context.Context, op string, out *tailWriter, err error, timeout time.Duration) error {
	kind, detail := ErrTrap, firstLine(err.Error())
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			if parent.Err() != nil {
				return r.errorf(op, parent.Err(), "")
			}
			return r.errorf(op, ErrTimeout, "the call ran longer than "+timeout.String())
		case sys.ExitCodeContextCanceled:
			return r.errorf(op, context.Canceled, "")
		default:
			detail = "exited with code " + strconv.FormatUint(uint64(exit.ExitCode()), 10)
		}
	}
	if msg := out.lastError(); msg != "" {
		// The runtime's own message says more than "unreachable" or an
		// exit code (Go and TinyGo print it, then trap or exit).
		detail = msg + " (" + detail + ")"
		if strings.Contains(msg, "out of memory") {
			kind = ErrMemoryLimit
			detail = "limit " + strconv.FormatUint(r.e.cfg.MemoryLimit>>20, 10) + " MiB: " + msg
		}
	}
	return r.errorf(op, kind, detail)
}

// acquire returns an idle instance, or a new one while the pool has room,
// or waits for one.
func (r *Recipe) acquire(ctx context.Context) (*instance, error) {
	select {
	case inst := <-r.idle:
		return inst, nil
	default:
	}
	select {
	case inst := <-r.idle:
		return inst, nil
	case r.slots <- struct{}{}:
		r.mu.Lock()
		closed := r.closed
		r.mu.Unlock()
		if closed { // a slot freed by Close's draining: the module is gone
			<-r.slots
			return nil, r.errorf("map", ErrClosed, "")
		}
		inst, err := r.newInstance(ctx)
		if err != nil {
			<-r.slots
			return nil, err
		}
		return inst, nil
	case <-ctx.Done():
		return nil, r.errorf("map", ctx.Err(), "waiting for an instance")
	}
}

func (r *Recipe) release(inst *instance) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		inst.mod.Close(context.Background())
		<-r.slots
		return
	}
	r.idle <- inst // never blocks: at most cap(slots) instances exist
}

func (r *Recipe) discard(inst *instance) {
	inst.mod.Close(context.Background())
	<-r.slots
}

// Map runs one batch of changes through the recipe in one Wasm call and
// returns one result per change, in change order. Strings in the results
// are the caller's.
func (r *Recipe) Map(ctx context.Context, changes []abi.Change) ([]abi.Result, error) {
	if len(changes) == 0 {
		return nil, nil
	}
	if int64(len(changes)) > 1<<31-1 {
		return nil, r.errorf("map", ErrProtocol, "batch too large")
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return nil, r.errorf("map", ErrClosed, "")
	}
	inst, err := r.acquire(ctx)
	if err != nil {
		return nil, err
	}
	st := inst.st
	st.beginMap(changes)
	inst.stack[0] = uint64(len(changes))
	err = r.call(ctx, "map", inst, inst.mapFn, r.e.cfg.MapTimeout)
	results := st.results
	violation, failMsg, nseen, limit := st.violation, st.failMsg, st.nseen, st.limit
	st.endCall()
	if err != nil {
		r.discard(inst)
		return nil, err
	}
	// A poisoned instance (the deadline passed just as the call returned,
	// or the recipe broke the ABI) is not used again.
	defer func() {
		if inst.poisoned {
			r.discard(inst)
		} else {
			r.release(inst)
		}
	}()
	if status := abi.Status(inst.stack[0]); status != abi.StatusOK {
		if limit != "" {
			// The recipe stopped because a host limit refused it: its own
			// reaction to LIMIT_EXCEEDED, not an ABI violation.
			return nil, r.errorf("map", ErrRecipeFailed, joinDetail(limit, failMsg))
		}
		if violation != "" {
			inst.poisoned = true
			return nil, r.errorf("map", ErrProtocol, joinDetail(violation, failMsg))
		}
		if failMsg == "" {
			failMsg = "cogs_map returned " + status.String()
		}
		return nil, r.errorf("map", ErrRecipeFailed, failMsg)
	}
	if nseen != len(changes) {
		inst.poisoned = true
		for i := range results {
			if results[i].Outcome == 0 {
				detail := "no result for change " + strconv.Itoa(i) + " of " + strconv.Itoa(len(changes))
				if violation != "" {
					detail += " (after " + violation + ")"
				}
				return nil, r.errorf("map", ErrProtocol, detail)
			}
		}
	}
	return results, nil
}

// call runs fn on inst within timeout and returns its error as a
// RecipeError. An instrumented instance is stopped by a watchdog that sets
// its interrupt flag (the guest traps at its next loop or call); a safe
// one by wazero's context checks.
func (r *Recipe) call(ctx context.Context, op string, inst *instance, fn api.Function, timeout time.Duration) error {
	if inst.flag == nil {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		inst.output.reset()
		if err := fn.CallWithStack(withState(cctx, inst.st), inst.stack[:]); err != nil {
			return r.callErr(ctx, op, inst.output, err, timeout)
		}
		return nil
	}
	const (
		running = iota
		done
		timedOut
		canceled
	)
	var state atomic.Int32
	fire := func(why int32) {
		if state.CompareAndSwap(running, why) {
			inst.flag.Set(1)
		}
	}
	inst.output.reset() // a failure quotes only what this call printed
	timer := time.AfterFunc(timeout, func() { fire(timedOut) })
	stop := context.AfterFunc(ctx, func() { fire(canceled) })
	err := fn.CallWithStack(withState(ctx, inst.st), inst.stack[:])
	timer.Stop()
	stop()
	if !state.CompareAndSwap(running, done) {
		inst.poisoned = true
	}
	if err == nil {
		return nil
	}
	switch state.Load() {
	case timedOut:
		limit := timeout
		if op == "init" {
			limit = r.e.cfg.InitTimeout // the deadline spans instantiation and both calls
		}
		return r.errorf(op, ErrTimeout, "the call ran longer than "+limit.String())
	case canceled:
		return r.errorf(op, ctx.Err(), "")
	}
	return r.callErr(ctx, op, inst.output, err, timeout)
}

// Close discards every instance. Calls in progress finish; later calls
// fail with ErrClosed.
func (r *Recipe) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	for {
		select {
		case inst := <-r.idle:
			inst.mod.Close(ctx)
			<-r.slots
		default:
			return r.compiled.Close(ctx)
		}
	}
}

// tailWriter receives a recipe's stdout and stderr: it logs each line at
// debug level and keeps the last few KiB, from which errors quote the
// panic or fatal error message.
type tailWriter struct {
	log  hclog.Logger
	buf  []byte
	line []byte
}

const tailMax = 8 << 10

func (w *tailWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	if len(w.buf) > tailMax {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-tailMax/2:]...)
	}
	for _, c := range p {
		if c == '\n' {
			w.log.Debug("recipe output", "line", string(w.line))
			w.line = w.line[:0]
			continue
		}
		if len(w.line) < 1024 {
			w.line = append(w.line, c)
		}
	}
	return len(p), nil
}

// reset forgets the output kept so far.
func (w *tailWriter) reset() { w.buf = w.buf[:0] }

// lastError returns the last "panic: ..." or "fatal error: ..." line the
// recipe printed (Go and TinyGo runtimes print these before exiting).
func (w *tailWriter) lastError() string {
	lines := strings.Split(string(w.buf), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			l = strings.TrimSuffix(l, " [recovered]")
			return l
		}
	}
	return ""
}
