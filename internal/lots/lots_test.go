package lots

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"testing"
)

func seed(b byte) []byte { return bytes.Repeat([]byte{b}, SeedBytes) }

func TestDrawIsOneOfTheLevelAndIgnoresTheirOrder(t *testing.T) {
	level := []string{"c3", "c1", "c2"}
	for i := range 50 {
		s := seed(byte(i))
		w := Draw(s, "K1", level)
		if w != "c1" && w != "c2" && w != "c3" {
			t.Fatalf("seed %d: drew %q, not one of the level candidates", i, w)
		}
		if again := Draw(s, "K1", []string{"c2", "c3", "c1"}); again != w {
			t.Fatalf("seed %d: drew %q, and %q with the same candidates in another order", i, w, again)
		}
	}
	if Draw(seed(1), "K1", nil) != "" {
		t.Error("a draw among nobody named someone")
	}
}

// Each level candidate wins about as often as the others over many seeds, and the race's id is part
// of the draw (two races level between the same pair are drawn separately).
func TestDrawIsFairAndPerRace(t *testing.T) {
	wins := map[string]int{}
	differ := 0
	for i := range 3000 {
		s := []byte(fmt.Sprintf("%032d", i))
		w := Draw(s, "K1", []string{"a", "b", "c"})
		wins[w]++
		if Draw(s, "K1", []string{"a", "b"}) != Draw(s, "K2", []string{"a", "b"}) {
			differ++
		}
	}
	for _, c := range []string{"a", "b", "c"} {
		if wins[c] < 850 || wins[c] > 1150 { // 1000 expected; 1150 is over 5 standard deviations out
			t.Errorf("candidate %s won %d of 3000 draws, want about 1000: %v", c, wins[c], wins)
		}
	}
	if differ < 1200 || differ > 1800 {
		t.Errorf("two races level between the same pair were drawn differently %d times in 3000, want about 1500", differ)
	}
}

func TestCommitment(t *testing.T) {
	s := seed(7)
	c := Commitment(s)
	if got, ok := Matches(hex.EncodeToString(s), c); !ok || !bytes.Equal(got, s) {
		t.Fatal("a seed does not match its own commitment")
	}
	for _, bad := range []string{hex.EncodeToString(seed(8)), "zz", hex.EncodeToString(s[:31]), ""} {
		if _, ok := Matches(bad, c); ok {
			t.Errorf("seed %q matches another seed's commitment", bad)
		}
	}
}
