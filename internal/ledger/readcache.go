package ledger

import (
	"context"
	"sort"
	"sync"

	"github.com/election/election/internal/ballot"
)

// BallotSource is what ReadCache reads through: Store.BallotsAfter.
type BallotSource interface {
	BallotsAfter(ctx context.Context, pos ballot.Position, limit int) ([]ballot.Ballot, error)
}

// ReadCache lets two readers of the committed ballots in one process, the relay and the board writer,
// read the ledger once between them: it keeps the ballots last read, and answers a reader that follows
// from them. Reading the same ballots a second time cost the embedded pipeline more than anything else
// the board writer did, more than its share of CPU (docs/measured.md).
//
// Correctness. BallotsAfter(pos) returns committed ballots after pos in position order, and once a
// position is passed no ballot appears behind it. So what one call returned is every ballot between pos
// and the last one returned, and it never changes: the cache keeps a window of such answers that join
// end to start (from, and every ballot after it up to the window's last), and answers a read after a
// position in the window with the ballots that follow it there, and, when they are fewer than limit, the
// ballots the ledger has after the last of them (which extend the window). Those are what the ledger
// would return after pos, in order: every ballot between pos and the last given, once. A read after a
// position outside the window goes to the ledger alone.
//
// It must never return a ballot that a read of the ledger after the same position would not, or leave a
// gap: a window is only extended by an answer read after its own last position.
type ReadCache struct {
	src  BallotSource
	keep int

	mu     sync.Mutex
	from   ballot.Position // the window holds every committed ballot after from, up to its last
	window []ballot.Ballot // empty until the first ballots are read; never empty after
}

// NewReadCache reads through src and keeps the newest keep to 2·keep ballots it read: make keep the
// most ballots one reader may lag the other by and still be answered from memory.
func NewReadCache(src BallotSource, keep int) *ReadCache {
	return &ReadCache{src: src, keep: max(keep, 1)}
}

// BallotsAfter is Store.BallotsAfter, answered from the window where it holds what follows pos.
func (c *ReadCache) BallotsAfter(ctx context.Context, pos ballot.Position, limit int) ([]ballot.Ballot, error) {
	if limit <= 0 {
		return nil, nil
	}
	out := c.lookup(pos, limit)
	if len(out) == limit {
		return out, nil
	}
	// What the window lacks, from the ledger: the answer reaches as far as a read of the ledger would,
	// and what it adds is remembered for the other reader.
	if len(out) > 0 {
		pos = out[len(out)-1].Pos
	}
	bs, err := c.src.BallotsAfter(ctx, pos, limit-len(out))
	if err != nil {
		if len(out) > 0 {
			return out, nil
		}
		return nil, err
	}
	c.remember(pos, bs)
	return append(out, bs...), nil
}

// lookup returns a copy of up to limit window ballots after pos (none when the window does not reach
// beyond pos).
func (c *ReadCache) lookup(pos ballot.Position, limit int) []ballot.Ballot {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.after(pos)
	if !ok || i == len(c.window) {
		return nil
	}
	return append([]ballot.Ballot(nil), c.window[i:min(i+limit, len(c.window))]...)
}

// after is where in the window the ballots after pos begin, if pos is the window's start or one of its
// ballots.
func (c *ReadCache) after(pos ballot.Position) (int, bool) {
	if len(c.window) == 0 {
		return 0, false
	}
	if pos == c.from {
		return 0, true
	}
	i := sort.Search(len(c.window), func(i int) bool { return !c.window[i].Pos.Before(pos) })
	if i < len(c.window) && c.window[i].Pos == pos {
		return i + 1, true
	}
	return 0, false
}

// remember adds what the ledger returned after pos: to the window's end when pos is in the window (only
// the ballots beyond the window's last are new), else as a new window.
func (c *ReadCache) remember(pos ballot.Position, bs []ballot.Ballot) {
	if len(bs) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.after(pos); ok {
		// bs follows pos, so its first len(window)-i ballots are the window's from i on.
		if have := len(c.window) - i; have < len(bs) {
			c.window = append(c.window, bs[have:]...)
		}
	} else {
		c.from, c.window = pos, append([]ballot.Ballot(nil), bs...)
	}
	if len(c.window) > 2*c.keep {
		// Copy the newest keep down, so the dropped ballots' memory is not held by the slice; done at
		// twice keep, so the copying is a ballot's worth per ballot read.
		drop := len(c.window) - c.keep
		c.from = c.window[drop-1].Pos
		c.window = append(c.window[:0:0], c.window[drop:]...)
	}
}
