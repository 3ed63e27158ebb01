// Package tally counts the ballots on the votes topic, exactly once, the way the tutorial's Spark job
// aggregated them.
//
// Each partition of the votes topic has its own running count (a stream.Snapshot). A tally process owns
// some partitions through a consumer group; for each batch it polls, it opens one Kafka transaction that
// holds (a) the new snapshot of every partition the batch touched, written to the same partition of the
// state topic, and (b) the consumer offsets of the batch. Both commit or neither does (franz-go's
// GroupTransactSession; it aborts when the group rebalanced mid-batch). The public aggregate topics,
// the tutorial's aggregated_votes_per_candidate among them, are published from the committed snapshots
// by the results package, outside any transaction.
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
// Only ballots the relay wrote are counted. votes_topic is writable by anything that reaches the broker
// (the embedded broker has no authentication; a real cluster may have clients with write access that
// should not count), so every record must carry an HMAC-SHA256 over its ledger position, key and value,
// made with the election's record key (stream.RecordKey), which only roles holding the ledger have. A
// record that fails it, or that is authentic but makes no sense (a candidate not standing in the record's
// constituency, a partition the constituency does not map to, a state the constituency does not vote in),
// is skipped: its offset is passed, it is counted as rejected in the partition's snapshot (so the audit
// reports it, exactly once), and it is logged and counted in a metric. It never reaches the position
// guard below, so a forged position can neither add a vote nor hold counting back. An authentic record
// replayed into its own partition carries an old position and is a duplicate like any other. At scale,
// Kafka ACLs with authenticated principals (README, "Securing Kafka") keep such records off the topic in
// the first place; the authentication code is what holds without them.
//
// What it must never do: change its in-memory count outside a committed transaction, or count a record it
// has not verified.
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

// Reject records that the record at offset is not a ballot and is not counted. It reports false for a
// record before the count's next offset (already seen).
func (c Count) Reject(offset int64) bool {
	if offset < c.NextOffset {
		return false
	}
	c.NextOffset = offset + 1
	c.Rejected++
	return true
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
