package cogs

import (
	"strconv"
	"strings"
	"unsafe"

	"github.com/cogs-dev/cogs/abi"
)

// The recipe side of the ABI, shared by the Wasm build (where the host
// functions are Wasm imports) and the native build (where they are served
// by an in-process host). Both call initRecipe from cogs_init and
// mapBatch from cogs_map.

const flushAt = 256 << 10 // push results when this many bytes are pending

var (
	config    []byte
	changeBuf = make([]byte, 4096)
	outBuf    []byte
	change    Change // the change being mapped; its buf is changeBuf
	output    Output
	declared  Recipe
)

// Config returns the recipe's load-time configuration (nil when none).
func Config() []byte { return config }

// Log writes a message to the host's log, tagged with the recipe.
func Log(level abi.LogLevel, msg string) { hostLog(level, msg) }

// Debug logs at debug level.
func Debug(msg string) { hostLog(abi.LogDebug, msg) }

// Info logs at info level.
func Info(msg string) { hostLog(abi.LogInfo, msg) }

// Warn logs at warn level.
func Warn(msg string) { hostLog(abi.LogWarn, msg) }

// Error logs at error level.
func Error(msg string) { hostLog(abi.LogError, msg) }

func failf(msg string) abi.Status {
	hostFail(msg)
	return abi.StatusRecipeError
}

func initRecipe() abi.Status {
	if registered == nil {
		return failf("no recipe registered (call cogs.Register from init)")
	}
	cfg, st := hostConfig()
	if st != abi.StatusOK {
		return failf("config_get: " + st.String())
	}
	config = cfg
	declared = *registered
	declared.Triggers = append([]Trigger(nil), registered.Triggers...)
	if declared.Init != nil {
		if err := declared.Init(config, &declared); err != nil {
			return failf(err.Error())
		}
	}
	if declared.Map == nil {
		return failf("recipe " + declared.Name + " has no Map function")
	}
	triggers = triggers[:0]
	for _, t := range declared.Triggers {
		triggers = append(triggers, newTriggerPrefix(t.Prefix))
	}
	meta := abi.Recipe{Name: declared.Name, Version: declared.Version}
	for _, t := range declared.Triggers {
		at := abi.Trigger{Prefix: t.Prefix, Mode: t.Mode, Data: t.Data, Connection: t.Connection}
		if at.Mode == 0 {
			at.Mode = abi.ModeWriteBehind
		}
		if at.Data == 0 {
			at.Data = abi.DataHash
		}
		if t.ExpiryDeletes {
			at.Flags |= abi.TriggerExpiryDeletes
		}
		meta.Triggers = append(meta.Triggers, at)
	}
	if declared.BatchSize != 0 {
		meta.Params = append(meta.Params, abi.Param{Name: abi.ParamBatchSize, Value: abi.Int(int64(declared.BatchSize))})
	}
	if declared.BatchAgeMs != 0 {
		meta.Params = append(meta.Params, abi.Param{Name: abi.ParamBatchAgeMs, Value: abi.Int(int64(declared.BatchAgeMs))})
	}
	if st := hostDeclare(abi.AppendRecipe(nil, &meta)); st != abi.StatusOK {
		return abi.StatusRecipeError // the host knows why
	}
	return abi.StatusOK
}

// mapBatch maps changes 0 to count-1 (cogs_map).
//
// The loop is shaped for standard Go's Wasm port, where a taken jump or a
// call costs as much as a few dozen simple instructions: the common case
// is the then-branch of every test (the compiler lays those out next, so
// they cost no jump), and everything else (a change buffer too small, a
// host error, a bad record, a trigger that does not match) is handled by
// prepareSlow. outBuf is kept in a local for the same reason: a store to a
// pointer in a global is a write-barrier check, one more jump.
func mapBatch(count uint32) abi.Status {
	out := outBuf[:0]
	change.buf = changeBuf
	for i := uint32(0); i < count; i++ {
		n, st := hostChangeGet(i, changeBuf)
		if b2i(st != abi.StatusOK)|b2i(n > uint32(len(changeBuf))) == 0 {
			if decodeChange(changeBuf[:n], &change) {
				if t := change.trigger; t < uint32(len(triggers)) {
					if keyHasPrefix(&change, &triggers[t]) {
						change.prefixLen = uint32(triggers[t].n)
						output.reset()
						declared.Map(&change, &output)
						out = output.appendResult(out, i)
						if len(out) < flushAt {
							continue
						}
						if st := hostResultPush(out); st != abi.StatusOK {
							return failf("result_push: " + st.String())
						}
						out = out[:0]
						continue
					}
				}
			}
		}
		if st := prepareSlow(i); st != abi.StatusOK {
			return st
		}
		output.reset()
		declared.Map(&change, &output)
		out = output.appendResult(out, i)
		if len(out) >= flushAt {
			if st := hostResultPush(out); st != abi.StatusOK {
				return failf("result_push: " + st.String())
			}
			out = out[:0]
		}
	}
	outBuf = out
	if len(out) > 0 {
		if st := hostResultPush(out); st != abi.StatusOK {
			return failf("result_push: " + st.String())
		}
	}
	return abi.StatusOK
}

// prepareSlow gets and decodes change i into change, growing changeBuf if
// needed, and checks its trigger; it returns the status to fail the call
// with if it cannot.
//
//go:noinline
func prepareSlow(i uint32) abi.Status {
	n, st := hostChangeGet(i, changeBuf)
	if st == abi.StatusBufferTooSmall {
		changeBuf = make([]byte, n+n/4)
		change.buf = changeBuf
		n, st = hostChangeGet(i, changeBuf)
	}
	if st != abi.StatusOK {
		return failf("change_get: " + st.String())
	}
	if n > uint32(len(changeBuf)) {
		return failf("change_get: length " + strconv.FormatUint(uint64(n), 10) + " over the buffer's")
	}
	if !decodeChange(changeBuf[:n], &change) {
		return badChange(i, changeBuf[:n])
	}
	t := change.trigger
	if t >= uint32(len(declared.Triggers)) || !strings.HasPrefix(change.Key(), declared.Triggers[t].Prefix) {
		return failf("change " + change.id.String() + " names trigger " + strconv.FormatUint(uint64(t), 10) + " which does not match its key")
	}
	change.prefixLen = uint32(len(declared.Triggers[t].Prefix))
	return abi.StatusOK
}

// triggerPrefix is a trigger's key prefix, loaded as halves does when it
// is at most 16 bytes (n is then its length, and -1 otherwise).
type triggerPrefix struct {
	lo, hi uint64
	n      int
}

// triggers holds the prefix of each declared trigger.
var triggers []triggerPrefix

func newTriggerPrefix(prefix string) triggerPrefix {
	if !wordTricks || len(prefix) > smallMax {
		return triggerPrefix{lo: ^uint64(0), n: -1} // matches no key
	}
	lo, hi := halves(prefix)
	return triggerPrefix{lo: lo, hi: hi, n: len(prefix)}
}

// keyHasPrefix reports whether c's key starts with t's prefix; for a
// prefix over 16 bytes it reports false, leaving the check to prepareSlow.
func keyHasPrefix(c *Change, t *triggerPrefix) bool {
	if !wordTricks {
		return false // prepareSlow checks the prefix
	}
	// The key's first min(len(key), n) bytes, read as halves does: the
	// key is in c.buf, so its data pointer is never nil.
	n := t.n
	kn := int(c.key.len)
	m := n - clamp0(n-kn) // min(n, kn)
	p := unsafe.Add(unsafe.Pointer(unsafe.SliceData(c.buf)), c.key.off)
	short := clamp0(8 - m)
	lo := load8(p, -short) >> (8 * uint(short))
	hi := load8(p, m-8) & uint64((8-m)>>63)
	return (lo^t.lo)|(hi^t.hi)|uint64(m^n) == 0
}

// badChange fails the call for change i, which does not decode.
func badChange(i uint32, b []byte) abi.Status {
	var c abi.Change
	if err := abi.DecodeChange(b, &c); err != nil {
		return failf("change " + strconv.FormatUint(uint64(i), 10) + ": " + err.Error())
	}
	return failf("change " + strconv.FormatUint(uint64(i), 10) + " does not decode")
}
