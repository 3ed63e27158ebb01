package cli_test

import (
	"bytes"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/election/election/internal/testenv"
)

// BenchmarkRegisterNational registers national voters (ELECTION_BENCH_REGISTER_VOTERS, default 10
// million) with `election register` in a child process on SQLite and the embedded broker (voters are
// also published to voters_topic), and reports the time taken and the child's peak resident memory. Then it
// starts `election register` once more on the same data directory, which only reloads the ledger and the
// embedded broker's data (every voter is registered already), and reports that process's peak memory too.
func BenchmarkRegisterNational(b *testing.B) {
	n := testenv.IntEnv(b, "ELECTION_BENCH_REGISTER_VOTERS", 10_000_000)
	var logs bytes.Buffer
	start := time.Now()
	data := b.TempDir()
	cmd := child(b, &logs, "register", "--preset", "national", "--voters", strconv.FormatInt(n, 10),
		"--data", data, "--kafka-listen", freePort(b))
	if err := cmd.Wait(); err != nil {
		b.Fatalf("register: %v\n%s", err, tail(logs.String(), 20))
	}
	took := time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	b.ReportMetric(float64(n), "voters")
	b.ReportMetric(took.Seconds(), "seconds")
	b.ReportMetric(float64(n)/took.Seconds(), "voters/s")
	b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")

	again := child(b, &logs, "register", "--data", data, "--kafka-listen", freePort(b))
	if err := again.Wait(); err != nil {
		b.Fatalf("register again: %v\n%s", err, tail(logs.String(), 20))
	}
	b.ReportMetric(float64(again.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)/1024, "restart-peak-RSS-MiB")
}
