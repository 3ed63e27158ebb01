package ledger_test

import (
	"math/bits"
	"testing"
	"time"

	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/testenv"
)

func TestPiecesCoverTheListInPowersOfTwo(t *testing.T) {
	t.Parallel()
	for _, max := range []int{1, 8, 4096} {
		for n := 0; n <= 3*max+17; n++ {
			next, last := 0, max
			err := ledger.PiecesForTest(n, max, func(lo, hi int) error {
				size := hi - lo
				switch {
				case lo != next:
					t.Fatalf("n=%d max=%d: piece [%d,%d) after one ending at %d", n, max, lo, hi, next)
				case size <= 0 || size > last || bits.OnesCount(uint(size)) != 1:
					t.Fatalf("n=%d max=%d: piece of %d after one of %d: want a power of two, largest first, at most %d", n, max, size, last, max)
				}
				next, last = hi, size
				return nil
			})
			testenv.Must(t, err, "pieces")
			if next != n {
				t.Fatalf("n=%d max=%d: pieces end at %d", n, max, next)
			}
		}
	}
}

// Casting batches of every size from 1 to 300 leaves a few dozen statements prepared: lists are cut into
// power-of-two pieces, so texts do not multiply with batch sizes (each would be parsed anew, and the
// cache would fill with texts used once).
func TestCastingPreparesAFewTexts(t *testing.T) {
	t.Parallel()
	s, err := ledger.Open(testenv.Context(t), ledger.Config{SQLitePath: t.TempDir() + "/ledger.db", Logger: testenv.Logger(t)})
	testenv.Must(t, err, "open")
	t.Cleanup(s.Close)
	ctx := testenv.Context(t)
	const voters = 300 * 301 / 2
	e, ix, g := nationalVoters(t, s, voters)
	next := int64(0)
	for n := 1; n <= 300; n++ {
		reqs := make([]ledger.CastRequest, n)
		for k := range reqs {
			v := g.Voter(next)
			next++
			on, _, _ := candidatesOnAndOff(e, v.Constituency)
			reqs[k] = ledger.CastRequest{VoterID: v.ID, Credential: g.Credential(v.ID), CandidateID: on}
		}
		_, errs, err := s.CastBatch(ctx, ix, reqs, time.Now())
		testenv.Must(t, err, "batch of %d", n)
		for k, err := range errs {
			testenv.Must(t, err, "batch of %d, request %d", n, k)
		}
	}
	// Per list statement of casting (5 of them) one text for each of the 9 sizes 1..256, and
	// registration's and the fixed texts: about 70. A text per batch size would be 5 x 300, and fill the
	// cache (256).
	got := s.PreparedForTest()
	t.Logf("%d statements prepared", got)
	if got < 5 || got > 100 {
		t.Fatalf("%d statements prepared after batches of 1 to 300 ballots; want a few dozen", got)
	}
}
