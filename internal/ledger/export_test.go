package ledger

import (
	"context"
	"database/sql"
)

func (s *Store) ExecForTest(ctx context.Context, q string) error {
	_, err := s.w.ExecContext(ctx, q)
	return err
}

func (s *Store) ConfigForTest() Config { return s.cfg }

func (s *Store) ExecTxForTest(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.inTx(ctx, fn)
}

func (s *Store) InsertBallotsQueryForTest(n int) string { return s.values(s.q.InsertBallots, n, 5) }

// OpenAtSchemaForTest opens the ledger migrated only up to schema version v, as an older binary left it.
func OpenAtSchemaForTest(ctx context.Context, cfg Config, v int) (*Store, error) {
	return open(ctx, cfg, v)
}

// RegisterVotersBeforeNumbersForTest registers voters as a binary before schema 3 did: without voter
// numbers (and without the counts per region, which upgrade tests do not read).
func (s *Store) RegisterVotersBeforeNumbersForTest(ctx context.Context, voters []RegisteredVoter) error {
	const insert = `INSERT INTO voters (voter_id, voter_name, date_of_birth, gender, nationality, registration_number,
		address_street, address_city, address_state, address_country, address_postcode, email, phone_number,
		cell_number, picture, registered_age, constituency_id, credential_hash) VALUES`
	return s.inTx(ctx, func(tx *sql.Tx) error {
		args := make([]any, 0, 18*len(voters))
		for _, v := range voters {
			args = v.appendArgs(args, 0)[:len(args)+18]
		}
		_, err := tx.ExecContext(ctx, s.values(insert, len(voters), 18), args...)
		return err
	})
}
