package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/election/election/internal/ballot"
)

// BallotsAfter returns up to limit committed ballots after pos, in position order. Every ballot committed
// is eventually returned exactly once to a reader that advances pos to the last ballot it was given.
func (s *Store) BallotsAfter(ctx context.Context, pos ballot.Position, limit int) ([]ballot.Ballot, error) {
	rows, err := s.r.QueryContext(ctx, s.q.BallotsAfter, strconv.FormatInt(pos.Tx, 10), pos.Seq, limit)
	if err != nil {
		return nil, fmt.Errorf("ledger: read ballots after %s: %w", pos, err)
	}
	defer rows.Close()
	out := make([]ballot.Ballot, 0, limit)
	var id []byte
	var minute, lastMinute int64 = 0, -1
	var minuteText string
	for rows.Next() {
		var b ballot.Ballot
		if err := rows.Scan(&b.Pos.Tx, &b.Pos.Seq, &id, &b.Candidate, &b.Constituency, &b.State, &minute); err != nil {
			return nil, fmt.Errorf("ledger: read ballots: %w", err)
		}
		if len(id) != 16 {
			return nil, fmt.Errorf("ledger: ballot %s has a %d-byte id, not 16", b.Pos, len(id))
		}
		b.ID = formatBallotID(id)
		if minute != lastMinute { // a page of ballots shares a minute or two
			minuteText, lastMinute = CastMinute(minuteTime(minute)), minute
		}
		b.CastMinute = minuteText
		out = append(out, b)
	}
	return out, rows.Err()
}

// BallotCount is how many ballots the ledger holds: COUNT(*) of one snapshot, reached without walking
// every page of the ballots table, which at 14M ballots took 0.19 s on SQLite and at 70M some seconds of
// PostgreSQL's parallel workers, while the status line, /healthz and the results view count often. It
// counts only the ballots after the position of its last count (CountBallotsAfter) and adds those whose
// count can no longer change to the count it holds. On SQLite, with one writer, that is every ballot
// after the position; on PostgreSQL, whose transactions commit out of id order, those below the horizon
// of transactions still running, as the relay reads (BallotsAfter); the ballots above it are counted
// again next time.
func (s *Store) BallotCount(ctx context.Context) (int64, error) {
	c := &s.ballotCount
	c.mu.Lock() // two counts at once would both add the same ballots
	defer c.mu.Unlock()
	var settled, pending int64
	var next sql.NullInt64
	if err := s.r.QueryRowContext(ctx, s.q.CountBallotsAfter, c.pos).Scan(&settled, &pending, &next); err != nil {
		return 0, fmt.Errorf("ledger: count ballots: %w", err)
	}
	c.n += settled
	if next.Valid {
		c.pos = next.Int64
	}
	return c.n + pending, nil
}

// Totals is what the ledger says was cast, for the audit.
type Totals struct {
	Ballots      int64
	VotersVoted  int64
	PerCandidate map[string]int64
	PerState     map[string]int64
	VotedByState map[string]int64
}

// Totals counts ballots per candidate and state, and voters marked as having voted, in all and per state
// (on SQLite the first counts the bitmap's bits and the second reads the turnout counters: see voted.go).
// The counts run in one read transaction so they describe one moment.
func (s *Store) Totals(ctx context.Context) (Totals, error) {
	t := Totals{PerCandidate: map[string]int64{}, PerState: map[string]int64{}, VotedByState: map[string]int64{}}
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return t, fmt.Errorf("ledger: totals: %w", err)
	}
	defer tx.Rollback()
	if err := s.d.consistentRead(ctx, tx); err != nil {
		return t, fmt.Errorf("ledger: totals: %w", err)
	}
	if err := tx.QueryRowContext(ctx, s.q.CountBallots).Scan(&t.Ballots); err != nil {
		return t, fmt.Errorf("ledger: count ballots: %w", err)
	}
	if t.VotersVoted, err = s.d.countVoted(ctx, s, tx); err != nil {
		return t, fmt.Errorf("ledger: count voters who voted: %w", err)
	}
	for q, m := range map[string]map[string]int64{s.q.BallotsPerCandidate: t.PerCandidate, s.q.BallotsPerState: t.PerState, s.q.VotedPerState: t.VotedByState} {
		rows, err := tx.QueryContext(ctx, q)
		if err != nil {
			return t, fmt.Errorf("ledger: totals: %w", err)
		}
		for rows.Next() {
			var k string
			var n int64
			if err := rows.Scan(&k, &n); err != nil {
				rows.Close()
				return t, err
			}
			m[k] = n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return t, err
		}
	}
	return t, nil
}

// VotersVoted is how many voters are recorded as having voted.
func (s *Store) VotersVoted(ctx context.Context) (int64, error) {
	var n int64
	if err := s.r.QueryRowContext(ctx, s.q.CountVoted).Scan(&n); err != nil {
		return 0, fmt.Errorf("ledger: count voters who voted: %w", err)
	}
	return n, nil
}
