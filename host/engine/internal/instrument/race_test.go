//go:build race

package instrument

// raceEnabled reports whether the tests run under the race detector.
const raceEnabled = true
