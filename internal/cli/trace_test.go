package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/election/election/internal/cli"
)

// ELECTION_TRACE writes a runtime execution trace that `go tool trace` reads: the file begins with the
// trace format's header ("go 1.N trace"). The command here ends long before the trace's five seconds,
// so the trace must stop when the command does: a second command traced in the same process could not
// start its own otherwise (the runtime traces one at a time) and would say so.
func TestExecutionTraceIsWritten(t *testing.T) {
	for i := range 2 {
		path := filepath.Join(t.TempDir(), "up.trace")
		t.Setenv("ELECTION_TRACE", path)
		var out, errs bytes.Buffer
		if code := cli.Main([]string{"audit", "--data", filepath.Join(t.TempDir(), "none")}, &out, &errs); code == 0 {
			t.Fatalf("audit of a missing data directory succeeded")
		}
		if strings.Contains(errs.String(), "execution trace") {
			t.Fatalf("command %d: %s", i+1, errs.String())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("command %d wrote no trace: %v (stderr: %s)", i+1, err, errs.String())
		}
		if head := b[:min(len(b), 16)]; !bytes.HasPrefix(head, []byte("go 1.")) || !bytes.Contains(head, []byte(" trace")) {
			t.Fatalf("command %d: the file is not an execution trace: begins %q", i+1, head)
		}
	}
}

// A trace set to begin after the command has ended is never started: no file, no error.
func TestExecutionTraceNotYetBegunWritesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "up.trace")
	t.Setenv("ELECTION_TRACE", path)
	t.Setenv("ELECTION_TRACE_AFTER", "1h")
	var out, errs bytes.Buffer
	cli.Main([]string{"audit", "--data", filepath.Join(t.TempDir(), "none")}, &out, &errs)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a trace due in an hour was written (stat: %v)", err)
	}
	if strings.Contains(errs.String(), "execution trace") {
		t.Fatalf("error about a trace that never began: %s", errs.String())
	}
}

// A delay that is not a duration is refused before the command runs, naming the variable and the value.
func TestExecutionTraceBadDelay(t *testing.T) {
	for _, v := range []string{"90", "-5s", "soon"} {
		t.Setenv("ELECTION_TRACE", filepath.Join(t.TempDir(), "up.trace"))
		t.Setenv("ELECTION_TRACE_AFTER", v)
		var out, errs bytes.Buffer
		if code := cli.Main([]string{"audit", "--data", filepath.Join(t.TempDir(), "none")}, &out, &errs); code != 1 {
			t.Errorf("ELECTION_TRACE_AFTER=%q: exit %d, want 1", v, code)
		}
		if want := `ELECTION_TRACE_AFTER="` + v + `"`; !strings.Contains(errs.String(), want) {
			t.Errorf("ELECTION_TRACE_AFTER=%q: stderr %q does not name it (%s)", v, errs.String(), want)
		}
	}
}
