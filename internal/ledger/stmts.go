package ledger

import (
	"context"
	"database/sql"
	"sync"
)

// Statements are prepared once per store, not parsed again each time they run. database/sql runs a text
// given to Tx.ExecContext or Tx.QueryContext by preparing it, running it once and finalizing it, and SQLite
// parses every time: on the cast path that was 15% of the writer's CPU time (3M voters; the lists of voters
// and ballots made a new text for every batch size), and registration parsed its per-region counter 543
// times a batch. A write transaction (wtx) runs each text through a statement prepared for the store, and
// lists are cut into power-of-two pieces (pieces), so a store sees a few dozen texts in all.
//
// database/sql prepares a store-wide statement on a connection of the pool, and SQLite's write pool has
// one, busy inside a transaction: preparing there would wait forever. So a text first seen inside a
// transaction runs as it is, and is prepared once the transaction has ended (inTx). PostgreSQL keeps no
// cache here: pgx prepares and caches statements per connection itself.
type stmtCache struct {
	db      *sql.DB
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool // texts run unprepared, to prepare after their transaction
}

// maxStmts bounds the cache, should some caller build texts without bound: past it, texts run unprepared.
const maxStmts = 256

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

// get returns the statement prepared for q, or nil (and q is prepared after the transaction).
func (c *stmtCache) get(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.stmts[q]; st != nil {
		return st
	}
	if len(c.stmts)+len(c.pending) < maxStmts {
		c.pending[q] = true
	}
	return nil
}

// prepare prepares the texts run unprepared so far. It must be called outside a transaction (see above).
// A text that fails to prepare is left out: it runs unprepared, and fails there if it is wrong.
func (c *stmtCache) prepare(ctx context.Context) {
	c.mu.Lock()
	texts := make([]string, 0, len(c.pending))
	for q := range c.pending {
		texts = append(texts, q)
	}
	clear(c.pending)
	c.mu.Unlock()
	// The lock is not held while preparing: that waits for the connection, which a transaction may hold
	// while it calls get.
	for _, q := range texts {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if c.stmts[q] == nil {
			c.stmts[q], st = st, nil
		}
		c.mu.Unlock()
		if st != nil {
			st.Close() // prepared meanwhile by another caller
		}
	}
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
	clear(c.stmts)
}

// wtx is a write transaction whose statements are prepared once per store (stmtCache). It is a
// *sql.Tx in everything else.
type wtx struct {
	*sql.Tx
	stmts *stmtCache // nil: every text runs as it is
}

// prepared is q's statement for this transaction, or nil to run q as it is.
func (t *wtx) prepared(ctx context.Context, q string) *sql.Stmt {
	if t.stmts == nil {
		return nil
	}
	if st := t.stmts.get(q); st != nil {
		return t.Tx.StmtContext(ctx, st)
	}
	return nil
}

func (t *wtx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.prepared(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, q, args...)
}

func (t *wtx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.prepared(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, q, args...)
}

func (t *wtx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.prepared(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, q, args...)
}

// pieces calls fn for consecutive ranges [lo, hi) of n items, each of a power-of-two size no larger than
// max (a power of two), largest first: a statement over a list then has one text per size, 13 at most
// for max 4096, each prepared once (stmtCache), where a text for every length would be parsed anew.
func pieces(n, max int, fn func(lo, hi int) error) error {
	for lo := 0; lo < n; {
		size := max
		for size > n-lo {
			size >>= 1
		}
		if err := fn(lo, lo+size); err != nil {
			return err
		}
		lo += size
	}
	return nil
}

// execPieces runs the statement query, whose /*rows*/ takes n rows of cols columns (args, in row order),
// in power-of-two pieces of at most max rows: each piece's text is prepared once, and its placeholders
// stay under the database's limit.
func (s *Store) execPieces(ctx context.Context, tx *wtx, query string, n, cols, max int, args []any) error {
	return pieces(n, max, func(lo, hi int) error {
		_, err := tx.ExecContext(ctx, s.rows(query, hi-lo, cols), args[lo*cols:hi*cols]...)
		return err
	})
}

// queryPieces is execPieces for a query: it runs scan on every row of the results.
func (s *Store) queryPieces(ctx context.Context, tx *wtx, query string, n, cols, max int, args []any, scan func(*sql.Rows) error) error {
	return pieces(n, max, func(lo, hi int) error {
		return eachRow(tx.QueryContext(ctx, s.rows(query, hi-lo, cols), args[lo*cols:hi*cols]...))(scan)
	})
}

// maxListPiece is the most rows one statement over a list of voters or ballots takes: with 5 columns,
// 20,480 placeholders, under SQLite's 32,766. A power of two: see pieces.
const maxListPiece = 4096
