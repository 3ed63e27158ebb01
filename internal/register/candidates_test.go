package register_test

import (
	"strings"
	"testing"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/register"
	"github.com/election/election/internal/testenv"
)

const candidatesHeader = "candidate_id,candidate_name,party_affiliation,constituency_id,photo_url\n"

// union is an election file's worth of definition with no candidates: they come from the CSV.
func union() *election.Election {
	return &election.Election{
		Name:           "Union steward election",
		Parties:        []election.Party{{ID: "slate-a", Name: "Slate A"}, {ID: "ind", Name: "Independent"}},
		States:         []election.State{{Code: "HQ", Name: "Headquarters"}},
		Constituencies: []election.Constituency{{ID: "floor-1", Name: "Floor 1", State: "HQ"}, {ID: "floor-2", Name: "Floor 2", State: "HQ"}},
	}
}

func TestReadCandidatesCSV(t *testing.T) {
	t.Parallel()
	path := write(t, "\ufeffcandidate_name,candidate_id,constituency_id,party_affiliation,biography,campaign_platform,photo_url\n"+
		"Asha Rao,asha,floor-1,slate-a,\"Steward since 2019, shift lead\",Safer shifts,https://example.org/asha.jpg\n"+
		"Ravi Iyer,ravi,floor-1,ind,,,\n"+
		"Mira Das,mira,floor-2,slate-a,,,\n")
	e := union()
	cands, err := register.ReadCandidatesCSV(path, e)
	testenv.Must(t, err, "read")
	want := []election.Candidate{
		{ID: "asha", Name: "Asha Rao", Party: "slate-a", Constituency: "floor-1", Biography: "Steward since 2019, shift lead", Platform: "Safer shifts", PhotoURL: "https://example.org/asha.jpg"},
		{ID: "ravi", Name: "Ravi Iyer", Party: "ind", Constituency: "floor-1"},
		{ID: "mira", Name: "Mira Das", Party: "slate-a", Constituency: "floor-2"},
	}
	if len(cands) != len(want) {
		t.Fatalf("read %d candidates, want %d: %+v", len(cands), len(want), cands)
	}
	for i := range want {
		if cands[i] != want[i] {
			t.Errorf("row %d: got %+v, want %+v", i+2, cands[i], want[i])
		}
	}
	// With them, the election is complete.
	e.Candidates = cands
	testenv.Must(t, e.Validate(), "validate the completed election")
}

func TestReadCandidatesCSVBadRows(t *testing.T) {
	t.Parallel()
	good := "c1,Good Row,slate-a,floor-1,\n"
	cases := []struct {
		name, body, want string
	}{
		{"unknown party", candidatesHeader + good + "c2,X Y,greens,floor-1,\n", `:3: column party_affiliation: unknown party "greens"`},
		{"unknown constituency", candidatesHeader + good + "c2,X Y,ind,floor-9,\n", `:3: column constituency_id: unknown constituency "floor-9"`},
		{"empty name", candidatesHeader + good + "c2,,ind,floor-1,\n", `:3: column candidate_name: must not be empty`},
		{"bad id", candidatesHeader + good + "c 2,X Y,ind,floor-1,\n", `:3: column candidate_id: "c 2" may contain only`},
		{"repeated id", candidatesHeader + good + "c2,X Y,ind,floor-2,\nc1,Again,ind,floor-2,\n", `:4: column candidate_id: "c1" is already used on line 2`},
		{"id in the election file", candidatesHeader + "old,X Y,ind,floor-2,\n", `:2: column candidate_id: "old" is already a candidate in the election file`},
		{"script photo", candidatesHeader + good + "c2,X Y,ind,floor-1,javascript:alert(1)\n", `:3: column photo_url: "javascript:alert(1)" is not an http or https URL`},
		{"wrong field count", candidatesHeader + good + "c2,X Y\n", `:3: column`},
		{"unknown column", "candidate_id,candidate_name,slogan,party_affiliation,constituency_id\n", `:1: column 3: unknown column "slogan"`},
		{"missing column", "candidate_id,candidate_name,constituency_id\n", `:1: column party_affiliation: required column missing`},
		{"header only", candidatesHeader, `:2: no candidates`},
		{"empty file", "", `:1: the file is empty`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := union()
			e.Candidates = []election.Candidate{{ID: "old", Name: "Already Listed", Party: "ind", Constituency: "floor-1"}}
			path := write(t, c.body)
			cands, err := register.ReadCandidatesCSV(path, e)
			if err == nil || !strings.Contains(err.Error(), path+c.want) || !strings.Contains(err.Error(), "nothing was imported") {
				t.Fatalf("got %v\nwant it to contain %q", err, path+c.want)
			}
			if cands != nil {
				t.Fatalf("a bad file returned candidates: %+v", cands)
			}
		})
	}
}
