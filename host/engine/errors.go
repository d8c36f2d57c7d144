package engine

import (
	"errors"
	"strconv"
)

// Errors a recipe call can fail with; match them with errors.Is. Every
// error from Load and Map is a *RecipeError naming the recipe.
var (
	// ErrInvalidModule: the bytes are not a valid WebAssembly module, or the
	// module lacks a required export or imports something the host does not
	// provide.
	ErrInvalidModule = errors.New("invalid module")
	// ErrABIVersion: the recipe was built for an ABI this host does not speak.
	ErrABIVersion = errors.New("unsupported ABI version")
	// ErrInit: the recipe's initialisation failed or declared an invalid recipe.
	ErrInit = errors.New("init failed")
	// ErrTrap: the recipe trapped (a panic, an unreachable, an out-of-bounds
	// access) or exited.
	ErrTrap = errors.New("trapped")
	// ErrTimeout: the call ran past its deadline.
	ErrTimeout = errors.New("deadline exceeded")
	// ErrMemoryLimit: the recipe ran out of memory under the instance limit.
	ErrMemoryLimit = errors.New("memory limit exceeded")
	// ErrRecipeFailed: the recipe returned a failure status.
	ErrRecipeFailed = errors.New("recipe failed")
	// ErrProtocol: the recipe broke the ABI (a missing or duplicate result,
	// a bad pointer, a record that does not decode, ...).
	ErrProtocol = errors.New("ABI violation")
	// ErrClosed: the recipe was closed.
	ErrClosed = errors.New("recipe closed")
)

// RecipeError is the error of a recipe operation.
type RecipeError struct {
	Recipe  string // declared name, or the name it was loaded under
	Version string // declared version, "" before init
	Op      string // "load", "init" or "map"
	Kind    error  // one of the Err* sentinels
	Detail  string
}

func (e *RecipeError) Error() string {
	s := "recipe " + strconv.Quote(e.Recipe)
	if e.Version != "" {
		s += " v" + e.Version
	}
	s += ": " + e.Op + ": " + e.Kind.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func (e *RecipeError) Unwrap() error { return e.Kind }
