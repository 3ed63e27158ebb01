package audit_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/election/election/internal/audit"
	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/stream"
	"github.com/election/election/internal/testenv"
)

// memLedger reports fixed totals.
type memLedger struct{ t ledger.Totals }

func (m memLedger) Totals(context.Context) (ledger.Totals, error) { return m.t, nil }
func (m memLedger) PollsClosed(context.Context) (bool, error)     { return false, nil }

// kafkaWith writes the tally's side: one snapshot per partition and the per-candidate totals.
func kafkaWith(t *testing.T, brokers []string, snaps []*stream.Snapshot, totals map[string]int64) stream.Config {
	sc := stream.Config{Brokers: brokers, Prefix: testenv.Namespace(), Partitions: 2, Logger: testenv.Logger(t)}
	ctx := testenv.Context(t)
	testenv.Must(t, stream.EnsureTopics(ctx, sc), "topics")
	cl, err := kgo.NewClient(sc.ClientOpts(kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	testenv.Must(t, err, "client")
	defer cl.Close()
	topics := sc.Topics()
	var recs []*kgo.Record
	for _, s := range snaps {
		recs = append(recs, topics.TallyState.Record(s, 2))
	}
	for id, n := range totals {
		recs = append(recs, topics.PerCandidate.Record(&stream.CandidateTotal{CandidateID: id, TotalVotes: n}, 1))
	}
	testenv.Must(t, cl.ProduceSync(ctx, recs...).FirstErr(), "produce")
	return sc
}

func seedIndex(t *testing.T) *election.Index {
	e, err := election.Preset("seed")
	testenv.Must(t, err, "preset")
	return election.NewIndex(e)
}

func snapshot(p int32, cands map[string]int64, state string) *stream.Snapshot {
	s := stream.NewSnapshot(p)
	for id, n := range cands {
		s.Candidates[id] = n
		s.Ballots += n
		s.States[state] += n
	}
	return s
}

func TestAuditAgreesWhenEverythingAgrees(t *testing.T) {
	t.Parallel()
	testenv.EachBroker(t, func(t *testing.T, brokers []string) {
		sc := kafkaWith(t, brokers, []*stream.Snapshot{snapshot(0, map[string]int64{"cand-1": 2}, "N"), snapshot(1, map[string]int64{"cand-2": 1}, "S")},
			map[string]int64{"cand-1": 2, "cand-2": 1})
		l := memLedger{ledger.Totals{Ballots: 3, VotersVoted: 3, PerCandidate: map[string]int64{"cand-1": 2, "cand-2": 1},
			PerState: map[string]int64{"N": 2, "S": 1}, VotedByState: map[string]int64{"N": 2, "S": 1}}}
		var out bytes.Buffer
		rep, err := audit.Run(testenv.Context(t), audit.Config{Store: l, Index: seedIndex(t), Stream: sc, Wait: 20 * time.Second, Out: &out})
		testenv.Must(t, err, "audit")
		if rep.Discrepancy() != 0 || !strings.HasSuffix(out.String(), "discrepancy 0\n") || rep.Tallied != 3 {
			t.Fatalf("audit:\n%s", out.String())
		}
	})
}

// Each kind of disagreement is reported, and counted in the discrepancy.
func TestAuditReportsEachDifference(t *testing.T) {
	t.Parallel()
	testenv.EachBroker(t, func(t *testing.T, brokers []string) {
		// Kafka counted cand-1 once too often; the per-candidate topic missed cand-2; the ledger marked
		// one voter more than it holds ballots.
		sc := kafkaWith(t, brokers, []*stream.Snapshot{snapshot(0, map[string]int64{"cand-1": 3, "cand-2": 1}, "N")},
			map[string]int64{"cand-1": 3})
		l := memLedger{ledger.Totals{Ballots: 3, VotersVoted: 4, PerCandidate: map[string]int64{"cand-1": 2, "cand-2": 1},
			PerState: map[string]int64{"N": 3}, VotedByState: map[string]int64{"N": 4}}}
		var out bytes.Buffer
		rep, err := audit.Run(testenv.Context(t), audit.Config{Store: l, Index: seedIndex(t), Stream: sc, Wait: time.Second, Out: &out})
		testenv.Must(t, err, "audit")
		text := out.String()
		for _, want := range []string{
			"difference: ballots tallied: ledger 3, kafka 4",
			"difference: candidate cand-1 (tally): ledger 2, kafka 3",
			"difference: candidate cand-2 (aggregated_votes_per_candidate): ledger 1, kafka 0",
			"difference: voters marked as voted vs ballots (both ledger): ledger 4, kafka 3",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("audit lacks %q:\n%s", want, text)
			}
		}
		if rep.Discrepancy() == 0 || strings.Contains(text, "discrepancy 0") {
			t.Fatalf("audit found no discrepancy:\n%s", text)
		}
	})
}

// Records the tally skipped as not ballots of ours make the audit fail, though every count agrees.
func TestAuditReportsForeignRecords(t *testing.T) {
	t.Parallel()
	testenv.EachBroker(t, func(t *testing.T, brokers []string) {
		s := snapshot(0, map[string]int64{"cand-1": 1}, "N")
		s.Rejected = 2
		sc := kafkaWith(t, brokers, []*stream.Snapshot{s}, map[string]int64{"cand-1": 1})
		l := memLedger{ledger.Totals{Ballots: 1, VotersVoted: 1, PerCandidate: map[string]int64{"cand-1": 1},
			PerState: map[string]int64{"N": 1}, VotedByState: map[string]int64{"N": 1}}}
		var out bytes.Buffer
		rep, err := audit.Run(testenv.Context(t), audit.Config{Store: l, Index: seedIndex(t), Stream: sc, Wait: 20 * time.Second, Out: &out})
		testenv.Must(t, err, "audit")
		if rep.Discrepancy() != 0 || rep.Foreign != 2 || rep.OK() || !strings.Contains(out.String(), "votes_topic holds 2 records that are not ballots") {
			t.Fatalf("audit (foreign %d, ok %v):\n%s", rep.Foreign, rep.OK(), out.String())
		}
	})
}

// A tally that has not caught up (the pipeline stopped mid-run) is reported as behind in one line, not as
// a discrepancy with a line per candidate and state; the audit still fails.
func TestAuditSaysWhenTheTallyIsBehind(t *testing.T) {
	t.Parallel()
	testenv.EachBroker(t, func(t *testing.T, brokers []string) {
		sc := kafkaWith(t, brokers, []*stream.Snapshot{snapshot(0, map[string]int64{"cand-1": 1}, "N")}, map[string]int64{"cand-1": 1})
		l := memLedger{ledger.Totals{Ballots: 3, VotersVoted: 3, PerCandidate: map[string]int64{"cand-1": 2, "cand-2": 1},
			PerState: map[string]int64{"N": 2, "S": 1}, VotedByState: map[string]int64{"N": 2, "S": 1}}}
		var out bytes.Buffer
		rep, err := audit.Run(testenv.Context(t), audit.Config{Store: l, Index: seedIndex(t), Stream: sc, Wait: time.Second, Out: &out})
		testenv.Must(t, err, "audit")
		text := out.String()
		if rep.Discrepancy() != 0 || rep.Behind() != 2 || rep.OK() || strings.Contains(text, "difference:") ||
			!strings.Contains(text, "behind: 2 ballots committed to the ledger are not yet relayed and tallied; the count did not move") ||
			!strings.HasSuffix(text, "discrepancy 0\n") {
			t.Fatalf("audit (behind %d, discrepancy %d):\n%s", rep.Behind(), rep.Discrepancy(), text)
		}
	})
}

// The tally writes a partition's whole state at every commit, so the state topic holds many snapshots
// and only the last counts. An audit whose wait is over before it has read them (at 10M voters reading
// took longer than the wait) must not call a complete tally behind: it reports once it has read the
// topic as far as it was committed when the audit began.
func TestAuditReadsTheWholeStateBeforeCallingTheTallyBehind(t *testing.T) {
	t.Parallel()
	testenv.EachBroker(t, func(t *testing.T, brokers []string) {
		const superseded = 20_000
		snaps := make([]*stream.Snapshot, 0, superseded+2)
		for i := range superseded {
			snaps = append(snaps, snapshot(0, map[string]int64{"cand-1": int64(i % 2)}, "N"))
		}
		snaps = append(snaps, snapshot(0, map[string]int64{"cand-1": 2}, "N"), snapshot(1, map[string]int64{"cand-2": 1}, "S"))
		sc := kafkaWith(t, brokers, snaps, map[string]int64{"cand-1": 2, "cand-2": 1})
		l := memLedger{ledger.Totals{Ballots: 3, VotersVoted: 3, PerCandidate: map[string]int64{"cand-1": 2, "cand-2": 1},
			PerState: map[string]int64{"N": 2, "S": 1}, VotedByState: map[string]int64{"N": 2, "S": 1}}}
		var out bytes.Buffer
		rep, err := audit.Run(testenv.Context(t), audit.Config{Store: l, Index: seedIndex(t), Stream: sc, Wait: 0, Out: &out})
		testenv.Must(t, err, "audit")
		if !rep.OK() || rep.Tallied != 3 || !strings.HasSuffix(out.String(), "discrepancy 0\n") {
			t.Fatalf("audit (tallied %d, behind %d):\n%s", rep.Tallied, rep.Behind(), out.String())
		}
	})
}

// aggregated_votes_per_candidate holds a record for each candidate at every publication, and only the
// largest counts: an audit whose wait is over must read it to the end it had when the audit began
// before it compares, as it does the state topic. At 10M voters on a slow machine it had read the state
// and not the totals, and reported a complete election with a discrepancy of 1.6 million.
func TestAuditReadsThePublishedTotalsToTheirEnd(t *testing.T) {
	t.Parallel()
	testenv.EachBroker(t, func(t *testing.T, brokers []string) {
		snaps := []*stream.Snapshot{snapshot(0, map[string]int64{"cand-1": 2}, "N"), snapshot(1, map[string]int64{"cand-2": 1}, "S")}
		sc := kafkaWith(t, brokers, snaps, nil)
		cl, err := kgo.NewClient(sc.ClientOpts(kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
		testenv.Must(t, err, "client")
		defer cl.Close()
		const publications = 50_000
		recs := make([]*kgo.Record, 0, publications+2)
		for i := range publications { // the counts as they grew: zeros, then the final totals last
			recs = append(recs, sc.Topics().PerCandidate.Record(&stream.CandidateTotal{CandidateID: fmt.Sprintf("cand-%d", 1+i%2)}, 1))
		}
		recs = append(recs, sc.Topics().PerCandidate.Record(&stream.CandidateTotal{CandidateID: "cand-1", TotalVotes: 2}, 1),
			sc.Topics().PerCandidate.Record(&stream.CandidateTotal{CandidateID: "cand-2", TotalVotes: 1}, 1))
		testenv.Must(t, cl.ProduceSync(testenv.Context(t), recs...).FirstErr(), "produce")
		l := memLedger{ledger.Totals{Ballots: 3, VotersVoted: 3, PerCandidate: map[string]int64{"cand-1": 2, "cand-2": 1},
			PerState: map[string]int64{"N": 2, "S": 1}, VotedByState: map[string]int64{"N": 2, "S": 1}}}
		var out bytes.Buffer
		rep, err := audit.Run(testenv.Context(t), audit.Config{Store: l, Index: seedIndex(t), Stream: sc, Wait: 0, Stalled: time.Hour, Out: &out})
		testenv.Must(t, err, "audit")
		if !rep.OK() || !strings.HasSuffix(out.String(), "discrepancy 0\n") {
			t.Fatalf("audit:\n%s", out.String())
		}
	})
}

// The same with the state written as the tally writes it, in transactions: the follower counts their
// markers as read, so a tally that is behind is reported as soon as the topic is read, not after the
// follower has read nothing for a while (here an hour: were the markers not counted, the test would hang).
func TestAuditReadsATransactionalStateToItsEnd(t *testing.T) {
	t.Parallel()
	testenv.EachBroker(t, func(t *testing.T, brokers []string) {
		ctx := testenv.Context(t)
		sc := stream.Config{Brokers: brokers, Prefix: testenv.Namespace(), Partitions: 2, Logger: testenv.Logger(t)}
		testenv.Must(t, stream.EnsureTopics(ctx, sc), "topics")
		cl, err := kgo.NewClient(sc.ClientOpts(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionalID(testenv.Namespace()+"-tally"))...)
		testenv.Must(t, err, "client")
		defer cl.Close()
		topics := sc.Topics()
		for i := range 3 { // three commits, as three tally transactions
			testenv.Must(t, cl.BeginTransaction(), "begin")
			testenv.Must(t, cl.ProduceSync(ctx, topics.TallyState.Record(snapshot(0, map[string]int64{"cand-1": int64(i)}, "N"), 2)).FirstErr(), "produce")
			testenv.Must(t, cl.EndTransaction(ctx, kgo.TryCommit), "commit")
		}
		l := memLedger{ledger.Totals{Ballots: 3, VotersVoted: 3, PerCandidate: map[string]int64{"cand-1": 3},
			PerState: map[string]int64{"N": 3}, VotedByState: map[string]int64{"N": 3}}}
		var out bytes.Buffer
		rep, err := audit.Run(ctx, audit.Config{Store: l, Index: seedIndex(t), Stream: sc, Wait: 0, Stalled: time.Hour, Out: &out})
		testenv.Must(t, err, "audit")
		if rep.Tallied != 2 || rep.Behind() != 1 || !strings.Contains(out.String(), "behind: 1 ballots committed") {
			t.Fatalf("audit (tallied %d, behind %d):\n%s", rep.Tallied, rep.Behind(), out.String())
		}
	})
}
