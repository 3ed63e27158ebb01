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

func (s *Store) RebindForTest(q string) string {
	if s.dialect == "sqlite" {
		return placeholder.ReplaceAllString(q, "?$1")
	}
	return q
}
