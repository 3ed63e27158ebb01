// Package election describes an election as data: its parties, regions (states and constituencies),
// candidates and polling window. It loads and validates election files and provides the built-in
// presets. It knows nothing of voters, ballots or storage.
package election

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// Election is the definition every part of the pipeline shares. It is registered once in the ledger and
// read back from there by every process, so all instances agree on it.
type Election struct {
	Name           string         `json:"name"`
	Parties        []Party        `json:"parties"`
	States         []State        `json:"states"`
	Constituencies []Constituency `json:"constituencies"`
	Candidates     []Candidate    `json:"candidates"`
	Polls          Window         `json:"polls"`
	// Results says when results are public: "live" (as they are counted; also the empty value, which the
	// built-in simulations use) or "embargoed" (turnout only until the polls close, then everything: the
	// default for an election file). See the results package.
	Results string `json:"results,omitempty"`
	// RecountMargin, if set, flags a race whose margin is at most this share of its ballots (0.005: half a
	// percent) as close enough for a recount, as many election laws define one. The count stands either
	// way: the flag is for the people watching.
	RecountMargin float64 `json:"recount_margin,omitempty"`
	// TieRule says how a race that ends level is decided: "lots" (the default, also the empty value: a lot
	// is drawn between the level candidates, see the lots package) or "none" (the race stays tied, to be
	// settled outside the count, e.g. by a new poll).
	TieRule string `json:"tie_rule,omitempty"`
	// Seed makes the synthetic voters (and the simulator's choices) of this election reproducible.
	Seed int64 `json:"seed"`
}

// Party is a political party (or a grouping such as "Independent").
type Party struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Short string `json:"short"`
	// Colour is a CSS colour for charts; optional.
	Colour string `json:"colour,omitempty"`
}

// State is a first-level region (a state or union territory).
type State struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// Constituency is one race electing one seat. A constituency with an empty State is nationwide: its voters
// live in any state.
type Constituency struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State string `json:"state,omitempty"`
}

// Candidate stands in exactly one constituency for one party.
type Candidate struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Party        string `json:"party"`
	Constituency string `json:"constituency"`
	Biography    string `json:"biography,omitempty"`
	Platform     string `json:"platform,omitempty"`
	PhotoURL     string `json:"photo_url,omitempty"`
}

// When results are public (Election.Results).
const (
	ResultsLive      = "live"
	ResultsEmbargoed = "embargoed"
)

// Tie rules (Election.TieRule).
const (
	TieLots = "lots"
	TieNone = "none"
)

// DrawsLots reports whether a race that ends level is decided by lot.
func (e *Election) DrawsLots() bool { return e.TieRule == "" || e.TieRule == TieLots }

// Embargoed reports whether results stay hidden (turnout excepted) until the polls close.
func (e *Election) Embargoed() bool { return e.Results == ResultsEmbargoed }

// Photo is the candidate's photo URL: the one registered, or else the path of the portrait every instance
// that serves the API draws for the candidate ("/photos/ID.png"), so that every candidate has a picture
// served by the election itself, never from another host.
func (c *Candidate) Photo() string {
	if c.PhotoURL != "" {
		return c.PhotoURL
	}
	return "/photos/" + c.ID + ".png"
}

// Window is the polling window. A zero Closes means the polls close only when an operator says so.
type Window struct {
	Opens  time.Time `json:"opens,omitzero"`
	Closes time.Time `json:"closes,omitzero"`
}

// Load reads and validates an election file (JSON). Errors name the file and, for syntax errors, the line.
func Load(path string) (*Election, error) {
	e, err := LoadDraft(path)
	if err != nil {
		return nil, err
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("election file %s: %w", path, err)
	}
	return e, nil
}

// LoadDraft reads an election file without validating it, for callers that complete the definition
// first (candidates from a CSV file) and then call Validate.
func LoadDraft(path string) (*Election, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("election file: %w", err)
	}
	e, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("election file %s: %w", path, err)
	}
	// A real election publishes no results before its polls close unless its file says otherwise.
	if e.Results == "" {
		e.Results = ResultsEmbargoed
	}
	return e, nil
}

// Parse decodes and validates an election definition.
func Parse(data []byte) (*Election, error) {
	e, err := decode(data)
	if err != nil {
		return nil, err
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return e, nil
}

// decode reads an election definition. Unknown fields are errors: a misspelt field name would otherwise
// be silently ignored.
func decode(data []byte) (*Election, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var e Election
	if err := dec.Decode(&e); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			line, col := position(data, syn.Offset)
			return nil, fmt.Errorf("line %d column %d: %v", line, col, err)
		case errors.As(err, &typ):
			line, col := position(data, typ.Offset)
			return nil, fmt.Errorf("line %d column %d: field %q: %v", line, col, typ.Field, err)
		}
		return nil, err
	}
	return &e, nil
}

func position(data []byte, offset int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < offset && i < int64(len(data)); i++ {
		if data[i] == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// Validate checks the references between parties, states, constituencies and candidates, and reports the
// first problem found with the path of the offending field.
func (e *Election) Validate() error {
	if strings.TrimSpace(e.Name) == "" {
		return errors.New("name: must not be empty")
	}
	parties := map[string]bool{}
	for i, p := range e.Parties {
		if err := CheckID(p.ID); err != nil {
			return fmt.Errorf("parties[%d].id: %w", i, err)
		}
		if parties[p.ID] {
			return fmt.Errorf("parties[%d].id: duplicate id %q", i, p.ID)
		}
		if strings.TrimSpace(p.Name) == "" {
			return fmt.Errorf("parties[%d].name: must not be empty", i)
		}
		parties[p.ID] = true
	}
	states := map[string]bool{}
	for i, s := range e.States {
		if err := CheckID(s.Code); err != nil {
			return fmt.Errorf("states[%d].code: %w", i, err)
		}
		if states[s.Code] {
			return fmt.Errorf("states[%d].code: duplicate code %q", i, s.Code)
		}
		states[s.Code] = true
	}
	if len(e.States) == 0 {
		return errors.New("states: at least one state is needed (voters live in states)")
	}
	cons := map[string]bool{}
	for i, c := range e.Constituencies {
		if err := CheckID(c.ID); err != nil {
			return fmt.Errorf("constituencies[%d].id: %w", i, err)
		}
		if cons[c.ID] {
			return fmt.Errorf("constituencies[%d].id: duplicate id %q", i, c.ID)
		}
		if c.State != "" && !states[c.State] {
			return fmt.Errorf("constituencies[%d].state: unknown state %q", i, c.State)
		}
		cons[c.ID] = true
	}
	if len(e.Constituencies) == 0 {
		return errors.New("constituencies: at least one constituency is needed")
	}
	cands := map[string]bool{}
	perCons := map[string]int{}
	for i, c := range e.Candidates {
		if err := CheckID(c.ID); err != nil {
			return fmt.Errorf("candidates[%d].id: %w", i, err)
		}
		if cands[c.ID] {
			return fmt.Errorf("candidates[%d].id: duplicate id %q", i, c.ID)
		}
		if strings.TrimSpace(c.Name) == "" {
			return fmt.Errorf("candidates[%d].name: must not be empty", i)
		}
		if !parties[c.Party] {
			return fmt.Errorf("candidates[%d].party: unknown party %q", i, c.Party)
		}
		if !cons[c.Constituency] {
			return fmt.Errorf("candidates[%d].constituency: unknown constituency %q", i, c.Constituency)
		}
		if c.PhotoURL != "" {
			if u, err := url.Parse(c.PhotoURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("candidates[%d].photo_url: %q is not an http or https URL", i, c.PhotoURL)
			}
		}
		cands[c.ID] = true
		perCons[c.Constituency]++
	}
	for i, c := range e.Constituencies {
		if perCons[c.ID] == 0 {
			return fmt.Errorf("constituencies[%d]: %q has no candidates", i, c.ID)
		}
	}
	switch e.Results {
	case "", ResultsLive, ResultsEmbargoed:
	default:
		return fmt.Errorf("results: %q: want %q (published as counted) or %q (turnout only until the polls close)", e.Results, ResultsLive, ResultsEmbargoed)
	}
	switch e.TieRule {
	case "", TieLots, TieNone:
	default:
		return fmt.Errorf("tie_rule: %q: want %q (a lot is drawn between the level candidates; the default) or %q (the race stays tied)", e.TieRule, TieLots, TieNone)
	}
	if e.RecountMargin < 0 || e.RecountMargin >= 1 {
		return fmt.Errorf("recount_margin: %v: want a share of a race's ballots, from 0 (no flag) up to but not including 1 (0.005 is half a percent)", e.RecountMargin)
	}
	if !e.Polls.Opens.IsZero() && !e.Polls.Closes.IsZero() && !e.Polls.Closes.After(e.Polls.Opens) {
		return errors.New("polls.closes: must be after polls.opens")
	}
	return nil
}

// CheckID keeps identifiers (of parties, regions, candidates, voters) safe to use as Kafka keys, URL path
// segments and CSV values.
func CheckID(id string) error {
	if id == "" {
		return errors.New("must not be empty")
	}
	if len(id) > 64 {
		return fmt.Errorf("%q is longer than 64 characters", id)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return fmt.Errorf("%q may contain only letters, digits, '-', '_' and '.'", id)
		}
	}
	return nil
}

// Index gives constant-time look-ups over a validated election.
type Index struct {
	*Election
	Party        map[string]*Party
	State        map[string]*State
	Constituency map[string]*Constituency
	Candidate    map[string]*Candidate
	// Ballot lists the candidates standing in each constituency, in definition order.
	Ballot map[string][]*Candidate
}

// NewIndex builds look-up maps; e must be valid.
func NewIndex(e *Election) *Index {
	ix := &Index{
		Election:     e,
		Party:        make(map[string]*Party, len(e.Parties)),
		State:        make(map[string]*State, len(e.States)),
		Constituency: make(map[string]*Constituency, len(e.Constituencies)),
		Candidate:    make(map[string]*Candidate, len(e.Candidates)),
		Ballot:       make(map[string][]*Candidate, len(e.Constituencies)),
	}
	for i := range e.Parties {
		ix.Party[e.Parties[i].ID] = &e.Parties[i]
	}
	for i := range e.States {
		ix.State[e.States[i].Code] = &e.States[i]
	}
	for i := range e.Constituencies {
		ix.Constituency[e.Constituencies[i].ID] = &e.Constituencies[i]
	}
	for i := range e.Candidates {
		c := &e.Candidates[i]
		ix.Candidate[c.ID] = c
		ix.Ballot[c.Constituency] = append(ix.Ballot[c.Constituency], c)
	}
	return ix
}

// Seats is the number of seats (one per constituency); Majority is the smallest number of seats that is
// more than half.
func (e *Election) Seats() int    { return len(e.Constituencies) }
func (e *Election) Majority() int { return e.Seats()/2 + 1 }
