package tally_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/election/election/internal/ballot"
	"github.com/election/election/internal/election"
	"github.com/election/election/internal/metrics"
	"github.com/election/election/internal/stream"
	"github.com/election/election/internal/tally"
	"github.com/election/election/internal/testenv"
)

// The attack the outside audit ran: records written to votes_topic by a client that can reach the broker
// but does not hold the ledger. Forged records (one with a huge ledger position, which used to freeze
// counting for good), a record signed with another key, an authentic record replayed into another
// partition, and an authentic record that makes no sense (a relay bug) are all skipped and counted as
// rejected; every real ballot before and after them is counted exactly once.
func TestTallyCountsOnlyTheRelaysBallots(t *testing.T) {
	t.Parallel()
	testenv.EachBroker(t, func(t *testing.T, brokers []string) {
		ctx := testenv.Context(t)
		e, _ := election.Preset("national")
		ix := election.NewIndex(e)
		const parts = 4
		sc := stream.Config{Brokers: brokers, Prefix: testenv.Namespace(), Partitions: parts, Logger: testenv.Logger(t)}
		testenv.Must(t, stream.EnsureTopics(ctx, sc), "topics")
		key := stream.NewRecordKey([]byte("the election's key"))
		votes := sc.Topics().Votes

		// Two constituencies that map to different partitions.
		a := ix.Constituencies[0]
		var b election.Constituency
		for _, c := range ix.Constituencies {
			if stream.PartitionFor(c.ID, parts) != stream.PartitionFor(a.ID, parts) {
				b = c
				break
			}
		}
		seq := int64(0)
		real := func(c election.Constituency) *kgo.Record {
			seq++
			cand := ix.Ballot[c.ID][0]
			v := stream.VoteRecordOf(ix, ballot.Ballot{ID: fmt.Sprintf("b%d", seq), Candidate: cand.ID, Constituency: c.ID, State: c.State, CastMinute: "2026-11-25 10:00:00"}, "")
			return votes.Ballot(&v, ballot.Position{Seq: seq}, parts, key)
		}
		var recs []*kgo.Record
		for range 5 {
			recs = append(recs, real(a), real(b))
		}
		// A forged record with a huge position and no authentication code.
		forged := stream.VoteRecordOf(ix, ballot.Ballot{ID: "forged", Candidate: ix.Ballot[a.ID][1].ID, Constituency: a.ID, State: a.State}, "")
		huge := votes.Record(&forged, parts)
		huge.Headers = []kgo.RecordHeader{{Key: stream.PositionHeader, Value: []byte("0:999999999999")}}
		// The same, signed with a key that is not the election's.
		otherKey := votes.Ballot(&forged, ballot.Position{Seq: 999999999999}, parts, stream.NewRecordKey([]byte("a guess")))
		// An authentic record replayed into a partition its constituency does not map to.
		replayed := real(a)
		replayed.Partition = stream.PartitionFor(b.ID, parts)
		// An authentic record whose candidate stands elsewhere (what only a broken relay could write).
		elsewhere := stream.VoteRecordOf(ix, ballot.Ballot{ID: "bug", Candidate: ix.Ballot[b.ID][0].ID, Constituency: a.ID, State: a.State}, "")
		seq++
		bug := votes.Ballot(&elsewhere, ballot.Position{Seq: seq}, parts, key)
		garbage := &kgo.Record{Topic: votes.Name, Partition: stream.PartitionFor(a.ID, parts), Value: []byte("not json")}
		recs = append(recs, huge, otherKey, replayed, bug, garbage)
		for range 5 {
			recs = append(recs, real(a), real(b))
		}

		cl, err := kgo.NewClient(sc.ClientOpts(kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
		testenv.Must(t, err, "client")
		defer cl.Close()
		for _, r := range recs { // one at a time, so offsets follow the order above
			testenv.Must(t, cl.ProduceSync(ctx, r).FirstErr(), "produce")
		}

		m := metrics.New()
		tl, err := tally.New(tally.Config{Index: ix, Stream: sc, Metrics: m, Logger: testenv.Logger(t), Instance: "t", RecordKey: key})
		testenv.Must(t, err, "tally")
		testenv.Must(t, tl.Start(ctx), "start")
		defer tl.Stop()

		pa, pb := stream.PartitionFor(a.ID, parts), stream.PartitionFor(b.ID, parts)
		want := map[int32][2]int64{pa: {10, 4}, pb: {10, 1}} // partition -> ballots counted, records rejected
		for p, w := range want {
			c := waitCounted(t, sc, p, w[0]+w[1])
			if c.Ballots != w[0] || c.Rejected != w[1] {
				t.Fatalf("partition %d: %d ballots counted and %d rejected, want %d and %d", p, c.Ballots, c.Rejected, w[0], w[1])
			}
		}
		ca, cb := waitCounted(t, sc, pa, 14), waitCounted(t, sc, pb, 11)
		if len(ca.Candidates) != 1 || ca.Candidates[ix.Ballot[a.ID][0].ID] != 10 || len(cb.Candidates) != 1 || cb.Candidates[ix.Ballot[b.ID][0].ID] != 10 {
			t.Fatalf("counted %v in %s's partition and %v in %s's; want each constituency's first candidate 10 times", ca.Candidates, a.ID, cb.Candidates, b.ID)
		}
		for reason, n := range map[string]float64{"unauthenticated": 3, "wrong_partition": 1, "not_on_ballot": 1} {
			if got := metrics.Value(m.RecordsRejected.WithLabelValues(reason)); got != n {
				t.Errorf("rejected %s: metric %v, want %v", reason, got, n)
			}
		}
	})
}

// waitCounted polls the committed count of partition p until it has seen n records.
func waitCounted(t *testing.T, sc stream.Config, p int32, n int64) tally.Count {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := tally.Restore(context.Background(), sc, p)
		testenv.Must(t, err, "restore partition %d", p)
		if c.Ballots+c.Rejected >= n || time.Now().After(deadline) {
			return c
		}
		time.Sleep(20 * time.Millisecond) // the polling interval
	}
}
