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
