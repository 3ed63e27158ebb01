package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"math/bits"
	"slices"

	"github.com/election/election/internal/voter"
)

// Who has voted is kept in the layout that suits each database's writers; the rest of the cast path is
// the same on both.
//
// SQLite (one writer): a bitmap, voted_blocks, with one bit per voter at the number the voter got at
// registration, 64 voters to a row; the recent marks, voted_recent, the numbers of voters marked since
// the bitmap was last brought up to date; and turnout per state in counters. A voter has voted if their
// bit is set or their number is among the recent marks. The writer keeps a copy of both in memory, a bit
// per voter (votedcopy.go, which argues why it always agrees with the database). A cast batch looks its
// voters up, reads their bits in the copy, and adds those who have not voted to the recent marks; the
// batch that finds 65,536 or more recent marks folds them all into the bitmap and empties them, in its
// own transaction. A table with a row per voter, in voter id order, had each ballot dirty a
// page of its own once it grew past a batch (at 2M voters, 30% of the cast path went on writing those
// pages to the WAL); setting bits in the bitmap directly did the same once the bitmap had far more pages
// than a batch had ballots (at 100M voters the process wrote 10.3 KB a ballot, most of it those pages). The recent marks stay a few hundred
// pages, and the bitmap's pages are written once per fold.
//
// One ballot per voter rests on the one writer: every write transaction begins IMMEDIATE, so no other
// batch reads or changes the bitmap or the recent marks between this batch's read and its commit, and
// the copy is read under the same transaction, after it has been checked against the database. A fold
// moves marks from one to the other inside a transaction, so every committed state has each voter who
// voted in exactly one of them; and the recent marks' primary key refuses a number twice, failing the
// whole batch rather than counting anyone twice.
//
// PostgreSQL (several writers, in several processes): the table voted, a row per voter who has voted,
// whose primary key admits each voter once; a second batch inserting the same voter waits for the first,
// then inserts nothing. A bitmap would make concurrent batches wait for each other's commit whenever they
// share a block of 64 voters, which two batches of a thousand voters nearly always do: in one process
// with four writers, casting fell by 10%, and casting processes would no longer scale out.

// markVoted marks the voters whose id, credential hash and constituency match (parallel lists, sorted
// by voter id, each voter once) and who have not voted yet, and returns the state of each voter marked.
func (sqlite) markVoted(ctx context.Context, s *Store, tx *wtx, ids []string, hashes [][]byte, cons []string) (map[string]string, error) {
	type found struct {
		id, state string
		no        int64
		voted     bool
	}
	c := s.voted
	if err := c.sync(ctx, s, tx); err != nil {
		return nil, err
	}
	var matched []found
	// The writer's copy of the register answers for the voters it covers, if no voter keeps an id of their
	// own (registercopy.go argues why its answer is LookupVoters'); the database for the others.
	copied, err := s.useRegisterCopy(ctx, tx)
	if err != nil {
		return nil, err
	}
	args := make([]any, 0, 4*len(ids))
	asked := 0
	for k := range ids {
		if copied {
			if no, ok := voter.Number(ids[k]); ok {
				if state, ok, covered := s.register.lookup(no, hashes[k], cons[k]); covered {
					if ok {
						matched = append(matched, found{id: ids[k], no: no, state: state})
					}
					continue
				}
			}
		}
		args = append(s.idArgs(args, ids[k]), hashes[k], cons[k])
		asked++
	}
	beyond := false
	for _, f := range matched {
		beyond = beyond || f.no >= c.numbered
	}
	// One statement finds each voter: each is named once (the caller's guarantee), so nothing this batch
	// marks changes what the copy says of another of its voters.
	err = s.queryPieces(ctx, tx, s.q.LookupVoters, asked, 4, maxListPiece, args, func(rows *sql.Rows) error {
		var f found
		if err := rows.Scan(&f.id, &f.no, &f.state); err != nil {
			return err
		}
		if f.no < 0 {
			return fmt.Errorf("a voter has no number")
		}
		beyond = beyond || f.no >= c.numbered
		matched = append(matched, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look up voters: %w", err)
	}
	if beyond {
		// Voters registered since the copy was loaded, by this process: load it again, in this
		// transaction, so that it covers them (and checks their blocks exist).
		if err := c.load(ctx, s, tx); err != nil {
			return nil, err
		}
	}
	for k := range matched {
		voted, known := c.has(matched[k].no)
		if !known {
			return nil, fmt.Errorf("voter number %d is beyond the %d given out", matched[k].no, c.numbered)
		}
		matched[k].voted = voted
	}
	marked := make(map[string]string, len(matched))
	if len(matched) == 0 {
		return marked, nil
	}

	turnout := map[string]int64{}
	args = args[:0]
	for _, f := range matched {
		if f.voted {
			continue // voted before: whyRefused says so
		}
		marked[f.id] = f.state
		turnout[f.state]++
		args = append(args, f.no)
		c.marked = append(c.marked, f.no) // into the copy only if the batch commits (votedCopy.settle)
	}
	if len(marked) == 0 {
		return marked, nil
	}
	if err := s.execPieces(ctx, tx, s.q.MarkRecent, len(args), 1, maxListPiece, args); err != nil {
		return nil, fmt.Errorf("mark %d voters: %w", len(marked), err)
	}
	args = args[:0]
	for _, st := range slices.Sorted(maps.Keys(turnout)) {
		args = append(args, st, turnout[st])
	}
	if err := s.execPieces(ctx, tx, s.q.AddTurnout, len(turnout), 2, maxListPiece, args); err != nil {
		return nil, fmt.Errorf("count turnout: %w", err)
	}
	var pending int64
	if err := tx.QueryRowContext(ctx, s.q.CountRecent).Scan(&pending); err != nil {
		return nil, fmt.Errorf("count the recent marks: %w", err)
	}
	if pending >= s.foldAt {
		if _, err := tx.ExecContext(ctx, s.q.FoldRecent); err != nil {
			return nil, fmt.Errorf("fold %d recent marks into the bitmap: %w", pending, err)
		}
		if _, err := tx.ExecContext(ctx, s.q.ClearRecent); err != nil {
			return nil, fmt.Errorf("clear the recent marks: %w", err)
		}
	}
	return marked, nil
}

// useRegisterCopy says whether this batch may take voters from the writer's copy of the register: it
// has one (SQLite), and no voter keeps an id of their own (voter_ids is empty, read in the batch's
// transaction), so every id names the voter its number gives. It starts the copy the first time.
func (s *Store) useRegisterCopy(ctx context.Context, tx *wtx) (bool, error) {
	if s.register == nil {
		return false, nil
	}
	s.register.start()
	if s.awaitRegisterCopy {
		numbered, err := s.votersNumbered(ctx, tx)
		if err != nil {
			return false, err
		}
		if !s.register.covers(ctx, numbered) {
			return false, fmt.Errorf("the copy of the register did not cover %d voters", numbered)
		}
	}
	var someKeep bool
	if err := tx.QueryRowContext(ctx, s.q.AnyVoterIDs).Scan(&someKeep); err != nil {
		return false, fmt.Errorf("ask whether any voter keeps an id: %w", err)
	}
	return !someKeep, nil
}

// eachRow runs scan on every row of a query's result (what QueryContext returned), stopping at the
// first error, and closes the rows.
func eachRow(rows *sql.Rows, err error) func(scan func(*sql.Rows) error) error {
	return func(scan func(*sql.Rows) error) error {
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
}

// foldRecentAt is how many recent marks (voted_recent) a batch leaves before it folds them into the
// bitmap (Store.foldAt; tests set fewer). A batch of B random voters dirties about min(B, pages) pages
// of the marks, and a fold about every page of the bitmap the marks touch. At 65,536 the marks are an
// estimated 200 pages, and a fold into a 100M-voter bitmap (27.6 MB, 6,750 pages) writes nearly all of
// it once per 65,536 ballots, rather than a page per ballot.
const foldRecentAt = 65_536

// countVoted counts the bits of the voted set and the recent marks, not the turnout counters (which
// VotedPerState reads), so the audit compares both with the ballots.
func (sqlite) countVoted(ctx context.Context, s *Store, tx *sql.Tx) (int64, error) {
	var n int64
	if err := tx.QueryRowContext(ctx, s.q.CountRecent).Scan(&n); err != nil {
		return 0, err
	}
	rows, err := tx.QueryContext(ctx, s.q.VotedBlocks)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
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
func (postgres) markVoted(ctx context.Context, s *Store, tx *wtx, ids []string, hashes [][]byte, cons []string) (map[string]string, error) {
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
