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
// The window is the ledger's answers as it gave them, a list of slices, not one slice they are copied
// into: growing one slice of ballots and copying its newest half down cost the relay a third of a
// microsecond a ballot (docs/measured.md). Readers get copies, so nothing a reader does to what it was
// given changes what the other reads.
//
// It must never return a ballot that a read of the ledger after the same position would not, or leave a
// gap: a window is only extended by an answer read after its own last position.
type ReadCache struct {
	src  BallotSource
	keep int

	mu      sync.Mutex
	from    ballot.Position   // the window holds every committed ballot after from, up to its last
	answers [][]ballot.Ballot // the window: answers that join end to start, none empty; none until the first read
	held    int               // the ballots in answers
}

// NewReadCache reads through src and keeps at least the newest keep ballots it read (whole answers of
// the ledger, so up to keep and one answer more): make keep the most ballots one reader may lag the
// other by and still be answered from memory.
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
	return append(out, bs...), nil // a copy: bs is the window's now
}

// lookup returns a copy of up to limit window ballots after pos (none when the window does not reach
// beyond pos).
func (c *ReadCache) lookup(pos ballot.Position, limit int) []ballot.Ballot {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, i, ok := c.after(pos)
	if !ok {
		return nil
	}
	n := c.count(a, i, limit)
	if n <= 0 {
		return nil
	}
	out := make([]ballot.Ballot, 0, min(n, limit))
	for ; len(out) < cap(out); a, i = a+1, 0 {
		out = append(out, c.answers[a][i:min(len(c.answers[a]), i+cap(out)-len(out))]...)
	}
	return out
}

// after is where in the window the ballots after pos begin (answer a, its ballot i; a is len(answers)
// when none follow), if pos is the window's start or one of its ballots.
func (c *ReadCache) after(pos ballot.Position) (a, i int, ok bool) {
	if len(c.answers) == 0 {
		return 0, 0, false
	}
	if pos == c.from {
		return 0, 0, true
	}
	a = sort.Search(len(c.answers), func(a int) bool { return !last(c.answers[a]).Before(pos) })
	if a == len(c.answers) {
		return 0, 0, false
	}
	answer := c.answers[a]
	i = sort.Search(len(answer), func(i int) bool { return !answer[i].Pos.Before(pos) })
	if answer[i].Pos != pos { // i < len(answer): its last is not before pos
		return 0, 0, false
	}
	if i+1 == len(answer) {
		return a + 1, 0, true
	}
	return a, i + 1, true
}

// count is how many window ballots follow answer a's ballot i (as after gives them), counting no further
// than limit.
func (c *ReadCache) count(a, i, limit int) int {
	n := -i
	for _, answer := range c.answers[a:] {
		if n += len(answer); n >= limit {
			break
		}
	}
	return n
}

func last(answer []ballot.Ballot) ballot.Position { return answer[len(answer)-1].Pos }

// remember adds what the ledger returned after pos: to the window's end when pos is in the window (only
// the ballots beyond the window's last are new), else as a new window. Then it drops the oldest answers
// while the rest hold keep.
func (c *ReadCache) remember(pos ballot.Position, bs []ballot.Ballot) {
	if len(bs) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, i, ok := c.after(pos); ok {
		// bs follows pos, so its first ballots are the window's after pos: as many as there are.
		if have := c.count(a, i, len(bs)); have < len(bs) {
			c.add(bs[have:])
		}
	} else {
		c.from, c.answers, c.held = pos, nil, 0
		c.add(bs)
	}
	for len(c.answers) > 1 && c.held-len(c.answers[0]) >= c.keep {
		c.from, c.held = last(c.answers[0]), c.held-len(c.answers[0])
		c.answers[0] = nil // its memory is not held by the list
		c.answers = c.answers[1:]
	}
}

// add appends an answer to the window. The ledger makes room for as many ballots as a read asks for (the
// relay asks for 5,000, and is often given a few hundred), so an answer that fills less than half of its
// room is copied to one its size: the window holds what it keeps and not much more.
func (c *ReadCache) add(answer []ballot.Ballot) {
	if cap(answer) > 2*len(answer) {
		answer = append([]ballot.Ballot(nil), answer...)
	}
	c.answers = append(c.answers, answer)
	c.held += len(answer)
}
