package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"math/bits"
	"slices"
)

// Who has voted is kept in the layout that suits each database's writers; the rest of the cast path is
// the same on both.
//
// SQLite (one writer): a bitmap, voted_blocks, with one bit per voter at the number the voter got at
// registration, 64 voters to a row, and turnout per state in counters. A cast batch looks its voters up,
// reads the blocks that hold them, and sets the bits of those not set yet: a batch writes a few pages of a
// small table. A table with a row per voter, in voter id order, had each ballot dirty a page of its own
// once it grew past a batch (at 2M voters, 30% of the cast path went on writing those pages to the WAL).
// One ballot per voter rests on the one writer: every write transaction begins IMMEDIATE, so no other
// batch reads or sets a bit between this batch's read and its commit.
//
// PostgreSQL (several writers, in several processes): the table voted, a row per voter who has voted,
// whose primary key admits each voter once; a second batch inserting the same voter waits for the first,
// then inserts nothing. A bitmap would make concurrent batches wait for each other's commit whenever they
// share a block of 64 voters, which two batches of a thousand voters nearly always do: in one process
// with four writers, casting fell by 10%, and casting processes would no longer scale out.

// markVoted marks the voters whose id, credential hash and constituency match (parallel lists, sorted
// by voter id, each voter once) and who have not voted yet, and returns the state of each voter marked.
func (sqlite) markVoted(ctx context.Context, s *Store, tx *sql.Tx, ids []string, hashes [][]byte, cons []string) (map[string]string, error) {
	type found struct {
		id, state string
		no        int64
	}
	var matched []found
	args := make([]any, 0, 3*len(ids))
	for k := range ids {
		args = append(args, ids[k], hashes[k], cons[k])
	}
	rows, err := tx.QueryContext(ctx, s.rows(s.q.LookupVoters, len(ids), 3), args...)
	if err != nil {
		return nil, fmt.Errorf("look up voters: %w", err)
	}
	for rows.Next() {
		var f found
		if err := rows.Scan(&f.id, &f.no, &f.state); err != nil {
			rows.Close()
			return nil, err
		}
		if f.no < 0 {
			rows.Close()
			return nil, fmt.Errorf("a voter has no number")
		}
		matched = append(matched, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	marked := make(map[string]string, len(matched))
	if len(matched) == 0 {
		return marked, nil
	}

	blocks := make([]int64, 0, len(matched))
	for _, f := range matched {
		blocks = append(blocks, f.no>>6)
	}
	slices.Sort(blocks)
	blocks = slices.Compact(blocks)
	args = args[:0]
	for _, b := range blocks {
		args = append(args, b)
	}
	bitsOf := make(map[int64]uint64, len(blocks))
	rows, err = tx.QueryContext(ctx, s.rows(s.q.VotedBlocksIn, len(blocks), 1), args...)
	if err != nil {
		return nil, fmt.Errorf("read %d blocks of the voted set: %w", len(blocks), err)
	}
	for rows.Next() {
		var b, v int64
		if err := rows.Scan(&b, &v); err != nil {
			rows.Close()
			return nil, err
		}
		bitsOf[b] = uint64(v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(bitsOf) != len(blocks) {
		// Registration makes every voter's block; a missing one would let nobody in it vote.
		return nil, fmt.Errorf("the voted set lacks %d of the blocks this batch's voters are in", len(blocks)-len(bitsOf))
	}

	set := make(map[int64]uint64, len(blocks)) // the bits this batch sets, per block
	turnout := map[string]int64{}
	for _, f := range matched {
		b, bit := f.no>>6, uint64(1)<<(f.no&63)
		if bitsOf[b]&bit != 0 {
			continue // voted before: whyRefused says so
		}
		bitsOf[b] |= bit
		set[b] |= bit
		marked[f.id] = f.state
		turnout[f.state]++
	}
	if len(set) == 0 {
		return marked, nil
	}
	args = args[:0]
	for _, b := range blocks {
		if v, ok := set[b]; ok {
			args = append(args, b, int64(v))
		}
	}
	if _, err := tx.ExecContext(ctx, s.rows(s.q.MarkBlocks, len(set), 2), args...); err != nil {
		return nil, fmt.Errorf("set %d bits of the voted set: %w", len(marked), err)
	}
	args = args[:0]
	for _, st := range slices.Sorted(maps.Keys(turnout)) {
		args = append(args, st, turnout[st])
	}
	if _, err := tx.ExecContext(ctx, s.rows(s.q.AddTurnout, len(turnout), 2), args...); err != nil {
		return nil, fmt.Errorf("count turnout: %w", err)
	}
	return marked, nil
}

// countVoted counts the bits of the voted set, not the turnout counters (which VotedPerState reads), so
// the audit compares both with the ballots.
func (sqlite) countVoted(ctx context.Context, s *Store, tx *sql.Tx) (int64, error) {
	rows, err := tx.QueryContext(ctx, s.q.VotedBlocks)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		var b int64
		if err := rows.Scan(&b); err != nil {
			return 0, err
		}
		n += int64(bits.OnesCount64(uint64(b)))
	}
	return n, rows.Err()
}

// markVoted: one statement, one round trip, whatever the batch's size (MarkVotedBatch).
func (postgres) markVoted(ctx context.Context, s *Store, tx *sql.Tx, ids []string, hashes [][]byte, cons []string) (map[string]string, error) {
	rows, err := tx.QueryContext(ctx, s.q.MarkVotedBatch, ids, hashes, cons)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	marked := make(map[string]string, len(ids))
	for rows.Next() {
		var id, state string
		if err := rows.Scan(&id, &state); err != nil {
			return nil, err
		}
		marked[id] = state
	}
	return marked, rows.Err()
}

func (postgres) countVoted(ctx context.Context, s *Store, tx *sql.Tx) (int64, error) {
	var n int64
	err := tx.QueryRowContext(ctx, s.q.CountVoted).Scan(&n)
	return n, err
}
