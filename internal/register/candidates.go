package register

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/election/election/internal/election"
)

// CandidateColumns are the columns a candidates CSV may have: the tutorial's candidate fields and the
// constituency. The header row names them, in any order; candidate_id, candidate_name, party_affiliation
// and constituency_id are required, the others may be left out.
var CandidateColumns = []string{"candidate_id", "candidate_name", "party_affiliation", "constituency_id",
	"biography", "campaign_platform", "photo_url"}

var requiredCandidateColumns = []string{"candidate_id", "candidate_name", "party_affiliation", "constituency_id"}

// ReadCandidatesCSV reads a candidates CSV and checks every row against e: a known party (by id) and
// constituency, an id used by no other candidate of the file or of e, a name, and a photo URL (if any)
// that is http or https. It returns the candidates in file order, or the first bad row as a *CSVError and
// no candidates. Candidate lists are small (thousands), so the file is read into memory.
func ReadCandidatesCSV(path string, e *election.Election) ([]election.Candidate, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("candidates CSV: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	col, err := readHeader(r, path, CandidateColumns, requiredCandidateColumns)
	if err != nil {
		return nil, err
	}
	parties, constituencies, taken := map[string]bool{}, map[string]bool{}, map[string]int{}
	var partyIDs []string
	for _, p := range e.Parties {
		parties[p.ID] = true
		partyIDs = append(partyIDs, p.ID)
	}
	for _, c := range e.Constituencies {
		constituencies[c.ID] = true
	}
	for _, c := range e.Candidates {
		taken[c.ID] = 0 // listed in the election file
	}
	var out []election.Candidate
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, wrapCSV(path, err)
		}
		line, _ := r.FieldPos(0)
		get := func(c string) string {
			if i, ok := col[c]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		bad := func(column, format string, args ...any) error {
			return &CSVError{File: path, Line: line, Column: column, Msg: fmt.Sprintf(format, args...)}
		}
		c := election.Candidate{ID: get("candidate_id"), Name: get("candidate_name"), Party: get("party_affiliation"),
			Constituency: get("constituency_id"), Biography: get("biography"), Platform: get("campaign_platform"),
			PhotoURL: get("photo_url")}
		if err := election.CheckID(c.ID); err != nil {
			return nil, bad("candidate_id", "%v", err)
		}
		if prev, dup := taken[c.ID]; dup {
			if prev == 0 {
				return nil, bad("candidate_id", "%q is already a candidate in the election file", c.ID)
			}
			return nil, bad("candidate_id", "%q is already used on line %d", c.ID, prev)
		}
		if c.Name == "" {
			return nil, bad("candidate_name", "must not be empty")
		}
		if !parties[c.Party] {
			return nil, bad("party_affiliation", "unknown party %q (the election's party ids: %s)", c.Party, strings.Join(partyIDs, ", "))
		}
		if !constituencies[c.Constituency] {
			return nil, bad("constituency_id", "unknown constituency %q", c.Constituency)
		}
		if c.PhotoURL != "" {
			u, err := url.Parse(c.PhotoURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, bad("photo_url", "%q is not an http or https URL", c.PhotoURL)
			}
		}
		taken[c.ID] = line
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, &CSVError{File: path, Line: 2, Msg: "no candidates: the file has a header row and nothing else"}
	}
	return out, nil
}
