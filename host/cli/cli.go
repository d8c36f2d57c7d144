// Package cli is the cogs command line: all of the binary's wiring, behind
// a testable Main.
package cli

import (
	"fmt"
	"io"
	"runtime/debug"
)

// Version is the cogs version, set at link time
// (-ldflags "-X github.com/cogs-dev/cogs/host/cli.Version=v1.2.3").
var Version = "dev"

const usage = `cogs — Redis writes, captured and applied to your database by recipes.

Usage:
  cogs serve [--config FILE] [--listen ADDR] [--upstream ADDR]
                                    serve the front end: capture writes to the
                                    keys of the configured recipes
  cogs version                      print the version and the recipe ABI
  cogs recipe test FILE.wasm [flags] run a recipe over sample changes, without
                                    Redis or a database, and print the rows it
                                    would write

Run "cogs serve -h" or "cogs recipe test -h" for their flags.
`

// Main runs the cogs command with args (without the program name) and
// returns the process exit code: 0 success, 1 failure, 2 usage error.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serveCmd(args[1:], stderr)
	case "version", "--version":
		return version(stdout)
	case "recipe":
		if len(args) < 2 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		switch args[1] {
		case "test":
			return recipeTest(args[2:], stdout, stderr)
		}
		fmt.Fprintf(stderr, "cogs recipe: unknown command %q\n\n%s", args[1], usage)
		return 2
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "cogs: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func version(stdout io.Writer) int {
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	fmt.Fprintf(stdout, "cogs %s (recipe ABI %d.%d)\n", v, abiMajor, abiMinor)
	return 0
}
