// Command election runs a real-time election: registration, casting, streaming, tallying and results.
// See the README, or run `election help`.
package main

import (
	"os"

	"github.com/election/election/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
