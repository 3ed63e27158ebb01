package cli_test

import (
	"bytes"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/election/election/internal/cli"
	"github.com/election/election/internal/testenv"
)

// Two tally processes and two casting processes share one election on real Kafka and PostgreSQL; one
// tally is killed with SIGKILL mid-run. The survivor takes over its partitions and the audit agrees.
func TestScaleOutWithAKilledTally(t *testing.T) {
	if testing.Short() {
		t.Skip("scale-out test skipped in -short mode")
	}
	if !testenv.HasPostgres(t) || testenv.KafkaBrokers(t) == "" {
		t.Skip(`scale-out test needs real PostgreSQL and Kafka: ELECTION_TEST_POSTGRES and ELECTION_TEST_KAFKA are not set (eval "$(scripts/services.sh)" sets them)`)
	}
	t.Parallel()
	conn := []string{"--postgres", testenv.PostgresURL(t), "--kafka", testenv.KafkaBrokers(t), "--topic-prefix", testenv.Namespace(), "--partitions", "4"}
	var out, errs bytes.Buffer
	if code := cli.Main(append([]string{"register", "--preset", "national", "--voters", "20000"}, conn...), &out, &errs); code != 0 {
		t.Fatalf("register: %s", errs.String())
	}
	var logs bytes.Buffer
	relay := child(t, &logs, append([]string{"relay"}, conn...)...)
	tallyA := child(t, &logs, append([]string{"tally", "--instance", "a"}, conn...)...)
	tallyB := child(t, &logs, append([]string{"tally", "--instance", "b"}, conn...)...)
	sim := func() []string {
		return append([]string{"simulate", "--rate", "2500", "--turnout", "0.9", "--workers", "64", "--exit-when-done"}, conn...)
	}
	simA, simB := child(t, &logs, sim()...), child(t, &logs, sim()...)
	defer func() {
		relay.Process.Kill()
		tallyB.Process.Kill()
		relay.Wait()
		tallyB.Wait()
	}()
	// The sleep is the point: tally a dies while ballots are flowing.
	time.Sleep(3 * time.Second)
	tallyA.Process.Signal(syscall.SIGKILL)
	tallyA.Wait()
	finish(t, simA, "simulator a", &logs)
	finish(t, simB, "simulator b", &logs)
	out.Reset()
	errs.Reset()
	if code := cli.Main(append([]string{"close"}, conn...), &out, &errs); code != 0 {
		t.Fatalf("close: %s", errs.String())
	}
	out.Reset()
	code := cli.Main(append([]string{"audit", "--wait", "60s"}, conn...), &out, &errs)
	if code != 0 || !strings.Contains(out.String(), "discrepancy 0") {
		t.Fatalf("audit exit %d:\n%s\n%s\n%s", code, out.String(), errs.String(), tail(logs.String(), 80))
	}
	if !strings.Contains(out.String(), "ballots tallied") || strings.Contains(out.String(), "ledger: 0 ballots") {
		t.Fatalf("audit output: %s", out.String())
	}
	t.Log(out.String())
}
