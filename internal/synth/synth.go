// Package synth generates synthetic voters offline and deterministically: voter i of an election with a
// given seed is always the same person, whatever the batch size or the order of generation, so a demo or a
// failing test replays exactly and generation can be resumed after a crash at any index.
//
// Credentials of synthetic voters are derived from a secret with HMAC, so the simulator can vote as any
// voter while the ledger stores only a hash of each credential.
package synth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/names"
	"github.com/election/election/internal/voter"
)

// Generator makes the voters of one election.
type Generator struct {
	ix        *election.Index
	seed      uint64
	secret    []byte
	stateList []string // states voters of nationwide constituencies are spread over
	asOf      time.Time
	// cumWeights holds, per constituency, the cumulative popularity of the candidates on its ballot.
	cumWeights map[string][]float64
}

// NewGenerator returns a generator for the election; secret keys the synthetic credentials.
func NewGenerator(ix *election.Index, secret []byte) *Generator {
	g := &Generator{ix: ix, seed: uint64(ix.Seed), secret: secret,
		asOf: time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC), cumWeights: popularity(ix)}
	for _, s := range ix.States {
		g.stateList = append(g.stateList, s.Code)
	}
	return g
}

// VoterID is the identifier of voter i (0-based).
func VoterID(i int64) string { return fmt.Sprintf("V%09d", i+1) }

// Credential is the secret a synthetic voter presents to cast a ballot.
func (g *Generator) Credential(voterID string) string {
	return Credential(g.secret, voterID)
}

// Credential derives a synthetic voter's credential from the election's simulation secret.
func Credential(secret []byte, voterID string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(voterID))
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(m.Sum(nil)[:15])
}

// Constituency is voter i's constituency, without generating the rest of the voter (the simulator needs
// only this and the id).
func (g *Generator) Constituency(i int64) string {
	return g.ix.Constituencies[i%int64(len(g.ix.Constituencies))].ID
}

// Voter returns voter i. Voters are spread evenly over constituencies (so over states in proportion to
// their seats); voters of a nationwide constituency are spread evenly over the states.
func (g *Generator) Voter(i int64) voter.Voter {
	rng := rand.New(rand.NewPCG(g.seed, uint64(i)))
	cons := g.ix.Constituency[g.Constituency(i)]
	state := cons.State
	if state == "" {
		state = g.stateList[(i/int64(len(g.ix.Constituencies)))%int64(len(g.stateList))]
	}
	gender := [...]string{"female", "male", "female", "male", "other"}[rng.IntN(5)]
	first := names.FirstFor(gender, rng.IntN(1<<20)) // a name given to people of that gender
	last := names.Last[rng.IntN(len(names.Last))]
	age := 18 + rng.IntN(72)
	dob := g.asOf.AddDate(-age, 0, -rng.IntN(365))
	id := VoterID(i)
	return voter.Voter{
		ID:                 id,
		Name:               first + " " + last,
		DateOfBirth:        dob.Format(time.DateOnly),
		Gender:             gender,
		Nationality:        "IN",
		RegistrationNumber: fmt.Sprintf("%s%07d%02d", state, i+1, rng.IntN(100)),
		Street:             fmt.Sprintf("%d %s %s", 1+rng.IntN(400), names.Streets[rng.IntN(len(names.Streets))], names.StreetKinds[rng.IntN(len(names.StreetKinds))]),
		City:               names.Towns[rng.IntN(len(names.Towns))],
		State:              state,
		Country:            "India",
		Postcode:           fmt.Sprintf("%06d", 110000+rng.IntN(790000)),
		Email:              fmt.Sprintf("%s.%s.%d@example.org", lower(first), lower(last), i+1),
		Phone:              fmt.Sprintf("+91 %05d %05d", rng.IntN(100000), rng.IntN(100000)),
		Cell:               fmt.Sprintf("+91 9%04d %05d", rng.IntN(10000), rng.IntN(100000)),
		Picture:            "",
		RegisteredAge:      age - rng.IntN(min(age-17, 10)),
		Constituency:       cons.ID,
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// Choice is the simulator's deterministic choice for voter i: a candidate on the voter's ballot, drawn
// with weights that differ by constituency so races are close in some places and lopsided in others.
func (g *Generator) Choice(i int64, constituency string) string {
	ballot := g.ix.Ballot[constituency]
	cum := g.cumWeights[constituency]
	rng := rand.New(rand.NewPCG(g.seed^0x766f7465, uint64(i)))
	x := rng.Float64() * cum[len(cum)-1]
	for k, w := range cum {
		if x < w {
			return ballot[k].ID
		}
	}
	return ballot[len(ballot)-1].ID
}

// popularity gives each candidate a weight: earlier names on a ballot tend to be stronger, with a
// per-candidate random factor. Returns cumulative weights per constituency.
func popularity(ix *election.Index) map[string][]float64 {
	out := make(map[string][]float64, len(ix.Ballot))
	for cons, ballot := range ix.Ballot {
		cum := make([]float64, len(ballot))
		var total float64
		for k, c := range ballot {
			h := sha256.Sum256([]byte(fmt.Sprintf("%d/%s/%s", ix.Seed, cons, c.ID)))
			total += (float64(h[0])/255.0 + 0.2) / float64(1+k/2)
			cum[k] = total
		}
		out[cons] = cum
	}
	return out
}

// Seed is the election's seed.
func (g *Generator) Seed() int64 { return int64(g.seed) }
