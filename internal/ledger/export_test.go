package ledger

import "context"

func (s *Store) ExecForTest(ctx context.Context, q string) error {
	_, err := s.w.ExecContext(ctx, q)
	return err
}

func (s *Store) ConfigForTest() Config { return s.cfg }
