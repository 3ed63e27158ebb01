package ledger

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/voter"
)

// ErrNoElection is returned when no election has been registered in the ledger yet.
var ErrNoElection = errors.New("ledger: no election registered yet")

// RegisterElection stores the election definition once. Registering the same definition again is a no-op;
// a different one is refused, so a data directory never mixes two elections.
func (s *Store) RegisterElection(ctx context.Context, e *election.Election) error {
	def, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("ledger: register election: %w", err)
	}
	return s.inTx(ctx, func(tx *wtx) error {
		existing, ok, err := s.getMeta(ctx, tx, metaElection)
		switch {
		case err != nil:
			return err
		case ok && existing == string(def):
			return nil
		case ok:
			var old election.Election
			_ = json.Unmarshal([]byte(existing), &old)
			return fmt.Errorf("ledger: this database already holds the election %q; use a new data directory or database for %q", old.Name, e.Name)
		}
		type stmt struct {
			q    string
			args []any
		}
		skey, vkey, err := newBoardKey()
		if err != nil {
			return err
		}
		steps := []stmt{{s.q.PutMeta, []any{metaElection, string(def)}}, {s.q.PutMeta, []any{metaSimSecret, randomHex()}},
			{s.q.PutMeta, []any{metaRecordKey, randomHex()}}, {s.q.PutMeta, []any{metaLotSeed, randomHex()}}, {s.q.PutMeta, []any{metaBoardSigner, skey}}, {s.q.PutMeta, []any{metaBoardVerifier, vkey}}}
		for _, p := range e.Parties {
			steps = append(steps, stmt{s.q.InsertParty, []any{p.ID, p.Name, p.Short, p.Colour}})
		}
		for _, st := range e.States {
			steps = append(steps, stmt{s.q.InsertState, []any{st.Code, st.Name}})
		}
		for _, c := range e.Constituencies {
			var state any
			if c.State != "" {
				state = c.State
			}
			steps = append(steps, stmt{s.q.InsertConstituency, []any{c.ID, c.Name, state}})
		}
		for _, c := range e.Candidates {
			steps = append(steps, stmt{s.q.InsertCandidate, []any{c.ID, c.Name, c.Party, c.Constituency, c.Biography, c.Platform, c.PhotoURL}})
		}
		for _, st := range steps {
			if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
				return fmt.Errorf("ledger: register election: %w", err)
			}
		}
		return nil
	})
}

// randomHex is 32 random bytes, hex-encoded: a secret.
func randomHex() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ErrUnauthenticatedBallots: the election's ballots were relayed by a version that did not authenticate
// vote records, so a tally could not tell them from forged ones.
var ErrUnauthenticatedBallots = errors.New("this election's ballots were relayed by an older version of election that did not " +
	"authenticate vote records; finish it with that version, or run it again in a new data directory or database")

// RecordKey is the election's key for authenticating vote records (see the stream package's VotesTopic):
// the relay signs every record with it and the tally counts only records it verifies, so a forged record
// on votes_topic is never counted. Only roles that hold the ledger have it. A ledger registered by an
// older version has none: it is made now if the ledger holds no ballot yet, and otherwise
// ErrUnauthenticatedBallots is returned.
func (s *Store) RecordKey(ctx context.Context) ([]byte, error) {
	var key string
	err := s.inTx(ctx, func(tx *wtx) error {
		v, ok, err := s.getMeta(ctx, tx, metaRecordKey)
		if err != nil || ok {
			key = v
			return err
		}
		if _, ok, err := s.getMeta(ctx, tx, metaElection); err != nil || !ok {
			if err == nil {
				err = ErrNoElection
			}
			return err
		}
		var n int64
		if err := tx.QueryRowContext(ctx, s.q.CountBallots).Scan(&n); err != nil {
			return fmt.Errorf("ledger: count ballots: %w", err)
		}
		if n > 0 {
			return ErrUnauthenticatedBallots
		}
		key, err = s.claimMeta(ctx, tx, metaRecordKey, randomHex())
		return err
	})
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(key)
}

// LotSeed is the election's secret seed for drawing lots between level candidates (see the lots
// package), made at registration (or, for a ledger registered by an older version, the first time it is
// asked for) and kept in the ledger. Its commitment is public from then on; the seed itself must be
// published only once the count is final.
func (s *Store) LotSeed(ctx context.Context) ([]byte, error) {
	seed, ok, err := s.getMeta(ctx, s.r, metaLotSeed)
	if err == nil && !ok {
		err = s.inTx(ctx, func(tx *wtx) (err error) {
			seed, err = s.claimMeta(ctx, tx, metaLotSeed, randomHex())
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(seed)
}

// claimMeta returns key's value, writing value first if the key has none. Two processes may race here:
// the first value written wins, and both get it.
func (s *Store) claimMeta(ctx context.Context, tx *wtx, key, value string) (string, error) {
	if _, err := tx.ExecContext(ctx, s.q.InsertMetaIfAbsent, key, value); err != nil {
		return "", fmt.Errorf("ledger: write %s: %w", key, err)
	}
	v, _, err := s.getMeta(ctx, tx, key)
	return v, err
}

// Election returns the registered election, or ErrNoElection.
func (s *Store) Election(ctx context.Context) (*election.Election, error) {
	def, ok, err := s.getMeta(ctx, s.r, metaElection)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNoElection
	}
	e, err := election.Parse([]byte(def))
	if err != nil {
		return nil, fmt.Errorf("ledger: stored election: %w", err)
	}
	return e, nil
}

// SimulationSecret keys the credentials of synthetic voters (see synth.Credential). Whoever can read the
// ledger can vote as a synthetic voter who has not voted yet: synthetic elections are simulations.
func (s *Store) SimulationSecret(ctx context.Context) ([]byte, error) {
	h, ok, err := s.getMeta(ctx, s.r, metaSimSecret)
	if err == nil && !ok {
		err = ErrNoElection
	}
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(h)
}

// SyntheticRegistered is how many synthetic voters have been registered (voters 0..n-1).
func (s *Store) SyntheticRegistered(ctx context.Context) (int64, error) {
	return s.metaInt(ctx, metaVoters)
}

// HashCredential is what the ledger stores of a voter's credential: the first 16 bytes of its SHA-256
// (migrations/*/007_short_credential_hash.sql says why 16 are enough).
func HashCredential(credential string) []byte {
	h := sha256.Sum256([]byte(credential))
	return h[:credentialHashSize]
}

// credentialHashSize is the bytes of a credential's hash the register keeps.
const credentialHashSize = 16

// RegisteredVoter is a voter with the hash of their credential.
type RegisteredVoter struct {
	voter.Voter
	CredentialHash []byte
}

// appendArgs appends the InsertVoters columns of v, in order, to args: what casting reads. no is the
// voter's number. On a register keyed by number (byNumber) the id is left NULL when the number gives
// it; otherwise the (id, number) pair is appended to kept, for voter_ids (008_register_by_number.sql).
func (v RegisteredVoter) appendArgs(args, kept []any, no int64, byNumber bool) ([]any, []any) {
	var id any = v.ID
	if byNumber {
		if n, ok := voter.Number(v.ID); ok && n == no {
			id = nil
		} else {
			kept = append(kept, v.ID, no)
		}
	}
	return append(args, id, no, v.Constituency, v.State, v.CredentialHash), kept
}

// idArgs appends what the register's queries take for a voter id: the id and, on a register keyed by
// number, the number the id gives, or nil when it gives none.
func (s *Store) idArgs(args []any, id string) []any {
	args = append(args, id)
	if !s.d.registerByNumber() {
		return args
	}
	if no, ok := voter.Number(id); ok {
		return append(args, no)
	}
	return append(args, nil)
}

// insertVoters writes n voters' rows of the register (args, from appendArgs) and the (id, number) pairs
// of those whose id is kept in voter_ids.
func (s *Store) insertVoters(ctx context.Context, tx *wtx, n int, args, kept []any) error {
	if err := s.execPieces(ctx, tx, s.q.InsertVoters, n, voterColumns, maxVotersPerInsert, args); err != nil {
		return err
	}
	if len(kept) == 0 {
		return nil
	}
	if err := s.execPieces(ctx, tx, s.q.InsertVoterIDs, len(kept)/2, 2, maxListPiece, kept); err != nil {
		return fmt.Errorf("voter ids: %w", err)
	}
	return nil
}

// existingVoter returns one of ids that a registered voter has, if any does.
func (s *Store) existingVoter(ctx context.Context, tx *wtx, ids []string) (id string, found bool, err error) {
	cols := 1
	if s.d.registerByNumber() {
		cols = 2
	}
	args := make([]any, 0, cols*len(ids))
	for _, id := range ids {
		args = s.idArgs(args, id)
	}
	err = s.queryPieces(ctx, tx, s.q.ExistingVoters, len(ids), cols, maxListPiece, args, func(rows *sql.Rows) error {
		if found {
			return nil
		}
		found = true
		return rows.Scan(&id)
	})
	if err != nil {
		return "", false, fmt.Errorf("look for registered voters: %w", err)
	}
	return id, found, nil
}

// checkNewIDs refuses a synthetic registration's batch (RegisterVoters) that names a voter id twice or
// one already registered. Keyed by id (PostgreSQL), the register's primary key does that. Keyed by number
// (SQLite), the keys refuse a number twice and an id kept in voter_ids twice, but not an id kept there
// that a voter keeping none has too; that takes a look, needed only when this batch keeps an id or the
// ledger keeps one already. Synthetic voters keep none, so such a registration asks one question a batch
// (AnyVoterIDs).
func (s *Store) checkNewIDs(ctx context.Context, tx *wtx, voters []RegisteredVoter, keeps bool) error {
	if !s.d.registerByNumber() {
		return nil
	}
	if !keeps {
		if err := tx.QueryRowContext(ctx, s.q.AnyVoterIDs).Scan(&keeps); err != nil {
			return fmt.Errorf("ledger: look for kept voter ids: %w", err)
		}
		if !keeps {
			return nil
		}
	}
	ids := make([]string, len(voters))
	seen := make(map[string]bool, len(voters))
	for i, v := range voters {
		if seen[v.ID] {
			return fmt.Errorf("ledger: register voters: voter id %q appears twice", v.ID)
		}
		seen[v.ID] = true
		ids[i] = v.ID
	}
	id, found, err := s.existingVoter(ctx, tx, ids)
	if err != nil {
		return fmt.Errorf("ledger: register voters: %w", err)
	}
	if found {
		return fmt.Errorf("ledger: register voters: voter id %q is already registered", id)
	}
	return nil
}

// appendDetails appends the InsertVoterDetails columns of v, in order: the tutorial's fields.
func (v RegisteredVoter) appendDetails(args []any, no int64) []any {
	return append(args, no, v.Name, v.DateOfBirth, v.Gender, v.Nationality, v.RegistrationNumber,
		v.Street, v.City, v.Country, v.Postcode, v.Email, v.Phone, v.Cell, v.Picture, v.RegisteredAge)
}

// How many columns InsertVoters and InsertVoterDetails take per voter.
const (
	voterColumns   = 5
	detailsColumns = 15
)

// numberVoters takes n voter numbers for voters about to be registered in tx, and makes the bitmap's
// blocks that hold them (SQLite: see voted.go). It returns the first number; the others follow it. A
// counter in meta gives the numbers out in the registering transaction, so a registration that fails
// gives none away, and two registrations never give the same one (see NumberVoters).
func (s *Store) numberVoters(ctx context.Context, tx *wtx, n int) (int64, error) {
	if _, err := tx.ExecContext(ctx, s.q.InsertMetaIfAbsent, metaVotersNumbered, "0"); err != nil {
		return 0, fmt.Errorf("ledger: number voters: %w", err)
	}
	var next int64
	if err := tx.QueryRowContext(ctx, s.q.NumberVoters, metaVotersNumbered, n).Scan(&next); err != nil {
		return 0, fmt.Errorf("ledger: number voters: %w", err)
	}
	first := next - int64(n)
	if s.q.AddBlocks == "" { // PostgreSQL keeps no bitmap (voted.go)
		return first, nil
	}
	if _, err := tx.ExecContext(ctx, s.q.AddBlocks, first>>6, (next-1)>>6); err != nil {
		return 0, fmt.Errorf("ledger: make the voted set's blocks for voters %d..%d: %w", first, next-1, err)
	}
	return first, nil
}

// maxVotersPerInsert keeps one INSERT under both dialects' parameter limits (SQLite: 32,766 with 15
// columns of details; PostgreSQL: 65,535). A power of two: see pieces.
const maxVotersPerInsert = 1024

// RegisterVoters registers synthetic voters (from synth.Generator) in one transaction with the
// per-region counts. It stores what casting reads of each (id, number, constituency, state, credential
// hash) and none of their details: the generator gives those again from the voter's number, and
// voters_topic publishes them. When syntheticThrough is positive it records that synthetic voters up to
// that index are registered, in the same transaction, so an interrupted registration resumes exactly
// where it stopped.
func (s *Store) RegisterVoters(ctx context.Context, voters []RegisteredVoter, syntheticThrough int64) error {
	counts := regionCounts{}
	for _, v := range voters {
		counts[region{v.Constituency, v.State}]++
	}
	return s.inTx(ctx, func(tx *wtx) error {
		if len(voters) > 0 {
			no, err := s.numberVoters(ctx, tx, len(voters))
			if err != nil {
				return err
			}
			args := make([]any, 0, len(voters)*voterColumns)
			var kept []any
			for _, v := range voters {
				args, kept = v.appendArgs(args, kept, no, s.d.registerByNumber())
				no++
			}
			if err := s.checkNewIDs(ctx, tx, voters, len(kept) > 0); err != nil {
				return err
			}
			if err := s.insertVoters(ctx, tx, len(voters), args, kept); err != nil {
				return fmt.Errorf("ledger: register voters %s..%s: %w", voters[0].ID, voters[len(voters)-1].ID, err)
			}
		}
		if err := s.addRegistered(ctx, tx, counts); err != nil {
			return fmt.Errorf("ledger: register voters: %w", err)
		}
		if syntheticThrough > 0 {
			if err := s.claimVoterSource(ctx, tx, VotersSynthetic); err != nil {
				return err
			}
			if err := s.putMeta(ctx, tx, metaVoters, strconv.FormatInt(syntheticThrough, 10)); err != nil {
				return err
			}
		}
		return nil
	})
}

// region is a constituency and its state, and regionCounts the voters a registration adds to each.
type region struct{ cons, state string }
type regionCounts map[region]int64

// addRegistered adds a registration's voters to the counts per constituency and state, in one statement
// (in pieces of maxListPiece rows), in region order. A statement per region ran 543 times a batch of the
// national preset: in a profile of 5M voters, 1.95 of the 12.1 s the ledger's registration took
// (docs/measured.md, "Registration").
func (s *Store) addRegistered(ctx context.Context, tx *wtx, counts regionCounts) error {
	keys := slices.SortedFunc(maps.Keys(counts), func(a, b region) int {
		return cmp.Or(cmp.Compare(a.cons, b.cons), cmp.Compare(a.state, b.state))
	})
	args := make([]any, 0, 3*len(keys))
	for _, r := range keys {
		args = append(args, r.cons, r.state, counts[r])
	}
	if err := s.execPieces(ctx, tx, s.q.AddRegistered, len(keys), 3, maxListPiece, args); err != nil {
		return fmt.Errorf("counts per region: %w", err)
	}
	return nil
}

// Registered counts registered voters per constituency and state.
type Registered struct {
	Constituency string
	State        string
	Voters       int64
}

// RegisteredCounts returns the registered voters per (constituency, state).
func (s *Store) RegisteredCounts(ctx context.Context) ([]Registered, error) {
	rows, err := s.r.QueryContext(ctx, s.q.Registered)
	if err != nil {
		return nil, fmt.Errorf("ledger: registered counts: %w", err)
	}
	defer rows.Close()
	var out []Registered
	for rows.Next() {
		var r Registered
		if err := rows.Scan(&r.Constituency, &r.State, &r.Voters); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ClosePolls records that the polls have closed: no ballot is accepted any more. Idempotent.
//
// It waits for every cast batch in flight to commit, and no batch commits after it (PollsGuardClose), so
// once it returns the ledger's ballots are all the ballots there will be: the count is final when the
// tally has counted that many.
func (s *Store) ClosePolls(ctx context.Context, at time.Time) error {
	return s.inTx(ctx, func(tx *wtx) error {
		if err := s.guardPolls(ctx, tx, s.q.PollsGuardClose); err != nil {
			return err
		}
		if _, closed, err := s.getMeta(ctx, tx, metaPollsClosed); err != nil || closed {
			return err
		}
		return s.putMeta(ctx, tx, metaPollsClosed, at.UTC().Format(time.RFC3339))
	})
}

// guardPolls takes the polls guard (PollsGuardCast or PollsGuardClose) in tx. A dialect that needs none
// (SQLite) leaves the query empty, and nothing is sent on the casting path.
func (s *Store) guardPolls(ctx context.Context, tx *wtx, guard string) error {
	if guard == "" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, guard); err != nil {
		return fmt.Errorf("ledger: the polls guard: %w", err)
	}
	return nil
}

// PollsClosed reports whether ClosePolls was called.
func (s *Store) PollsClosed(ctx context.Context) (bool, error) {
	_, closed, err := s.getMeta(ctx, s.r, metaPollsClosed)
	return closed, err
}

// SimulationPosition is where a resumed simulation starts (see sim.Config.From): the whole simulation's
// if part is "", else that part's ("2/4": see sim.Config.Parts).
func (s *Store) SimulationPosition(ctx context.Context, part string) (int64, error) {
	return s.metaInt(ctx, simPositionKey(part))
}

// SetSimulationPosition records a simulation's progress, or a part's.
func (s *Store) SetSimulationPosition(ctx context.Context, part string, pos int64) error {
	return s.putMeta(ctx, s.w, simPositionKey(part), strconv.FormatInt(pos, 10))
}

func simPositionKey(part string) string {
	if part == "" {
		return metaSimPosition
	}
	return metaSimPosition + " " + part
}

// ImportRow is one voter read from an import file, with the line it came from (for error messages).
type ImportRow struct {
	Voter RegisteredVoter
	Line  int
}

// ErrImportRow is a problem with one row of an import; nothing of the import was written.
type ErrImportRow struct {
	Line int
	Msg  string
}

func (e *ErrImportRow) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// ImportVoters registers every row next yields in one transaction: either all are registered or none.
// Each voter's details (the tutorial's fields) are kept in voter_details. next returns nil at the end. A voter id already registered, or repeated in the import, fails the whole
// import with an *ErrImportRow naming the line.
func (s *Store) ImportVoters(ctx context.Context, next func() (*ImportRow, error)) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx *wtx) error {
		if err := s.claimVoterSource(ctx, tx, VotersImported); err != nil {
			return err
		}
		chunk := make([]*ImportRow, 0, maxVotersPerInsert)
		counts := regionCounts{}
		flush := func() error {
			if len(chunk) == 0 {
				return nil
			}
			lines := map[string]int{}
			ids := make([]string, len(chunk))
			for i, r := range chunk {
				if first, dup := lines[r.Voter.ID]; dup {
					return &ErrImportRow{Line: r.Line, Msg: fmt.Sprintf("voter_id %q appears again (first on line %d)", r.Voter.ID, first)}
				}
				lines[r.Voter.ID] = r.Line
				ids[i] = r.Voter.ID
			}
			existing, found, err := s.existingVoter(ctx, tx, ids)
			if err != nil {
				return fmt.Errorf("ledger: import: %w", err)
			}
			if found {
				return &ErrImportRow{Line: lines[existing], Msg: fmt.Sprintf("voter_id %q is already registered (or appears earlier in this file)", existing)}
			}
			no, err := s.numberVoters(ctx, tx, len(chunk))
			if err != nil {
				return err
			}
			args := make([]any, 0, len(chunk)*voterColumns)
			details := make([]any, 0, len(chunk)*detailsColumns)
			var kept []any
			for _, r := range chunk {
				args, kept = r.Voter.appendArgs(args, kept, no, s.d.registerByNumber())
				details = r.Voter.appendDetails(details, no)
				no++
				counts[region{r.Voter.Constituency, r.Voter.State}]++
			}
			if err := s.insertVoters(ctx, tx, len(chunk), args, kept); err != nil {
				return fmt.Errorf("ledger: import voters (lines %d-%d): %w", chunk[0].Line, chunk[len(chunk)-1].Line, err)
			}
			if err := s.execPieces(ctx, tx, s.q.InsertVoterDetails, len(chunk), detailsColumns, maxVotersPerInsert, details); err != nil {
				return fmt.Errorf("ledger: import voters' details (lines %d-%d): %w", chunk[0].Line, chunk[len(chunk)-1].Line, err)
			}
			n += int64(len(chunk))
			chunk = chunk[:0]
			return nil
		}
		for {
			r, err := next()
			if err != nil {
				return err
			}
			if r == nil {
				break
			}
			chunk = append(chunk, r)
			if len(chunk) == maxVotersPerInsert {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		if err := s.addRegistered(ctx, tx, counts); err != nil {
			return fmt.Errorf("ledger: import: %w", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
