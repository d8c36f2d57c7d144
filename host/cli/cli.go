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

Commands that talk to a running cogs (its admin commands: --addr, --user,
--password or $COGS_ADMIN_PASSWORD, --json):
  cogs recipe load FILE.wasm [--replace] [--config FILE]
                                    load a recipe, or replace the loaded one
  cogs recipe list                  the loaded recipes
  cogs recipe status NAME           one recipe in detail
  cogs recipe delete NAME [--purge] stop a recipe (--purge: drop its streams)
  cogs status [--watch]             per recipe: state, version, stream length,
                                    pending, lag, applied, dead letters
  cogs dlq list|show|replay|drop RECIPE [ID...] [--yes]
                                    inspect and replay dead-lettered changes

Run "cogs <command> -h" for its flags. Exit codes: 0 done, 1 failed, 2 usage.
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
		case "load", "list", "status", "delete":
			return adminCmd("recipe "+args[1], args[2:], stdout, stderr)
		}
		fmt.Fprintf(stderr, "cogs recipe: unknown command %q\n\n%s", args[1], usage)
		return 2
	case "status", "dlq":
		return adminCmd(args[0], args[1:], stdout, stderr)
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
