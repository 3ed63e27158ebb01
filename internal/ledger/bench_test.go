package ledger_test

import (
	"database/sql"
	"encoding/binary"
	"testing"
	"time"

	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/testenv"
)

// BenchmarkRawInsert is the database's own limit for the cast path's biggest write: ballot rows inserted
// in batches of 2,000 per transaction, with nothing else in the transaction.
func BenchmarkRawInsert(b *testing.B) {
	for _, db := range testenv.Databases(b) {
		b.Run(db.Name, func(b *testing.B) {
			s, err := ledger.Open(testenv.Context(b), ledger.Config{SQLitePath: db.SQLitePath, PostgresURL: db.PostgresURL, Logger: testenv.Logger(b)})
			testenv.Must(b, err, "open")
			defer s.Close()
			seeded(b, s, 1)
			const rows, batch = 200_000, 2000
			// The same statement text the cast path builds for its ballot inserts.
			query := s.InsertBallotsQueryForTest(batch)
			start := time.Now()
			for i := 0; i < rows; i += batch {
				err := s.ExecTxForTest(testenv.Context(b), func(tx *sql.Tx) error {
					args := make([]any, 0, batch*5)
					for k := range batch {
						id := make([]byte, 16)
						binary.BigEndian.PutUint64(id[8:], uint64(i+k))
						args = append(args, id, "cand-1", "nation", "N", int64(29_400_000))
					}
					_, err := tx.Exec(query, args...)
					return err
				})
				testenv.Must(b, err, "insert")
			}
			b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
		})
	}
}

// BenchmarkCastBatch is the cast path itself: mark the voters, insert the ballots, 2,000 per transaction,
// voters in a scattered order. ELECTION_BENCH_VOTERS sets the number of voters (200,000), all of whom vote;
// the cost per ballot as it grows is what the voted set's layout decides. ELECTION_BENCH_BATCH sets the
// ballots a transaction (2,000; `election up` with its 256 simulator workers commits about 256, so each
// transaction's fixed cost weighs more there). Besides the rate it reports the process's CPU time a
// ballot (cpu-µs/ballot), steadier than the rate on a machine shared with others.
func BenchmarkCastBatch(b *testing.B) {
	for _, db := range testenv.Databases(b) {
		b.Run(db.Name, func(b *testing.B) {
			ctx := testenv.Context(b)
			s, err := ledger.Open(ctx, ledger.Config{SQLitePath: db.SQLitePath, PostgresURL: db.PostgresURL, Logger: testenv.Logger(b)})
			testenv.Must(b, err, "open")
			defer s.Close()
			voters := testenv.IntEnv(b, "ELECTION_BENCH_VOTERS", 200_000)
			batch := testenv.IntEnv(b, "ELECTION_BENCH_BATCH", 2000)
			ix, g := seeded(b, s, voters)
			start, startCPU := time.Now(), testenv.CPUTime()
			// Voters in a scattered order, as they turn up at polling stations: each update lands on a
			// different page of the voters table (casting in registration order would be far kinder).
			const step = 7919 // prime, so i*step mod voters visits every voter once
			for lo := int64(0); lo < voters; lo += batch {
				reqs := make([]ledger.CastRequest, 0, batch)
				for k := lo; k < min(lo+batch, voters); k++ {
					i := k * step % voters
					v := g.Voter(i)
					reqs = append(reqs, ledger.CastRequest{VoterID: v.ID, Credential: g.Credential(v.ID), CandidateID: g.Choice(i, v.Constituency)})
				}
				_, _, err := s.CastBatch(ctx, ix, reqs, time.Now())
				testenv.Must(b, err, "cast")
			}
			b.ReportMetric(float64(voters)/time.Since(start).Seconds(), "ballots/s")
			b.ReportMetric(float64((testenv.CPUTime()-startCPU).Microseconds())/float64(voters), "cpu-µs/ballot")
		})
	}
}
