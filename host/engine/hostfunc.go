package engine

import (
	"context"
	"strconv"

	"github.com/hashicorp/go-hclog"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/cogs-dev/cogs/abi"
)

// The host functions of abi/SPEC.md. They use the stack-based API, never
// panic, and answer bad pointers, bad records and calls in the wrong phase
// with a status code. Every misuse is also remembered in the call state, so
// that the error of a call that then fails says what went wrong.

type phase uint8

const (
	phaseStart phase = iota // during _initialize, and between calls
	phaseInit               // during cogs_init
	phaseMap                // during cogs_map
)

func (p phase) String() string {
	switch p {
	case phaseInit:
		return "init"
	case phaseMap:
		return "map"
	}
	return "start"
}

// callState is what the host functions see of the call in progress. There
// is one per instance, reused from call to call.
type callState struct {
	phase     phase
	log       hclog.Logger
	config    []byte
	maxOutput int

	// init
	meta    *abi.Recipe
	declErr string

	// map
	enc     []byte // the batch's change records, back to back
	offs    []int  // record i is enc[offs[i]:offs[i+1]]
	count   int
	results []abi.Result // by change index
	seen    []bool
	nseen   int
	out     int
	pending []abi.Result
	slab    abi.Slab // rows and columns of this call's results

	failMsg   string
	violation string // first misuse of a host function in this call
	limit     string // first refusal by a host limit in this call
}

type stateKey struct{}

func withState(ctx context.Context, st *callState) context.Context {
	return context.WithValue(ctx, stateKey{}, st)
}

func stateOf(ctx context.Context) *callState {
	if st, ok := ctx.Value(stateKey{}).(*callState); ok {
		return st
	}
	return nil
}

func (st *callState) misuse(fn string, status abi.Status, detail string) uint64 {
	if st.violation == "" {
		st.violation = fn + ": " + status.String()
		if detail != "" {
			st.violation += " (" + detail + ")"
		}
	}
	return uint64(status)
}

// limitHit records that a host limit refused a call and returns
// LIMIT_EXCEEDED.
func (st *callState) limitHit(fn, detail string) uint64 {
	if st.limit == "" {
		st.limit = fn + ": " + abi.StatusLimitExceeded.String() + " (" + detail + ")"
	}
	return uint64(abi.StatusLimitExceeded)
}

func (st *callState) beginMap(changes []abi.Change) {
	st.phase = phaseMap
	size := 0
	for i := range changes {
		size += 48 + len(changes[i].Key) + len(changes[i].Doc)
		for _, f := range changes[i].Fields {
			size += 10 + len(f.Name) + len(f.Value)
		}
	}
	if cap(st.enc) < size {
		st.enc = make([]byte, 0, size)
	}
	st.enc = st.enc[:0]
	st.offs = append(st.offs[:0], 0)
	for i := range changes {
		st.enc = abi.AppendChange(st.enc, &changes[i])
		st.offs = append(st.offs, len(st.enc))
	}
	st.count = len(changes)
	st.results = make([]abi.Result, len(changes))
	if cap(st.seen) < len(changes) {
		st.seen = make([]bool, len(changes))
	} else {
		st.seen = st.seen[:len(changes)]
		clear(st.seen)
	}
	st.nseen = 0
	st.slab = abi.Slab{}
	st.out = 0
	st.failMsg = ""
	st.violation = ""
	st.limit = ""
}

func (st *callState) endCall() {
	st.phase = phaseStart
	st.enc = st.enc[:0]
	if cap(st.enc) > 16<<20 {
		st.enc = nil // do not keep a huge batch's buffer for the instance's lifetime
	}
	st.results = nil
	st.pending = st.pending[:0]
	st.slab = abi.Slab{}
}

type hostFunc struct {
	fn      api.GoModuleFunc
	params  []api.ValueType
	results []api.ValueType
}

var (
	i32  = api.ValueTypeI32
	i32s = func(n int) []api.ValueType {
		t := make([]api.ValueType, n)
		for i := range t {
			t[i] = i32
		}
		return t
	}
)

var hostFuncs = map[string]hostFunc{
	abi.FuncConfigGet:  {configGet, i32s(3), i32s(1)},
	abi.FuncDeclare:    {declare, i32s(2), i32s(1)},
	abi.FuncChangeGet:  {changeGet, i32s(4), i32s(1)},
	abi.FuncResultPush: {resultPush, i32s(2), i32s(1)},
	abi.FuncLog:        {logFn, i32s(3), i32s(1)},
	abi.FuncFail:       {failFn, i32s(2), i32s(1)},
}

func instantiateHost(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(abi.ImportModule)
	for name, f := range hostFuncs {
		b.NewFunctionBuilder().WithGoModuleFunction(f.fn, f.params, f.results).WithName(name).Export(name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

func ptrDetail(ptr, n uint32) string {
	return "ptr=" + strconv.FormatUint(uint64(ptr), 10) + " len=" + strconv.FormatUint(uint64(n), 10)
}

// copyOut implements the length protocol of config_get and change_get.
func copyOut(st *callState, fn string, mod api.Module, data []byte, buf, capacity, lenPtr uint32) uint64 {
	mem := mod.Memory()
	if !mem.WriteUint32Le(lenPtr, uint32(len(data))) {
		return st.misuse(fn, abi.StatusBadPointer, "len_ptr="+strconv.FormatUint(uint64(lenPtr), 10))
	}
	if uint32(len(data)) > capacity {
		return uint64(abi.StatusBufferTooSmall)
	}
	if !mem.Write(buf, data) {
		return st.misuse(fn, abi.StatusBadPointer, ptrDetail(buf, uint32(len(data))))
	}
	return uint64(abi.StatusOK)
}

func configGet(ctx context.Context, mod api.Module, stack []uint64) {
	st := stateOf(ctx)
	if st == nil || (st.phase != phaseInit && st.phase != phaseMap) {
		stack[0] = badPhase(st, abi.FuncConfigGet)
		return
	}
	stack[0] = copyOut(st, abi.FuncConfigGet, mod, st.config, uint32(stack[0]), uint32(stack[1]), uint32(stack[2]))
}

func badPhase(st *callState, fn string) uint64 {
	if st == nil {
		return uint64(abi.StatusBadPhase)
	}
	return st.misuse(fn, abi.StatusBadPhase, "called during "+st.phase.String())
}

func declare(ctx context.Context, mod api.Module, stack []uint64) {
	st := stateOf(ctx)
	if st == nil || st.phase != phaseInit || st.meta != nil {
		if st != nil && st.meta != nil {
			stack[0] = st.misuse(abi.FuncDeclare, abi.StatusBadPhase, "called twice")
			return
		}
		stack[0] = badPhase(st, abi.FuncDeclare)
		return
	}
	ptr, n := uint32(stack[0]), uint32(stack[1])
	if n > abi.MaxDeclareLen {
		stack[0] = st.misuse(abi.FuncDeclare, abi.StatusLimitExceeded, ptrDetail(ptr, n))
		return
	}
	view, ok := mod.Memory().Read(ptr, n)
	if !ok {
		stack[0] = st.misuse(abi.FuncDeclare, abi.StatusBadPointer, ptrDetail(ptr, n))
		return
	}
	var m abi.Recipe
	if err := abi.DecodeRecipe(append([]byte(nil), view...), &m); err != nil {
		st.declErr = "declare: " + err.Error()
		stack[0] = st.misuse(abi.FuncDeclare, abi.StatusBadEncoding, err.Error())
		return
	}
	if err := abi.ValidateRecipe(&m); err != nil {
		st.declErr = err.Error()
		stack[0] = uint64(abi.StatusBadArgument)
		return
	}
	st.meta = &m
	stack[0] = uint64(abi.StatusOK)
}

func changeGet(ctx context.Context, mod api.Module, stack []uint64) {
	st := stateOf(ctx)
	if st == nil || st.phase != phaseMap {
		stack[0] = badPhase(st, abi.FuncChangeGet)
		return
	}
	i := uint32(stack[0])
	if int64(i) >= int64(st.count) {
		stack[0] = uint64(abi.StatusNotFound)
		return
	}
	rec := st.enc[st.offs[i]:st.offs[i+1]]
	stack[0] = copyOut(st, abi.FuncChangeGet, mod, rec, uint32(stack[1]), uint32(stack[2]), uint32(stack[3]))
}

func resultPush(ctx context.Context, mod api.Module, stack []uint64) {
	st := stateOf(ctx)
	if st == nil || st.phase != phaseMap {
		stack[0] = badPhase(st, abi.FuncResultPush)
		return
	}
	ptr, n := uint32(stack[0]), uint32(stack[1])
	switch {
	case n > abi.MaxPushLen:
		stack[0] = st.limitHit(abi.FuncResultPush, "one push of "+strconv.FormatUint(uint64(n), 10)+
			" bytes, over "+strconv.Itoa(abi.MaxPushLen))
		return
	case st.out+int(n) > st.maxOutput:
		stack[0] = st.limitHit(abi.FuncResultPush, "output of this call over "+strconv.Itoa(st.maxOutput)+" bytes")
		return
	}
	// Every push counts, kept or not: a recipe repeating a failing push
	// must not make the host decode without bound.
	st.out += int(n)
	view, ok := mod.Memory().Read(ptr, n)
	if !ok {
		stack[0] = st.misuse(abi.FuncResultPush, abi.StatusBadPointer, ptrDetail(ptr, n))
		return
	}
	// Decoded strings alias this copy, which the results own from now on.
	buf := make([]byte, len(view))
	copy(buf, view)
	r := abi.NewReader(buf)
	st.pending = st.pending[:0]
	// rollback unmarks what this push marked when a later record fails:
	// a push is kept whole or not at all.
	rollback := func(fn string, status abi.Status, detail string) {
		for i := range st.pending[:len(st.pending)-1] {
			st.seen[st.pending[i].Change] = false
		}
		stack[0] = st.misuse(fn, status, detail)
	}
	for r.Len() > 0 {
		st.pending = append(st.pending, abi.Result{})
		res := &st.pending[len(st.pending)-1]
		if err := r.ResultSlab(res, &st.slab); err != nil {
			rollback(abi.FuncResultPush, abi.StatusBadEncoding, err.Error())
			return
		}
		if int64(res.Change) >= int64(st.count) {
			rollback(abi.FuncResultPush, abi.StatusBadArgument,
				"result for change "+strconv.FormatUint(uint64(res.Change), 10)+" of a batch of "+strconv.Itoa(st.count))
			return
		}
		if st.seen[res.Change] {
			rollback(abi.FuncResultPush, abi.StatusBadArgument,
				"second result for change "+strconv.FormatUint(uint64(res.Change), 10))
			return
		}
		st.seen[res.Change] = true
	}
	for i := range st.pending {
		st.results[st.pending[i].Change] = st.pending[i]
		st.nseen++
	}
	stack[0] = uint64(abi.StatusOK)
}

var hclogLevels = [...]hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error}

func logFn(ctx context.Context, mod api.Module, stack []uint64) {
	st := stateOf(ctx)
	level, ptr, n := uint32(stack[0]), uint32(stack[1]), uint32(stack[2])
	if level > uint32(abi.LogError) {
		if st != nil {
			st.misuse(abi.FuncLog, abi.StatusBadArgument, "level "+strconv.FormatUint(uint64(level), 10))
		}
		stack[0] = uint64(abi.StatusBadArgument)
		return
	}
	status := abi.StatusOK
	if n > abi.MaxLogLen {
		n, status = abi.MaxLogLen, abi.StatusLimitExceeded
	}
	view, ok := mod.Memory().Read(ptr, n)
	if !ok {
		if st != nil {
			st.misuse(abi.FuncLog, abi.StatusBadPointer, ptrDetail(ptr, n))
		}
		stack[0] = uint64(abi.StatusBadPointer)
		return
	}
	if st != nil && st.log != nil {
		st.log.Log(hclogLevels[level], string(view))
	}
	stack[0] = uint64(status)
}

func failFn(ctx context.Context, mod api.Module, stack []uint64) {
	st := stateOf(ctx)
	ptr, n := uint32(stack[0]), uint32(stack[1])
	status := abi.StatusOK
	if n > abi.MaxFailLen {
		n, status = abi.MaxFailLen, abi.StatusLimitExceeded
	}
	view, ok := mod.Memory().Read(ptr, n)
	if !ok {
		if st != nil {
			st.misuse(abi.FuncFail, abi.StatusBadPointer, ptrDetail(ptr, n))
		}
		stack[0] = uint64(abi.StatusBadPointer)
		return
	}
	if st != nil {
		st.failMsg = string(view)
	}
	stack[0] = uint64(status)
}
