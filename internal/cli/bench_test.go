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
// also published to voters_topic), and reports the time taken and the child's peak resident memory.
func BenchmarkRegisterNational(b *testing.B) {
	n := testenv.IntEnv(b, "ELECTION_BENCH_REGISTER_VOTERS", 10_000_000)
	var logs bytes.Buffer
	start := time.Now()
	cmd := child(b, &logs, "register", "--preset", "national", "--voters", strconv.FormatInt(n, 10),
		"--data", b.TempDir(), "--kafka-listen", freePort(b))
	if err := cmd.Wait(); err != nil {
		b.Fatalf("register: %v\n%s", err, tail(logs.String(), 20))
	}
	took := time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	b.ReportMetric(float64(n), "voters")
	b.ReportMetric(took.Seconds(), "seconds")
	b.ReportMetric(float64(n)/took.Seconds(), "voters/s")
	b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
}
