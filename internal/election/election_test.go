package election

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPresets(t *testing.T) {
	seed, err := Preset("seed")
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.Validate(); err != nil {
		t.Fatalf("seed preset invalid: %v", err)
	}
	want := map[string]bool{"Management Party": true, "Savior Party": true, "Tech Republic Party": true}
	for _, p := range seed.Parties {
		delete(want, p.Name)
	}
	if len(want) != 0 || len(seed.Candidates) != 3 || len(seed.Constituencies) != 1 {
		t.Fatalf("seed preset: missing parties %v, %d candidates", want, len(seed.Candidates))
	}

	nat, err := Preset("national")
	if err != nil {
		t.Fatal(err)
	}
	if err := nat.Validate(); err != nil {
		t.Fatalf("national preset invalid: %v", err)
	}
	if len(nat.States) != 36 || nat.Seats() != 543 || nat.Majority() != 272 {
		t.Fatalf("national: %d states, %d seats, majority %d", len(nat.States), nat.Seats(), nat.Majority())
	}
	ix := NewIndex(nat)
	seats := map[string]int{}
	for _, c := range nat.Constituencies {
		seats[c.State]++
		if n := len(ix.Ballot[c.ID]); n < 5 || n > 15 {
			t.Errorf("%s has %d candidates, want 5-15", c.ID, n)
		}
	}
	named := map[string]string{}
	for _, c := range nat.Constituencies {
		if other, ok := named[c.Name]; ok {
			t.Errorf("%s and %s are both named %q", other, c.ID, c.Name)
		}
		named[c.Name] = c.ID
	}
	for code, n := range map[string]int{"UP": 80, "MH": 48, "WB": 42, "DNHDD": 2, "LD": 1, "TN": 39} {
		if seats[code] != n {
			t.Errorf("%s has %d seats, want %d", code, seats[code], n)
		}
	}
	again, _ := Preset("national")
	if again.Candidates[100] != nat.Candidates[100] {
		t.Fatal("national preset is not deterministic")
	}
	if _, err := Preset("nope"); err == nil || !strings.Contains(err.Error(), "seed, national") {
		t.Fatalf("unknown preset: %v", err)
	}
}

func TestLoadReportsWhereAFileIsWrong(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ name, body, want string }{
		{"syntax", "{\n  \"name\": \"x\",\n  \"parties\": [,]\n}", "line 3 column"},
		{"type", "{\n  \"name\": 5\n}", `line 2 column 12: field "name"`},
		{"unknown field", `{"name": "x", "partys": []}`, `unknown field "partys"`},
		{"bad reference", `{"name":"x","parties":[{"id":"p","name":"P"}],"states":[{"code":"S","name":"S"}],
			"constituencies":[{"id":"c","name":"C","state":"S"}],
			"candidates":[{"id":"a","name":"A","party":"q","constituency":"c"}]}`, `candidates[0].party: unknown party "q"`},
		{"no candidates", `{"name":"x","parties":[{"id":"p","name":"P"}],"states":[{"code":"S","name":"S"}],
			"constituencies":[{"id":"c","name":"C","state":"S"}],"candidates":[]}`, `constituencies[0]: "c" has no candidates`},
	}
	for _, c := range cases {
		p := filepath.Join(dir, c.name+".json")
		os.WriteFile(p, []byte(c.body), 0o644)
		_, err := Load(p)
		if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want the path and %q", c.name, err, c.want)
		}
	}
}

// An election file publishes no results before its polls close unless it says "live"; the built-in
// simulations are live; anything else is refused.
func TestResultsEmbargoDefaults(t *testing.T) {
	dir := t.TempDir()
	seed, _ := Preset("seed")
	if seed.Embargoed() {
		t.Fatal("the seed simulation is embargoed")
	}
	write := func(results string) string {
		e := *seed
		e.Results = results
		data, _ := json.Marshal(&e)
		p := filepath.Join(dir, "e"+results+".json")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for results, embargoed := range map[string]bool{"": true, ResultsLive: false, ResultsEmbargoed: true} {
		e, err := Load(write(results))
		if err != nil || e.Embargoed() != embargoed {
			t.Fatalf("results %q: embargoed %v, err %v; want %v", results, e != nil && e.Embargoed(), err, embargoed)
		}
	}
	if _, err := Load(write("sometimes")); err == nil || !strings.Contains(err.Error(), `results: "sometimes"`) {
		t.Fatalf("a bad results value: %v", err)
	}
}

// A recount margin is a share of a race's ballots.
func TestRecountMarginIsAShare(t *testing.T) {
	for m, ok := range map[float64]bool{0: true, 0.005: true, 0.5: true, -0.1: false, 1: false, 5: false} {
		e, _ := Preset("seed")
		e.RecountMargin = m
		if err := e.Validate(); (err == nil) != ok || err != nil && !strings.Contains(err.Error(), "recount_margin") {
			t.Errorf("recount_margin %v: %v", m, err)
		}
	}
}
