package cli

import (
	"os"
	"runtime/debug"
)

// tuneGC sets the garbage collector for a process that runs the pipeline, where the user has not chosen
// (GOGC, GOMEMLIMIT in the environment win). Every batch of ballots allocates requests, statements, records
// and deltas that die young, so with Go's default GOGC=100 the collector ran often and took about 7% of
// the CPU that the single ledger writer needs: GOGC=400 measured 56.5–57.6k ballots/s embedded against
// 50.7–53.7k at 100 (BenchmarkPipeline, two runs each). The soft limit of 2 GiB makes the collector work
// harder instead of letting a large heap grow five-fold.
//
// `election verify` and `election audit` are different: they read a whole board and keep a set of its
// tracking codes, a large heap without pointers that costs the collector little to mark, and they do not
// race a ledger writer. They run at GOGC=25: against 400, on a board of 7M entries, verify took 150 MB
// rather than 441 MB and audit 229 MB rather than 782 MB, in about the same time (docs/measured.md).
func tuneGC(cmd string) {
	if os.Getenv("GOGC") == "" {
		if cmd == "verify" || cmd == "audit" {
			debug.SetGCPercent(25)
		} else {
			debug.SetGCPercent(400)
		}
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(2 << 30)
	}
}

// TuneGC is tuneGC for benchmarks that run the pipeline as the command does.
func TuneGC() { tuneGC("up") }
