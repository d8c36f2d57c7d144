//go:build !wasm

// Package cogstest unit-tests cogs recipes with plain go test.
//
// A test lists cases (a change and the result expected for it) and checks
// them against a Runner. Native runs the recipe registered in the test
// binary in-process; the host's enginetest package provides a Runner for
// the compiled .wasm, so the same cases run both ways:
//
//	func TestPersons(t *testing.T) {
//		cogstest.Check(t, cogstest.Native(t, nil), cases)
//	}
package cogstest

import (
	"strings"
	"testing"

	"github.com/cogs-dev/cogs/abi"
	cogs "github.com/cogs-dev/cogs/sdk/go"
)

// Runner runs a recipe over batches of changes.
type Runner interface {
	// Recipe returns the metadata the recipe declared at init.
	Recipe() abi.Recipe
	// Map runs one batch and returns one result per change, in order.
	Map(changes []abi.Change) ([]abi.Result, error)
}

// Native initialises the recipe registered in this test binary with
// config and returns a Runner for it. It fails the test if init fails.
func Native(t testing.TB, config []byte) Runner {
	t.Helper()
	h, err := cogs.NewNativeHost(config)
	if err != nil {
		t.Fatalf("recipe init: %v", err)
	}
	return h
}

// Case is one change and what the recipe must make of it.
type Case struct {
	Name   string
	Change abi.Change
	// Want is the expected result in canonical text (abi.ResultText) with
	// the leading "result change=N " left out, e.g.
	// `outcome=rows rows=[upsert table="persons" keys=["person_id"=str:"1"] cols=[]]`.
	Want string
}

// Hash returns a ChangeSet of a hash key with fields given as name, value
// pairs.
func Hash(key string, fields ...string) abi.Change {
	c := abi.Change{Op: abi.ChangeSet, Data: abi.DataHash, Key: key}
	for i := 0; i+1 < len(fields); i += 2 {
		c.Fields = append(c.Fields, abi.Field{Name: fields[i], Value: fields[i+1]})
	}
	return c
}

// Deleted returns a ChangeDelete of a hash key.
func Deleted(key string) abi.Change {
	return abi.Change{Op: abi.ChangeDelete, Data: abi.DataHash, Key: key}
}

// Doc returns a ChangeSet of a JSON key.
func Doc(key, doc string) abi.Change {
	return abi.Change{Op: abi.ChangeSet, Data: abi.DataJSON, Key: key, Doc: doc}
}

// Check runs every case, first one per batch and then all in one batch,
// and compares each result with the case's Want. Trigger indexes are
// filled in from the recipe's declaration and stream IDs are numbered.
func Check(t *testing.T, r Runner, cases []Case) {
	t.Helper()
	meta := r.Recipe()
	changes := make([]abi.Change, len(cases))
	for i, c := range cases {
		ch := c.Change
		ch.ID = abi.StreamID{Ms: 1, Seq: uint64(i)}
		k := meta.TriggerFor(ch.Key) // the longest prefix, as the host picks
		if k < 0 {
			t.Fatalf("case %q: key %q matches no trigger of recipe %q", c.Name, ch.Key, meta.Name)
		}
		ch.Trigger = uint32(k)
		changes[i] = ch
	}
	for i, c := range cases {
		res, err := r.Map(changes[i : i+1])
		if err != nil {
			t.Errorf("case %q: map: %v", c.Name, err)
			continue
		}
		if got := strip(abi.ResultText(&res[0])); got != c.Want {
			t.Errorf("case %q:\n got %s\nwant %s", c.Name, got, c.Want)
		}
	}
	if len(cases) < 2 {
		return
	}
	res, err := r.Map(changes)
	if err != nil {
		t.Fatalf("whole batch: map: %v", err)
	}
	for i, c := range cases {
		if got := strip(abi.ResultText(&res[i])); got != c.Want {
			t.Errorf("case %q in a batch of %d:\n got %s\nwant %s", c.Name, len(cases), got, c.Want)
		}
	}
}

func strip(s string) string {
	// "result change=N outcome=..." -> "outcome=..."
	if i := strings.Index(s, " outcome="); i >= 0 {
		return s[i+1:]
	}
	return s
}
