// Command cogs is the cogs host and its command line. See package cli.
package main

import (
	"os"

	"github.com/cogs-dev/cogs/host/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
