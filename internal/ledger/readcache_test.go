package ledger_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/election/election/internal/ballot"
	"github.com/election/election/internal/ledger"
)

// committed is a ledger's committed ballots as BallotsAfter sees them: positions in order, of which the
// first visible are readable (the rest are behind a running transaction).
type committed struct {
	ballots []ballot.Ballot
	visible int
	reads   int // calls
	served  int // ballots returned
}

func (c *committed) BallotsAfter(_ context.Context, pos ballot.Position, limit int) ([]ballot.Ballot, error) {
	c.reads++
	var out []ballot.Ballot
	for _, b := range c.ballots[:c.visible] {
		if pos.Before(b.Pos) && len(out) < limit {
			out = append(out, b)
		}
	}
	c.served += len(out)
	return out, nil
}

// grow commits n more ballots, in transactions of a few each.
func (c *committed) grow(rng *rand.Rand, n int) {
	for range n {
		last := ballot.Position{Tx: 1}
		if len(c.ballots) > 0 {
			last = c.ballots[len(c.ballots)-1].Pos
		}
		next := ballot.Position{Tx: last.Tx, Seq: last.Seq + 1}
		if rng.IntN(4) == 0 {
			next = ballot.Position{Tx: last.Tx + 1 + int64(rng.IntN(3)), Seq: 0}
		}
		c.ballots = append(c.ballots, ballot.Ballot{Pos: next, ID: fmt.Sprint("b", len(c.ballots)), Candidate: "c"})
	}
	c.visible = len(c.ballots) - rng.IntN(min(len(c.ballots), 5)+1)
}

// allCommitted is a ledger of n committed ballots, all readable (seed picks their positions).
func allCommitted(seed uint64, n int) *committed {
	c := &committed{}
	c.grow(rand.New(rand.NewPCG(seed, seed+1)), n)
	c.visible = n
	return c
}

// inOrder fails the test unless got is the first len(got) committed ballots, in order.
func inOrder(t *testing.T, got []ballot.Ballot, c *committed) {
	t.Helper()
	for i, b := range got {
		if b != c.ballots[i] {
			t.Fatalf("ballot %d read as %+v, committed as %+v", i, b, c.ballots[i])
		}
	}
}

// reader follows the ballots as the relay and the board writer do: from the last position it was given.
type reader struct {
	pos ballot.Position
	got []ballot.Ballot
}

func (r *reader) read(t *testing.T, c *ledger.ReadCache, limit int) {
	t.Helper()
	bs, err := c.BallotsAfter(context.Background(), r.pos, limit)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) > limit {
		t.Fatalf("asked for %d ballots, got %d", limit, len(bs))
	}
	if len(bs) > 0 {
		r.got, r.pos = append(r.got, bs...), bs[len(bs)-1].Pos
	}
}

// Two readers at their own paces, with ballots committed between reads, each read every ballot once,
// in order, with none missing; the one behind was answered from memory.
func TestReadCacheTwoReadersEachGetEveryBallotOnce(t *testing.T) {
	for _, keep := range []int{1, 7, 100, 10_000} {
		t.Run(fmt.Sprint("keep=", keep), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(keep), 2))
			src := &committed{}
			cache := ledger.NewReadCache(src, keep)
			var relay, board reader
			for round := range 2000 {
				src.grow(rng, rng.IntN(30))
				relay.read(t, cache, 1+rng.IntN(40))
				if round%5 == 0 {
					board.read(t, cache, 1+rng.IntN(200))
				}
			}
			src.visible = len(src.ballots)
			for _, r := range []*reader{&relay, &board} {
				for len(r.got) < len(src.ballots) {
					before := len(r.got)
					r.read(t, cache, 50)
					if len(r.got) == before {
						t.Fatalf("a reader stopped at %d of %d ballots", before, len(src.ballots))
					}
				}
				inOrder(t, r.got, src)
			}
			// The board follows the relay within a few hundred ballots: with room for them, the ledger
			// gives each ballot about once between the two readers (without the cache, twice).
			if keep >= 10_000 && src.served > len(src.ballots)*11/10 {
				t.Errorf("the ledger gave %d ballots for %d committed: the readers did not share them", src.served, len(src.ballots))
			}
		})
	}
}

// A reader that starts at a position the window does not hold (a restart, another reader far behind)
// reads the ledger, and what it is given is what the ledger gives.
func TestReadCacheReaderOutsideTheWindowReadsTheLedger(t *testing.T) {
	src := allCommitted(1, 500)
	cache := ledger.NewReadCache(src, 10)
	var ahead reader
	ahead.pos = src.ballots[399].Pos
	ahead.read(t, cache, 50)
	reads := src.reads
	var behind reader // from the start: before the window
	behind.read(t, cache, 20)
	if src.reads != reads+1 {
		t.Fatalf("a read before the window was not sent to the ledger")
	}
	inOrder(t, behind.got, src)
	// Behind's read became the window; ahead's next read, beyond it, goes to the ledger too.
	ahead.read(t, cache, 50)
	if src.reads != reads+2 || ahead.got[len(ahead.got)-1] != src.ballots[499] {
		t.Fatalf("ahead read %d ballots, the ledger %d times", len(ahead.got), src.reads-reads)
	}
}

// gated holds its first read until released, so that a second reader's read of the same ballots lands
// in the cache first.
type gated struct {
	*committed
	first   chan struct{}
	release chan struct{}
}

func (g *gated) BallotsAfter(ctx context.Context, pos ballot.Position, limit int) ([]ballot.Ballot, error) {
	bs, err := g.committed.BallotsAfter(ctx, pos, limit)
	select {
	case g.first <- struct{}{}:
		<-g.release
	default:
	}
	return bs, err
}

// Two readers that both miss at the same place read overlapping ballots from the ledger; the window keeps
// each ballot once, so a third reader reads them in order with none twice, from the window and then the
// ledger beyond it.
func TestReadCacheOverlappingReadsJoinOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	src := &gated{committed: &committed{}, first: make(chan struct{}), release: make(chan struct{})}
	src.grow(rng, 100)
	src.visible = 100
	cache := ledger.NewReadCache(src, 1000)
	done := make(chan []ballot.Ballot)
	go func() {
		bs, _ := cache.BallotsAfter(context.Background(), ballot.Position{}, 60) // held after reading 60
		done <- bs
	}()
	<-src.first
	var b reader
	b.read(t, cache, 30) // 30 from the ledger, now the window
	close(src.release)
	if a := <-done; len(a) != 60 {
		t.Fatalf("the held reader got %d ballots", len(a))
	}
	var c reader
	c.read(t, cache, 1000)
	if len(c.got) != 100 {
		t.Fatalf("the third reader got %d of the 100 ballots", len(c.got))
	}
	inOrder(t, c.got, src.committed)
	if src.served != 30+60+40 {
		t.Fatalf("the ledger gave %d ballots, not 30 + 60 + the 40 beyond the window", src.served)
	}
}

// What a reader does to the ballots it was given does not change what the other reader is given: each
// gets a copy, not the window's own.
func TestReadCacheReadersGetCopies(t *testing.T) {
	src := allCommitted(5, 200)
	cache := ledger.NewReadCache(src, 1000)
	first, err := cache.BallotsAfter(context.Background(), ballot.Position{}, 120) // from the ledger
	if err != nil {
		t.Fatal(err)
	}
	again, err := cache.BallotsAfter(context.Background(), ballot.Position{}, 60) // from the window
	if err != nil {
		t.Fatal(err)
	}
	for i := range first {
		first[i].Candidate = "tampered"
	}
	for i := range again {
		again[i].Candidate = "tampered"
	}
	var r reader
	r.read(t, cache, 200) // the window's 120, then the ledger's 80
	inOrder(t, r.got, src)
	if len(r.got) != 200 {
		t.Fatalf("read %d of 200 ballots", len(r.got))
	}
}

// Once the window has dropped its oldest answers, a reader still at the window's old start is sent to
// the ledger: it is not given the ballots after the dropped ones as if they followed its position.
func TestReadCacheReaderBehindDroppedAnswersReadsTheLedger(t *testing.T) {
	src := allCommitted(7, 300)
	cache := ledger.NewReadCache(src, 50)
	var ahead, behind reader
	for range 6 {
		ahead.read(t, cache, 40) // answers of 40; the window keeps the newest 50 ballots and more
	}
	reads := src.reads
	behind.read(t, cache, 30)
	if src.reads != reads+1 {
		t.Fatalf("a reader at the start was answered from a window that no longer holds it")
	}
	inOrder(t, behind.got, src)
}
