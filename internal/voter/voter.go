// Package voter is a registered voter's record as the ledger keeps it and voters_topic publishes it: the
// tutorial's voter fields and the constituency. The synthetic generator and the CSV importer both make
// these; the ledger stores what casting reads of each (id, constituency, state) and, for imported voters
// only, the rest (the generator gives a synthetic voter's again). It depends on nothing else in the
// project.
package voter

// Voter is one registered voter.
type Voter struct {
	ID                 string
	Name               string
	DateOfBirth        string // YYYY-MM-DD
	Gender             string
	Nationality        string
	RegistrationNumber string
	Street             string
	City               string
	State              string
	Country            string
	Postcode           string
	Email              string
	Phone              string
	Cell               string
	Picture            string
	RegisteredAge      int
	Constituency       string
}
