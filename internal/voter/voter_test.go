package voter

import (
	"math/rand/v2"
	"testing"
)

// The ledger finds a voter's row by the number Number reads from the id (SQLite), so Number must be ID's
// exact inverse: a number gives back its own id, and an id is read as a number only when it is that
// number's id. Otherwise two ids could name one voter's row.
func TestNumberIsIDsInverse(t *testing.T) {
	for _, no := range []int64{0, 1, 8, 9, 99, 999_999_998, 999_999_999, 1_000_000_000, 123_456_789_012, 999_999_999_999_999_998} {
		id := ID(no)
		got, ok := Number(id)
		if !ok || got != no {
			t.Errorf("Number(ID(%d) = %q) = %d, %v", no, id, got, ok)
		}
	}
	if got := ID(41); got != "V000000042" {
		t.Errorf("ID(41) = %q, want V000000042 (the generator's voter ids, which ledgers already hold)", got)
	}
	for _, id := range []string{"", "V", "V00000001", "V000000000", "V0000000001", "v000000001", "V00000000a",
		"V-00000001", "V+00000001", " V000000001", "V000000001 ", "W000000001", "V1000000000000000000", "V00000000١"} {
		if no, ok := Number(id); ok {
			t.Errorf("Number(%q) = %d, true; ID(%d) = %q", id, no, no, ID(no))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "V0123456789 -x"
	for range 200_000 {
		b := make([]byte, rng.IntN(21))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if rng.IntN(2) == 0 && len(b) > 0 {
			b[0] = 'V'
		}
		if no, ok := Number(string(b)); ok && ID(no) != string(b) {
			t.Fatalf("Number(%q) = %d, but ID(%d) = %q", b, no, no, ID(no))
		}
	}
	// Ids one edit away from a number's own: most are other numbers' own ids, the rest none.
	for range 200_000 {
		b := []byte(ID(rng.Int64N(1 << rng.IntN(40))))
		switch k := rng.IntN(len(b)); rng.IntN(3) {
		case 0:
			b[k] = alphabet[rng.IntN(len(alphabet))]
		case 1:
			b = append(b[:k], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[k:]...)...)
		default:
			b = append(b[:k], b[k+1:]...)
		}
		if no, ok := Number(string(b)); ok && ID(no) != string(b) {
			t.Fatalf("Number(%q) = %d, but ID(%d) = %q", b, no, no, ID(no))
		}
	}
}
