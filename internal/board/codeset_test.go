package board

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The set counts what a map of every code counts: each code added again after its first time, whatever
// list its hash falls in, twice or three times over.
func TestCodeSetCountsRepeatsAsAMapDoes(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	var s codeSet
	seen := map[string]bool{}
	want := uint64(0)
	var codes []string
	for i := range 20_000 {
		code := fmt.Sprintf("%08x-%d", rng.Uint32(), i)
		if len(codes) > 0 && rng.IntN(10) == 0 {
			code = codes[rng.IntN(len(codes))] // a repeat, perhaps of a repeat
		}
		codes = append(codes, code)
		if seen[code] {
			want++
		}
		seen[code] = true
		s.add(code)
	}
	if want == 0 {
		t.Fatal("the test made no repeats")
	}
	if got := s.duplicates(); got != want {
		t.Fatalf("duplicates: %d, a map counts %d", got, want)
	}
	var none codeSet
	for code := range seen {
		none.add(code)
	}
	if got := none.duplicates(); got != 0 {
		t.Fatalf("%d distinct codes: %d duplicates", len(seen), got)
	}
}
