package ledger

import (
	"context"
	"database/sql"
	"encoding/hex"
	"time"

	"github.com/election/election/internal/voter"
)

func (s *Store) ExecForTest(ctx context.Context, q string) error {
	_, err := s.w.ExecContext(ctx, q)
	return err
}

func (s *Store) ConfigForTest() Config { return s.cfg }

func (s *Store) ExecTxForTest(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.inTx(ctx, func(tx *wtx) error { return fn(tx.Tx) })
}

func (s *Store) InsertBallotsQueryForTest(n int) string { return s.rows(s.q.InsertBallots, n, 5) }

// OpenAtSchemaForTest opens the ledger migrated only up to schema version v, as an older binary left it.
func OpenAtSchemaForTest(ctx context.Context, cfg Config, v int) (*Store, error) {
	return open(ctx, cfg, v)
}

// RegisterVotersBeforeNumbersForTest registers voters as a binary before schema 3 did: without voter
// numbers (and without the counts per region, which upgrade tests do not read).
func (s *Store) RegisterVotersBeforeNumbersForTest(ctx context.Context, voters []RegisteredVoter) error {
	const insert = `INSERT INTO voters (voter_id, voter_name, date_of_birth, gender, nationality, registration_number,
		address_street, address_city, address_state, address_country, address_postcode, email, phone_number,
		cell_number, picture, registered_age, constituency_id, credential_hash) VALUES /*rows*/`
	return s.inTx(ctx, func(tx *wtx) error {
		args := make([]any, 0, 18*len(voters))
		for _, v := range voters {
			// The wide row of schemas 1 to 3, whose credential hash was hex text.
			args = append(args, v.ID, v.Name, v.DateOfBirth, v.Gender, v.Nationality, v.RegistrationNumber,
				v.Street, v.City, v.State, v.Country, v.Postcode, v.Email, v.Phone, v.Cell, v.Picture,
				v.RegisteredAge, v.Constituency, hex.EncodeToString(v.CredentialHash))
		}
		_, err := tx.ExecContext(ctx, s.rows(insert, len(voters), 18), args...)
		return err
	})
}

// VoterRowsForTest returns, per registered voter id, the length of the stored credential hash and the
// name kept in voter_details ("" when none is kept).
func (s *Store) VoterRowsForTest(ctx context.Context) (hashLen map[string]int, name map[string]string, err error) {
	rows, err := s.r.QueryContext(ctx, `SELECT v.voter_id, v.voter_no, length(v.credential_hash), COALESCE(d.voter_name, '')
		FROM voters AS v LEFT JOIN voter_details AS d ON d.voter_no = v.voter_no`)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	hashLen, name = map[string]int{}, map[string]string{}
	for rows.Next() {
		var id sql.NullString
		var n string
		var no int64
		var l int
		if err := rows.Scan(&id, &no, &l, &n); err != nil {
			return nil, nil, err
		}
		if !id.Valid { // the register keeps no id the voter's number gives (SQLite)
			id.String = voter.ID(no)
		}
		hashLen[id.String], name[id.String] = l, n
	}
	return hashLen, name, rows.Err()
}

// SetFoldAtForTest makes cast batches fold the recent marks into the bitmap once n are pending.
func (s *Store) SetFoldAtForTest(n int64) { s.foldAt = n }

// RecentMarksForTest is how many recent marks are pending (SQLite; 0 on PostgreSQL, which has none).
func (s *Store) RecentMarksForTest(ctx context.Context) (int64, error) {
	if s.q.CountRecent == "" {
		return 0, nil
	}
	var n int64
	err := s.r.QueryRowContext(ctx, s.q.CountRecent).Scan(&n)
	return n, err
}

// PreparedForTest is how many statements the store holds prepared (stmts.go); 0 on PostgreSQL.
func (s *Store) PreparedForTest() int {
	if s.stmts == nil {
		return 0
	}
	s.stmts.mu.Lock()
	defer s.stmts.mu.Unlock()
	return len(s.stmts.stmts)
}

var PiecesForTest = pieces

// CacheSizesForTest is PRAGMA cache_size on the writer connection and on a read connection.
func (s *Store) CacheSizesForTest(ctx context.Context) (writer, reader int64, err error) {
	if err = s.w.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&writer); err != nil {
		return
	}
	err = s.r.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&reader)
	return
}

const WriterCacheKiBForTest = writerCacheKiB

// SetAfterForTest replaces time.After for the caster's gathering waits; call it before Start.
func (c *Caster) SetAfterForTest(after func(time.Duration) <-chan time.Time) { c.after = after }

// QueuedForTest is how many casts wait in the queue, taken by no batch yet.
func (c *Caster) QueuedForTest() int { return len(c.reqs) }

// KeepNoWriterConnectionForTest makes database/sql close the writer's connection after every use, so
// that each transaction runs on a new one.
func (s *Store) KeepNoWriterConnectionForTest() { s.w.SetMaxIdleConns(0) }

// WriterCheckpointPagesForTest is the log's length past which the writer checkpoints itself.
const WriterCheckpointPagesForTest = writerCheckpointPages

// RegisterVotersByIDForTest registers voters as a binary before schema 8 did: every voter's id in its
// row (the register keyed by id), numbered in the order given.
func (s *Store) RegisterVotersByIDForTest(ctx context.Context, voters []RegisteredVoter) error {
	return s.inTx(ctx, func(tx *wtx) error {
		no, err := s.numberVoters(ctx, tx, len(voters))
		if err != nil {
			return err
		}
		args := make([]any, 0, voterColumns*len(voters))
		counts := regionCounts{}
		for _, v := range voters {
			args, _ = v.appendArgs(args, nil, no, false)
			no++
			counts[region{v.Constituency, v.State}]++
		}
		if err := s.insertVoters(ctx, tx, len(voters), args, nil); err != nil {
			return err
		}
		return s.addRegistered(ctx, tx, counts)
	})
}

// AwaitRegisterCopyForTest makes every cast batch wait until the writer's copy of the register covers
// every voter number given out, so that the copy, not the database, answers for each of them (SQLite).
func (s *Store) AwaitRegisterCopyForTest() { s.awaitRegisterCopy = true }

// NoRegisterCopyForTest makes the writer look every voter up in the database (SQLite), as PostgreSQL's do.
func (s *Store) NoRegisterCopyForTest() { s.register = nil }

// BallotsAfterPlanForTest is PostgreSQL's plan for reading ballots from the first position on, with sorts
// disabled unless nothing else can give the order; "" on SQLite.
func (s *Store) BallotsAfterPlanForTest(ctx context.Context) (string, error) {
	if s.d.name() == "sqlite" {
		return "", nil
	}
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SET LOCAL enable_sort = off"); err != nil {
		return "", err
	}
	rows, err := tx.QueryContext(ctx, "EXPLAIN "+s.q.BallotsAfter, "0", 0, 100)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var plan, line string
	for rows.Next() {
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		plan += line + "\n"
	}
	return plan, rows.Err()
}
