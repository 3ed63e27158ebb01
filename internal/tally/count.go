// Package tally counts the ballots on the votes topic, exactly once, the way the tutorial's Spark job
// aggregated them.
//
// Each partition of the votes topic has its own running count (a stream.Snapshot). A tally process owns
// some partitions through a consumer group; for each batch it polls, it opens one Kafka transaction that
// holds (a) the new snapshot of every partition the batch touched, written to the same partition of the
// state topic, (b) the new totals of the candidates whose counts changed, on the seed's
// aggregated_votes_per_candidate topic, and (c) the consumer offsets of the batch. Either all three commit
// or none does (franz-go's GroupTransactSession; it aborts when the group rebalanced mid-batch).
//
// So the last committed snapshot of a partition always describes exactly the ballots before the offset it
// records. A process that is given a partition (after a restart or a rebalance) restores its count from that
// snapshot and goes on from the offset that snapshot records (stream.LastCommitted finds the last
// committed snapshot; the consumer is moved to it by AdjustFetchOffsetsFn). The snapshot, not the group's
// committed offset, is the truth: the two are committed together, but the embedded broker, killed in the
// middle of writing a commit's markers, may keep one and drop the other. Either way the snapshot is a
// consistent point to count on from, so nothing is counted twice or missed. Candidates are keyed
// by constituency and a constituency's ballots stay in one partition, so a candidate's total is complete in
// one partition's count; totals across partitions (parties, states, the nation) are summed by the results
// package from the snapshots.
//
// What it must never do: change its in-memory count outside a committed transaction.
package tally

import (
	"maps"

	"github.com/election/election/internal/ballot"
	"github.com/election/election/internal/stream"
)

// Count is one partition's running count. It wraps the snapshot that is written to the state topic.
type Count struct{ *stream.Snapshot }

// NewCount is an empty count for partition p.
func NewCount(p int32) Count { return Count{stream.NewSnapshot(p)} }

// Clone returns an independent copy, for a transaction's working state.
func (c Count) Clone() Count {
	s := *c.Snapshot
	s.Candidates = maps.Clone(c.Candidates)
	s.States = maps.Clone(c.States)
	s.Minutes = maps.Clone(c.Minutes)
	return Count{&s}
}

// Apply counts one ballot record at offset with ledger position pos. It reports false, changing nothing
// but the offset, for a ballot already counted: one before the count's next offset (a record read again
// after a rewind), or at or below the last position counted (the same ballot sent twice).
func (c Count) Apply(offset int64, pos ballot.Position, v *stream.VoteRecord) bool {
	if offset < c.NextOffset {
		return false
	}
	c.NextOffset = offset + 1
	if !(ballot.Position{Tx: c.LastTx, Seq: c.LastSeq}).Before(pos) {
		return false
	}
	c.LastTx, c.LastSeq = pos.Tx, pos.Seq
	c.Ballots++
	c.Candidates[v.CandidateID]++
	c.States[v.Address.State]++
	minute := v.VotingTime
	if len(minute) >= 16 {
		minute = minute[:16] // "YYYY-MM-DD HH:MM"
	}
	c.Minutes[minute]++
	return true
}
