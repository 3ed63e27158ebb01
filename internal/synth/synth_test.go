package synth

import (
	"strings"
	"testing"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/names"
)

func TestVotersAreDeterministicAndSpread(t *testing.T) {
	e, _ := election.Preset("national")
	ix := election.NewIndex(e)
	a, b := NewGenerator(ix, []byte("k")), NewGenerator(ix, []byte("k"))
	for _, i := range []int64{0, 1, 999, 123456} {
		if a.Voter(i) != b.Voter(i) || a.Credential(VoterID(i)) != b.Credential(VoterID(i)) {
			t.Fatalf("voter %d differs between two generators with the same seed", i)
		}
	}
	if a.Credential("V1") == NewGenerator(ix, []byte("other")).Credential("V1") {
		t.Fatal("credentials do not depend on the secret")
	}
	perState := map[string]int{}
	for i := range int64(543 * 20) {
		v := a.Voter(i)
		if a.Constituency(i) != v.Constituency || v.ID != VoterID(i) {
			t.Fatalf("voter %d: Constituency/VoterID disagree with Voter", i)
		}
		if ix.Constituency[v.Constituency].State != v.State {
			t.Fatalf("voter %d lives in %s but votes in %s", i, v.State, v.Constituency)
		}
		c := a.Choice(i, v.Constituency)
		if ix.Candidate[c].Constituency != v.Constituency {
			t.Fatalf("voter %d chose %s, not on their ballot", i, c)
		}
		perState[v.State]++
	}
	if perState["UP"] != 80*20 || perState["LD"] != 20 {
		t.Fatalf("voters not proportional to seats: UP %d, LD %d", perState["UP"], perState["LD"])
	}
}

// A voter's first name agrees with their recorded gender.
func TestNamesAgreeWithGender(t *testing.T) {
	e, _ := election.Preset("national")
	g := NewGenerator(election.NewIndex(e), []byte("k"))
	in := func(list []string, name string) bool {
		for _, n := range list {
			if n == name {
				return true
			}
		}
		return false
	}
	for i := range int64(5000) {
		v := g.Voter(i)
		first, _, _ := strings.Cut(v.Name, " ")
		ok := in(names.Neutral, first) || v.Gender == "female" && in(names.Female, first) || v.Gender == "male" && in(names.Male, first)
		if !ok {
			t.Fatalf("voter %d is %s and %s", i, v.Name, v.Gender)
		}
	}
}
