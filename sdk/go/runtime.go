package cogs

import (
	"strconv"
	"strings"

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
	change    Change
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

func mapBatch(count uint32) abi.Status {
	outBuf = outBuf[:0]
	for i := uint32(0); i < count; i++ {
		n, st := hostChangeGet(i, changeBuf)
		if st == abi.StatusBufferTooSmall {
			changeBuf = make([]byte, n+n/4)
			n, st = hostChangeGet(i, changeBuf)
		}
		if st != abi.StatusOK {
			return failf("change_get: " + st.String())
		}
		if err := abi.DecodeChange(changeBuf[:n], &change.raw); err != nil {
			return failf(err.Error())
		}
		t := int(change.raw.Trigger)
		if t >= len(declared.Triggers) || !strings.HasPrefix(change.raw.Key, declared.Triggers[t].Prefix) {
			return failf("change " + change.raw.ID.String() + " names trigger " + strconv.Itoa(t) + " which does not match its key")
		}
		change.trigger = &declared.Triggers[t]
		change.prefix = change.trigger.Prefix
		output.reset()
		declared.Map(&change, &output)
		outBuf = output.appendResult(outBuf, i)
		if len(outBuf) >= flushAt {
			if st := hostResultPush(outBuf); st != abi.StatusOK {
				return failf("result_push: " + st.String())
			}
			outBuf = outBuf[:0]
		}
	}
	if len(outBuf) > 0 {
		if st := hostResultPush(outBuf); st != abi.StatusOK {
			return failf("result_push: " + st.String())
		}
	}
	return abi.StatusOK
}
