package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"sync"
)

// votedCopy is the SQLite writer's copy in memory of who has voted: one bit per voter number, the bitmap
// and the recent marks together (voted.go), 12.5 MB at 100M voters. A cast batch reads its voters' bits
// here rather than from voted_blocks: finding a voter's block in that table, a random page of a B-tree
// of 1.56M rows at 100M voters, took about a tenth of the writer's CPU a ballot at 30M and 100M voters
// (1.7 of 17.4 µs and 2.2 of 20.6; docs/measured.md). The database stays the record: the batch still
// adds its marks to voted_recent (whose primary key still refuses a number twice), folds them, and
// counts turnout, in its transaction.
//
// Why the copy always says what the database says, for the batch that reads it:
//   - It is loaded inside a write transaction, which on SQLite holds the whole database (BEGIN IMMEDIATE),
//     from the committed bitmap and recent marks.
//   - In this process only CastBatch changes who has voted, through the one writer connection, holding
//     mu from before its transaction begins until the copy has taken its marks. The marks go into the copy
//     only once the transaction has committed; if anything fails (the commit included, whose outcome is
//     then unknown), the copy is dropped and loaded again by the next batch.
//   - Another connection (another process on the same file) may commit between two batches. Every batch
//     reads PRAGMA data_version inside its transaction, before it reads the copy; the value changes when
//     any other connection has committed since this one last looked, and then the copy is loaded again.
//     Nothing can commit between that read and the batch's own commit: the batch holds the write lock.
//     That value is the connection's own, so the batch also checks that it runs on the connection the
//     copy was loaded through (a mark in that connection's temp schema), and loads the copy again if
//     database/sql has replaced it.
//   - A voter number beyond those the copy covers (a voter registered since it was loaded) loads it
//     again in the batch's transaction; a number beyond every one given out fails the batch.
//
// What it costs: 1 bit a voter number given out, and at the first batch (and after another process has
// committed) a read of the whole bitmap, 1.56M rows at 100M voters. Two processes casting on one
// SQLite file would each load it again at nearly every batch: correct, but slow at that size; casting
// from several processes is what PostgreSQL is for (README, "At scale").
//
// Secret ballot: it holds what the bitmap holds, who has voted, with no time, no order and no candidate,
// and only in the writer's memory; the numbers a batch marked are forgotten once it has settled.
//
// It must never say a voter has not voted when the committed database says they have.
type votedCopy struct {
	mu       sync.Mutex // held by CastBatch, from before its transaction until settle
	loaded   bool
	version  int64    // PRAGMA data_version when the copy was last known to match the database
	numbered int64    // the voter numbers given out when it was loaded: it covers [0, numbered)
	bits     []uint64 // bit n%64 of word n/64: voter number n has voted
	marked   []int64  // numbers the batch under way marked: set in bits once it commits (settle)
}

// begin starts a batch: the caller holds mu until settle.
func (c *votedCopy) begin() {
	c.mu.Lock()
	c.marked = c.marked[:0]
}

// settle ends a batch: its marks go into the copy if its transaction committed (err == nil); otherwise
// the copy is dropped, since what the database holds is not known here.
func (c *votedCopy) settle(err error) {
	defer c.mu.Unlock()
	if err != nil {
		c.loaded, c.bits = false, nil
		return
	}
	for _, no := range c.marked {
		c.bits[no>>6] |= 1 << (no & 63)
	}
}

// has says whether voter number no has voted, and whether the copy covers that number at all.
func (c *votedCopy) has(no int64) (voted, known bool) {
	if no < 0 || no >= c.numbered {
		return false, false
	}
	return c.bits[no>>6]&(1<<(no&63)) != 0, true
}

// sync loads the copy if it is not loaded, if another connection has committed since it was, or if this
// is not the connection it was loaded through.
func (c *votedCopy) sync(ctx context.Context, s *Store, tx *wtx) error {
	var v, same int64
	if err := tx.QueryRowContext(ctx, s.q.DataVersion).Scan(&v); err != nil {
		return fmt.Errorf("read the database's data version: %w", err)
	}
	if err := tx.QueryRowContext(ctx, s.q.CopyConnection).Scan(&same); err != nil {
		return fmt.Errorf("read which connection this is: %w", err)
	}
	if c.loaded && v == c.version && same == 1 {
		return nil
	}
	if err := c.load(ctx, s, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q.MarkCopyConnection); err != nil {
		return fmt.Errorf("mark the connection: %w", err)
	}
	c.version = v
	return nil
}

// votersNumbered is how many voter numbers have been given out, read in the transaction.
func (s *Store) votersNumbered(ctx context.Context, tx *wtx) (int64, error) {
	text, ok, err := s.getMeta(ctx, tx, metaVotersNumbered)
	if err != nil || !ok {
		return 0, err
	}
	numbered, err := strconv.ParseInt(text, 10, 64)
	if err != nil || numbered < 0 {
		return 0, fmt.Errorf("the count of voter numbers is %q", text)
	}
	return numbered, nil
}

// load reads who has voted from the database, in the batch's transaction, and checks that the bitmap has
// the block of every voter number given out: a missing block would let the fold drop its marks.
func (c *votedCopy) load(ctx context.Context, s *Store, tx *wtx) error {
	c.loaded, c.bits = false, nil
	numbered, err := s.votersNumbered(ctx, tx)
	if err != nil {
		return fmt.Errorf("load who has voted: %w", err)
	}
	blocks := (numbered + 63) >> 6
	bits := make([]uint64, blocks)
	var next int64 // the block the next row must be, in block order
	err = eachRow(tx.QueryContext(ctx, s.q.LoadVotedBlocks))(func(rows *sql.Rows) error {
		var block, b int64
		if err := rows.Scan(&block, &b); err != nil {
			return err
		}
		if block >= blocks {
			return nil // a block ahead of the numbers given out has no voter in it yet
		}
		if block != next {
			return fmt.Errorf("the voted set lacks block %d (of %d)", next, blocks)
		}
		bits[block], next = uint64(b), next+1
		return nil
	})
	if err == nil && next != blocks {
		err = fmt.Errorf("the voted set lacks block %d (of %d)", next, blocks)
	}
	if err != nil {
		return fmt.Errorf("load who has voted: %w", err)
	}
	err = eachRow(tx.QueryContext(ctx, s.q.LoadRecent))(func(rows *sql.Rows) error {
		var no int64
		if err := rows.Scan(&no); err != nil {
			return err
		}
		if no < 0 || no >= numbered {
			return fmt.Errorf("a recent mark names voter number %d, beyond the %d given out", no, numbered)
		}
		bits[no>>6] |= 1 << (no & 63)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load who has voted: %w", err)
	}
	c.loaded, c.numbered, c.bits = true, numbered, bits
	return nil
}
