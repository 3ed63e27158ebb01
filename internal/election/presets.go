package election

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/election/election/internal/names"
)

// Presets names the built-in elections.
var Presets = []string{"seed", "national"}

// Preset returns a built-in election by name.
func Preset(name string) (*Election, error) {
	switch name {
	case "seed":
		return seedPreset(), nil
	case "national":
		return nationalPreset(2024), nil
	}
	return nil, fmt.Errorf("unknown preset %q (built-in presets: %s; or give an election file path)", name, strings.Join(Presets, ", "))
}

// seedPreset reproduces the tutorial's election: three parties, three candidates, one nationwide race.
func seedPreset() *Election {
	e := &Election{
		Name: "Seed election",
		Seed: 1,
		Parties: []Party{
			{ID: "management", Name: "Management Party", Short: "MP", Colour: "#1f77b4"},
			{ID: "savior", Name: "Savior Party", Short: "SP", Colour: "#d62728"},
			{ID: "tech-republic", Name: "Tech Republic Party", Short: "TRP", Colour: "#2ca02c"},
		},
		States: []State{
			{Code: "N", Name: "Northern Region"}, {Code: "S", Name: "Southern Region"},
			{Code: "E", Name: "Eastern Region"}, {Code: "W", Name: "Western Region"},
			{Code: "C", Name: "Central Region"},
		},
		Constituencies: []Constituency{{ID: "nation", Name: "Nationwide"}},
	}
	names := []string{"Avery Holt", "Morgan Reyes", "Jordan Okafor"}
	for i, p := range e.Parties {
		id := fmt.Sprintf("cand-%d", i+1)
		e.Candidates = append(e.Candidates, Candidate{
			ID: id, Name: names[i], Party: p.ID, Constituency: "nation",
			Biography: fmt.Sprintf("%s leads the %s.", names[i], p.Name),
			Platform:  fmt.Sprintf("The %s platform.", p.Name),
		})
	}
	return e
}

// lokSabha lists India's 36 states and union territories with their Lok Sabha seat counts (543 in all),
// in a rough north-to-south order.
var lokSabha = []struct {
	code, name string
	seats      int
}{
	{"JK", "Jammu and Kashmir", 5}, {"LA", "Ladakh", 1}, {"HP", "Himachal Pradesh", 4},
	{"PB", "Punjab", 13}, {"CH", "Chandigarh", 1}, {"UK", "Uttarakhand", 5},
	{"HR", "Haryana", 10}, {"DL", "Delhi", 7}, {"RJ", "Rajasthan", 25},
	{"UP", "Uttar Pradesh", 80}, {"BR", "Bihar", 40}, {"SK", "Sikkim", 1},
	{"AR", "Arunachal Pradesh", 2}, {"AS", "Assam", 14}, {"NL", "Nagaland", 1},
	{"ML", "Meghalaya", 2}, {"MN", "Manipur", 2}, {"MZ", "Mizoram", 1},
	{"TR", "Tripura", 2}, {"WB", "West Bengal", 42}, {"JH", "Jharkhand", 14},
	{"OD", "Odisha", 21}, {"CG", "Chhattisgarh", 11}, {"MP", "Madhya Pradesh", 29},
	{"GJ", "Gujarat", 26}, {"DNHDD", "Dadra and Nagar Haveli and Daman and Diu", 2},
	{"MH", "Maharashtra", 48}, {"TS", "Telangana", 17}, {"AP", "Andhra Pradesh", 25},
	{"KA", "Karnataka", 28}, {"GA", "Goa", 2}, {"KL", "Kerala", 20},
	{"TN", "Tamil Nadu", 39}, {"PY", "Puducherry", 1}, {"LD", "Lakshadweep", 1},
	{"AN", "Andaman and Nicobar Islands", 1},
}

// nationalParties are fictional; strength weighs how often a party fields a candidate.
var nationalParties = []struct {
	Party
	strength float64
}{
	{Party{ID: "ppp", Name: "People's Progress Party", Short: "PPP", Colour: "#e6862a"}, 1.0},
	{Party{ID: "nuf", Name: "National Unity Front", Short: "NUF", Colour: "#2a7de6"}, 0.95},
	{Party{ID: "ghp", Name: "Green Harvest Party", Short: "GHP", Colour: "#2e9e4f"}, 0.6},
	{Party{ID: "wdl", Name: "Workers' Democratic League", Short: "WDL", Colour: "#c0392b"}, 0.5},
	{Party{ID: "lf", Name: "Liberty Forum", Short: "LF", Colour: "#8e44ad"}, 0.45},
	{Party{ID: "rpa", Name: "Regional Pride Alliance", Short: "RPA", Colour: "#d4ac0d"}, 0.4},
	{Party{ID: "cpc", Name: "Coastal People's Congress", Short: "CPC", Colour: "#16a085"}, 0.3},
	{Party{ID: "fsp", Name: "Future Society Party", Short: "FSP", Colour: "#d63384"}, 0.3},
	{Party{ID: "ind", Name: "Independent", Short: "IND", Colour: "#4a5568"}, 0}, // dark slate: apart from the light grey of "Others" and "not yet decided"
}

// nationalPreset is a general election shaped like India's Lok Sabha: 36 states/UTs, 543 constituencies,
// 5–15 candidates in each, fictional parties and people. Deterministic in seed.
func nationalPreset(seed int64) *Election {
	e := &Election{Name: "National general election", Seed: seed}
	for _, p := range nationalParties {
		e.Parties = append(e.Parties, p.Party)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x6e6174696f6e616c))
	used := map[string]bool{} // constituency names are drawn again until new: two races named alike confuse everyone
	for _, s := range lokSabha {
		e.States = append(e.States, State{Code: s.code, Name: s.name})
		for n := 1; n <= s.seats; n++ {
			id := fmt.Sprintf("%s-%02d", s.code, n)
			name := s.name
			for s.seats > 1 && (name == s.name || used[name]) {
				name = fmt.Sprintf("%s %s", placeName(rng), suffixes[rng.IntN(len(suffixes))])
			}
			used[name] = true
			e.Constituencies = append(e.Constituencies, Constituency{ID: id, Name: name, State: s.code})
			for i, party := range nationalBallot(rng) {
				first := names.First[rng.IntN(len(names.First))]
				last := names.Last[rng.IntN(len(names.Last))]
				e.Candidates = append(e.Candidates, Candidate{
					ID:           fmt.Sprintf("%s-c%02d", id, i+1),
					Name:         first + " " + last,
					Party:        party,
					Constituency: id,
					Biography:    fmt.Sprintf("%s %s stands for %s in %s.", first, last, partyName(party), name),
				})
			}
		}
	}
	return e
}

var suffixes = []string{"North", "South", "East", "West", "Central", "Rural", "Urban", "Junction", "Nagar", "Pur"}

func placeName(rng *rand.Rand) string {
	a := placeStems[rng.IntN(len(placeStems))]
	b := placeEnds[rng.IntN(len(placeEnds))]
	return a + b
}

var placeStems = []string{"Amar", "Bhim", "Chandra", "Dev", "Ganga", "Hari", "Indra", "Jay", "Kama", "Lakshmi",
	"Madhu", "Nanda", "Oma", "Padma", "Rama", "Sagar", "Tara", "Uma", "Vasu", "Yamu", "Kesar", "Neel", "Surya", "Megh"}
var placeEnds = []string{"garh", "abad", "nagar", "pur", "kot", "wadi", "ganj", "pet", "halli", "puram", "dham", "sar"}

func partyName(id string) string {
	for _, p := range nationalParties {
		if p.ID == id {
			return p.Name
		}
	}
	return id
}

// nationalBallot picks 5–15 candidacies: each party at most once (weighted by strength), then independents.
func nationalBallot(rng *rand.Rand) []string {
	n := 5 + rng.IntN(11)
	type pick struct {
		id  string
		key float64
	}
	var picks []pick
	for _, p := range nationalParties {
		if p.strength > 0 && rng.Float64() < p.strength {
			picks = append(picks, pick{p.ID, rng.Float64()})
		}
	}
	sort.Slice(picks, func(i, j int) bool { return picks[i].key < picks[j].key })
	var out []string
	for _, p := range picks {
		if len(out) < n {
			out = append(out, p.id)
		}
	}
	for len(out) < n {
		out = append(out, "ind")
	}
	return out
}
