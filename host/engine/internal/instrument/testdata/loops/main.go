// Command loops is a test guest for package instrument: exported functions
// with loops, recursion, a switch and string handling, one that never
// returns, and a CPU loop for measuring the instrumentation's cost.
package main

import (
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
)

func main() {}

// sum returns the sum of i*i mod 7 for i in [0, n).
//
//go:wasmexport sum
func sum(n int32) int64 {
	var s int64
	for i := int32(0); i < n; i++ {
		s += int64(i) * int64(i) % 7
	}
	return s
}

// fib is the naive recursive Fibonacci function.
//
//go:wasmexport fib
func fib(n int32) int32 {
	if n < 2 {
		return n
	}
	return fib(n-1) + fib(n-2)
}

// classify maps n through a dense switch.
//
//go:wasmexport classify
func classify(n int32) int32 {
	var total int32
	for i := int32(0); i < n; i++ {
		switch i % 12 {
		case 0:
			total += 3
		case 1:
			total ^= 0x55
		case 2:
			total *= 3
		case 3:
			total -= 7
		case 4:
			total += i
		case 5:
			total >>= 1
		case 6:
			total += 100
		case 7:
			total |= 0x10
		case 8:
			total &= 0x7fff
		case 9:
			total += 9
		case 10:
			total -= i / 2
		default:
			total++
		}
	}
	return total
}

// words builds a text of n numbers, sorts its words and returns the FNV-1a
// hash of the result.
//
//go:wasmexport words
func words(n int32) int32 {
	var b strings.Builder
	for i := int32(0); i < n; i++ {
		b.WriteString(strconv.Itoa(int(i * 7919 % 1000)))
		b.WriteByte(' ')
	}
	f := strings.Fields(b.String())
	sort.Strings(f)
	counts := map[string]int{}
	for _, w := range f {
		counts[w]++
	}
	h := fnv.New32a()
	h.Write([]byte(strings.Join(f, ",")))
	h.Write([]byte(strconv.Itoa(len(counts))))
	return int32(h.Sum32())
}

// spin never returns.
//
//go:wasmexport spin
func spin() {
	for {
	}
}

// bench runs n iterations of a loop calling a tiny function.
//
//go:wasmexport bench
func bench(n int32) int32 {
	var s int32
	for i := int32(0); i < n; i++ {
		s = step(s, i)
	}
	return s
}

//go:noinline
func step(s, i int32) int32 { return s*31 + i }
