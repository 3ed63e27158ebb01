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
	"hash"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/names"
	"github.com/election/election/internal/voter"
)

// Generator makes the voters of one election.
type Generator struct {
	ix     *election.Index
	seed   uint64
	secret []byte
	// keyed is HMAC-SHA256 under secret, used once and reset, so its keyed states are computed already:
	// Credential clones it rather than keying a new HMAC each time (two of its four SHA-256 blocks).
	// It is only read after NewGenerator, so concurrent clones are safe.
	keyed     hash.Cloner
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
	m := hmac.New(sha256.New, secret)
	m.Sum(nil)
	m.Reset()
	g.keyed, _ = m.(hash.Cloner)
	return g
}

// VoterID is the identifier of voter i (0-based): the id its number gives (voter.ID).
func VoterID(i int64) string { return voter.ID(i) }

// zeroPadded appends n (not negative) in decimal, with leading zeros to at least width digits: what
// fmt's %0<width>d writes, without its cost (Voter formats six numbers a voter, 100M voters a run).
func zeroPadded(b []byte, n int64, width int) []byte {
	var d [20]byte
	k := len(d)
	for {
		k--
		d[k] = byte('0' + n%10)
		if n /= 10; n == 0 {
			break
		}
	}
	for w := len(d) - k; w < width; w++ {
		b = append(b, '0')
	}
	return append(b, d[k:]...)
}

// Credential is the secret a synthetic voter presents to cast a ballot.
func (g *Generator) Credential(voterID string) string {
	if g.keyed == nil {
		return Credential(g.secret, voterID)
	}
	c, err := g.keyed.Clone()
	if err != nil {
		return Credential(g.secret, voterID) // not expected: SHA-256 and HMAC clone
	}
	m := c.(hash.Hash)
	m.Write([]byte(voterID))
	var sum [sha256.Size]byte
	return credentialText(m.Sum(sum[:0]))
}

// Credential derives a synthetic voter's credential from the election's simulation secret.
func Credential(secret []byte, voterID string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(voterID))
	return credentialText(m.Sum(nil))
}

// credentialText is a credential's text: the first 15 bytes of its HMAC in base32, 24 characters.
func credentialText(mac []byte) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(mac[:15])
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
	// The fields are drawn from rng in this order; every voter depends on it.
	b := make([]byte, 0, 160)
	b = append(b, state...)
	b = zeroPadded(b, i+1, 7)
	b = zeroPadded(b, int64(rng.IntN(100)), 2)
	regNo := string(b)
	b = strconv.AppendInt(b[:0], int64(1+rng.IntN(400)), 10)
	b = append(append(append(b, ' '), names.Streets[rng.IntN(len(names.Streets))]...), ' ')
	b = append(b, names.StreetKinds[rng.IntN(len(names.StreetKinds))]...)
	street := string(b)
	city := names.Towns[rng.IntN(len(names.Towns))]
	postcode := string(zeroPadded(b[:0], int64(110000+rng.IntN(790000)), 6))
	b = append(append(append(b[:0], lower(first)...), '.'), lower(last)...)
	b = strconv.AppendInt(append(b, '.'), i+1, 10)
	email := string(append(b, "@example.org"...))
	b = zeroPadded(append(b[:0], "+91 "...), int64(rng.IntN(100000)), 5)
	phone := string(zeroPadded(append(b, ' '), int64(rng.IntN(100000)), 5))
	b = zeroPadded(append(b[:0], "+91 9"...), int64(rng.IntN(10000)), 4)
	cell := string(zeroPadded(append(b, ' '), int64(rng.IntN(100000)), 5))
	return voter.Voter{
		ID:                 id,
		Name:               first + " " + last,
		DateOfBirth:        dob.Format(time.DateOnly),
		Gender:             gender,
		Nationality:        "IN",
		RegistrationNumber: regNo,
		Street:             street,
		City:               city,
		State:              state,
		Country:            "India",
		Postcode:           postcode,
		Email:              email,
		Phone:              phone,
		Cell:               cell,
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
