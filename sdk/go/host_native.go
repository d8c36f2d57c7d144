//go:build !wasm

package cogs

import (
	"errors"
	"strconv"

	"github.com/cogs-dev/cogs/abi"
)

// The native build serves the host functions from an in-process host, so
// recipes run under plain go test through exactly the code path they take
// in Wasm: the same encoding, the same buffers, the same statuses. Package
// cogstest wraps it for tests.

// LogEntry is one log call of a recipe run natively.
type LogEntry struct {
	Level   abi.LogLevel
	Message string
}

// NativeHost runs the registered recipe in-process. It is for tests; it is
// not safe for concurrent use, and there is one recipe per test binary.
type NativeHost struct {
	config  []byte
	phase   string
	meta    *abi.Recipe
	changes [][]byte
	results []abi.Result
	seen    map[uint32]bool
	failMsg string
	logs    []LogEntry
	declErr error
}

var native *NativeHost

// NewNativeHost initialises the registered recipe with config (cogs_init)
// and returns the host, or the error the host would report for the load.
func NewNativeHost(config []byte) (*NativeHost, error) {
	h := &NativeHost{config: config}
	native = h
	h.phase = "init"
	st := initRecipe()
	h.phase = ""
	if st != abi.StatusOK {
		if h.declErr != nil {
			return nil, h.declErr
		}
		return nil, errors.New("init: " + h.failMsg)
	}
	if h.meta == nil {
		return nil, errors.New("init: recipe did not declare itself")
	}
	return h, nil
}

// Recipe returns the metadata the recipe declared.
func (h *NativeHost) Recipe() abi.Recipe { return *h.meta }

// Logs returns the log calls made so far.
func (h *NativeHost) Logs() []LogEntry { return h.logs }

// Map runs one batch through the recipe (cogs_map) and returns one result
// per change, in change order.
func (h *NativeHost) Map(changes []abi.Change) ([]abi.Result, error) {
	native = h
	h.changes = h.changes[:0]
	for i := range changes {
		h.changes = append(h.changes, abi.AppendChange(nil, &changes[i]))
	}
	h.results = nil
	h.seen = map[uint32]bool{}
	h.failMsg = ""
	h.phase = "map"
	st := mapBatch(uint32(len(changes)))
	h.phase = ""
	if st != abi.StatusOK {
		return nil, errors.New("map: " + h.failMsg)
	}
	out := make([]abi.Result, len(changes))
	for _, r := range h.results {
		out[r.Change] = r
	}
	for i := range changes {
		if !h.seen[uint32(i)] {
			return nil, errors.New("map: no result for change " + strconv.Itoa(i))
		}
	}
	return out, nil
}

func hostConfig() ([]byte, abi.Status) {
	if native.phase != "init" && native.phase != "map" {
		return nil, abi.StatusBadPhase
	}
	if len(native.config) == 0 {
		return nil, abi.StatusOK
	}
	return append([]byte(nil), native.config...), abi.StatusOK
}

func hostDeclare(b []byte) abi.Status {
	if native.phase != "init" || native.meta != nil {
		return abi.StatusBadPhase
	}
	var m abi.Recipe
	if err := abi.DecodeRecipe(append([]byte(nil), b...), &m); err != nil {
		native.declErr = errors.New("declare: " + err.Error())
		return abi.StatusBadEncoding
	}
	if err := abi.ValidateRecipe(&m); err != nil {
		native.declErr = errors.New("declare: " + err.Error())
		return abi.StatusBadArgument
	}
	native.meta = &m
	return abi.StatusOK
}

func hostChangeGet(i uint32, buf []byte) (uint32, abi.Status) {
	if native.phase != "map" {
		return 0, abi.StatusBadPhase
	}
	if int(i) >= len(native.changes) {
		return 0, abi.StatusNotFound
	}
	c := native.changes[i]
	if len(c) > len(buf) {
		return uint32(len(c)), abi.StatusBufferTooSmall
	}
	return uint32(copy(buf, c)), abi.StatusOK
}

func hostResultPush(b []byte) abi.Status {
	if native.phase != "map" {
		return abi.StatusBadPhase
	}
	rs, err := abi.DecodeResults(append([]byte(nil), b...), nil)
	if err != nil {
		return abi.StatusBadEncoding
	}
	for _, r := range rs {
		if int(r.Change) >= len(native.changes) || native.seen[r.Change] {
			return abi.StatusBadArgument
		}
		native.seen[r.Change] = true
	}
	native.results = append(native.results, rs...)
	return abi.StatusOK
}

func hostLog(level abi.LogLevel, msg string) {
	if native != nil {
		native.logs = append(native.logs, LogEntry{Level: level, Message: msg})
	}
}

func hostFail(msg string) {
	if native != nil {
		native.failMsg = msg
	}
}
