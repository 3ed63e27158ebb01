package cli

import (
	"fmt"
	"io"
	"os"
	"runtime/trace"
	"time"
)

// traceFor is how long ELECTION_TRACE records. A busy pipeline writes about 3 MB of trace a second, so a
// whole 100M run would be gigabytes; a few seconds show what every goroutine did, which a CPU profile
// cannot: time spent waiting for a processor, in system calls, or blocked. That is how the single
// ledger writer's time at 100M voters was taken apart (docs/measured.md, "The writer at 100M once more").
const traceFor = 5 * time.Second

// executionTrace writes a runtime execution trace of traceFor to path, starting after the given delay
// (ELECTION_TRACE, ELECTION_TRACE_AFTER), for `go tool trace FILE`. A command that ends first stops the
// trace at its end. Errors are reported, never fatal: a trace is for looking, not for running.
func executionTrace(path string, after time.Duration, stderr io.Writer) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	var f *os.File
	if after == 0 {
		// Started here rather than on the goroutine below, so that even a command that ends at once is
		// traced from its start.
		f = startTrace(path, stderr)
	}
	go func() {
		defer close(finished)
		if after > 0 {
			select {
			case <-time.After(after):
			case <-done:
				return
			}
			f = startTrace(path, stderr)
		}
		if f == nil {
			return
		}
		select {
		case <-time.After(traceFor):
		case <-done:
		}
		trace.Stop()
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "election: execution trace: %v\n", err)
		}
	}()
	return func() { close(done); <-finished }
}

// startTrace creates path and starts the runtime's tracer writing to it; nil, said on stderr, if either
// fails.
func startTrace(path string, stderr io.Writer) *os.File {
	f, err := os.Create(path)
	if err == nil {
		if err = trace.Start(f); err != nil {
			f.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "election: execution trace: %v\n", err)
		return nil
	}
	return f
}

// traceAfter reads ELECTION_TRACE_AFTER: how long after the start the trace begins (default: at once).
func traceAfter(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("ELECTION_TRACE_AFTER=%q: want a duration such as 90s or 5m", v)
	}
	return d, nil
}
