package ledger

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sort"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/lifecycle"
)

// Reasons a cast is refused. ErrInvalidCredential covers both an unknown voter and a wrong credential, so
// the API does not reveal which voter ids exist.
var (
	ErrInvalidCredential = errors.New("unknown voter id or wrong credential")
	ErrAlreadyVoted      = errors.New("this voter has already voted")
	ErrNotOnBallot       = errors.New("that candidate is not standing in this voter's constituency")
	ErrUnknownCandidate  = errors.New("unknown candidate")
	ErrPollsClosed       = errors.New("the polls are closed")
	ErrPollsNotOpen      = errors.New("the polls are not open yet")
)

// CastRequest is one voter's ballot as presented.
type CastRequest struct {
	VoterID     string
	Credential  string
	CandidateID string
}

// Receipt is what a voter gets back: the ballot's random id, which names no voter. It is also the ballot's
// tracking code: the code of its entry on the public bulletin board, where the voter can find it
// (GET /api/v1/receipts/{code}).
type Receipt struct {
	BallotID     string `json:"ballot_id"`
	TrackingCode string `json:"tracking_code"`
}

// CastMinute formats the time a ballot is dated with: the minute only (see the package doc).
func CastMinute(t time.Time) string {
	return t.UTC().Truncate(time.Minute).Format("2006-01-02 15:04:05")
}

// minuteOf is the minute a ballot is dated with as the ledger stores it: minutes since 1970, UTC.
func minuteOf(t time.Time) int64 {
	return t.Unix() / 60
}

// minuteTime is the start of a stored minute (minuteOf).
func minuteTime(m int64) time.Time {
	return time.Unix(m*60, 0)
}

// maxBatch caps the ballots of one transaction, whose casters all wait for its commit.
const maxBatch = 5000

// CastBatch casts several ballots in one transaction (group commit). It returns, per request, a receipt
// or the reason it was refused; a non-nil error means the transaction failed and nothing was cast.
//
// Each request is decided as if it were cast alone, after the requests before it in the batch: an unknown
// candidate is refused first, then an unknown voter or a wrong credential, then a voter who has voted
// (before this batch, or by an earlier request in it), then a candidate standing elsewhere. A ballot is
// written only for a request whose own credential and constituency matched, with that request's
// candidate, and only that request gets its receipt: another request naming the same voter, whatever its
// credential, can never take the voter's ballot.
func (s *Store) CastBatch(ctx context.Context, ix *election.Index, reqs []CastRequest, now time.Time) ([]Receipt, []error, error) {
	receipts := make([]Receipt, len(reqs))
	errs := make([]error, len(reqs))
	// Voters are locked in id order, so two batches on PostgreSQL cannot deadlock on each other; requests
	// naming the same voter stay in batch order.
	order := make([]int, len(reqs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return reqs[order[a]].VoterID < reqs[order[b]].VoterID })
	minute := minuteOf(now)
	refuseAll := func(why error) ([]Receipt, []error, error) {
		for i := range errs {
			errs[i] = why
		}
		return receipts, errs, nil
	}
	switch w := ix.Polls; {
	case !w.Opens.IsZero() && now.Before(w.Opens):
		return refuseAll(ErrPollsNotOpen)
	case !w.Closes.IsZero() && !now.Before(w.Closes):
		return refuseAll(ErrPollsClosed)
	}

	if s.voted != nil {
		s.voted.begin() // until settle, below: no other batch reads or changes the copy of who has voted
	}
	closed := false
	err := s.inTx(ctx, func(tx *wtx) error {
		// Checked inside the transaction, under the polls guard: `election close` commits before or
		// after this batch, never in its middle, so no ballot commits after the polls close.
		if err := s.guardPolls(ctx, tx, s.q.PollsGuardCast); err != nil {
			return err
		}
		var err error
		if _, closed, err = s.getMeta(ctx, tx, metaPollsClosed); err != nil || closed {
			return err
		}
		for i, r := range reqs {
			if ix.Candidate[r.CandidateID] == nil {
				errs[i] = ErrUnknownCandidate
			}
		}
		// Requests naming a voter named before them in the batch are decided here, so the marking
		// statement sees each voter at most once (see markVoters).
		if err := s.settleDuplicates(ctx, tx, ix, reqs, order, errs); err != nil {
			return err
		}
		states, err := s.markVoters(ctx, tx, ix, reqs, order, errs)
		if err != nil {
			return err
		}
		var ballots [][]any
		for _, i := range order {
			if errs[i] != nil {
				continue
			}
			r := reqs[i]
			cand := ix.Candidate[r.CandidateID]
			state, ok := states[i]
			if !ok {
				if errs[i], err = s.whyRefused(ctx, tx, r, cand); err != nil {
					return err
				}
				continue
			}
			raw, id := newBallotID()
			receipts[i] = Receipt{BallotID: id, TrackingCode: id}
			ballots = append(ballots, []any{raw, cand.ID, cand.Constituency, state, minute})
		}
		if len(ballots) == 0 {
			return nil
		}
		// Shuffled, so the order of ballot rows (and of their seq values) does not follow voter order.
		mrand.Shuffle(len(ballots), func(a, b int) { ballots[a], ballots[b] = ballots[b], ballots[a] })
		args := make([]any, 0, len(ballots)*5)
		for _, b := range ballots {
			args = append(args, b...)
		}
		if err := s.execPieces(ctx, tx, s.q.InsertBallots, len(ballots), 5, maxListPiece, args); err != nil {
			return fmt.Errorf("insert %d ballots: %w", len(ballots), err)
		}
		return nil
	})
	if s.voted != nil {
		s.voted.settle(err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: cast batch: %w", err)
	}
	if closed {
		return refuseAll(ErrPollsClosed)
	}
	return receipts, errs, nil
}

// settleDuplicates decides, for every voter named by more than one still-undecided request, all of those
// requests but one: it reads the voter once and walks the requests in batch order, refusing a wrong
// credential, a voter who has voted (before the batch, or through an earlier request here) and a
// candidate standing elsewhere, and leaves undecided only the first request that passes every check. That
// one goes on to the marking statement, which, seeing each voter once, cannot credit the voter's row to
// the wrong request. Voters named once (nearly all of them) cost nothing here.
func (s *Store) settleDuplicates(ctx context.Context, tx *wtx, ix *election.Index, reqs []CastRequest, order []int, errs []error) error {
	for start := 0; start < len(order); {
		end := start + 1
		for end < len(order) && reqs[order[end]].VoterID == reqs[order[start]].VoterID {
			end++
		}
		var group []int // the undecided requests naming this voter, in batch order
		for _, i := range order[start:end] {
			if errs[i] == nil {
				group = append(group, i)
			}
		}
		start = end
		if len(group) < 2 {
			continue
		}
		var cons, state string
		var hash []byte
		var voted bool
		err := tx.QueryRowContext(ctx, s.q.FindVoter, s.idArgs(nil, reqs[group[0]].VoterID)...).Scan(&cons, &state, &hash, &voted)
		if err != nil && err != sql.ErrNoRows {
			return fmt.Errorf("find a voter named %d times in one batch: %w", len(group), err)
		}
		known := err == nil
		taken := false
		for _, i := range group {
			r := reqs[i]
			switch {
			case !known || subtle.ConstantTimeCompare(hash, HashCredential(r.Credential)) != 1:
				errs[i] = ErrInvalidCredential
			case voted || taken:
				errs[i] = ErrAlreadyVoted
			case ix.Candidate[r.CandidateID].Constituency != cons:
				errs[i] = ErrNotOnBallot
			default:
				taken = true // left undecided: the marking statement records it
			}
		}
	}
	return nil
}

// markVoters marks as voted the voter of every undecided request whose credential and constituency match
// and who has not voted yet, and returns, by request index, the state of each voter it marked. The caller
// guarantees that at most one undecided request names any voter, so a voter the dialect marks belongs to
// exactly one request: the one whose own credential and constituency matched. How the voted set is kept
// is the dialect's (see voted.go).
func (s *Store) markVoters(ctx context.Context, tx *wtx, ix *election.Index, reqs []CastRequest, order []int, errs []error) (map[int]string, error) {
	states := make(map[int]string, len(reqs))
	ids, cons := make([]string, 0, len(reqs)), make([]string, 0, len(reqs))
	hashes := make([][]byte, 0, len(reqs))
	byVoter := make(map[string]int, len(reqs)) // voter id -> the one undecided request naming it
	for _, i := range order {
		if errs[i] != nil {
			continue
		}
		r := reqs[i]
		if _, dup := byVoter[r.VoterID]; dup {
			// settleDuplicates leaves one request per voter; crediting a voter to the wrong request is
			// the one thing this function must never do, so check rather than assume.
			return nil, fmt.Errorf("voter named by two undecided requests in one batch")
		}
		byVoter[r.VoterID] = i
		ids, hashes, cons = append(ids, r.VoterID), append(hashes, HashCredential(r.Credential)), append(cons, ix.Candidate[r.CandidateID].Constituency)
	}
	if len(ids) == 0 {
		return states, nil
	}
	marked, err := s.d.markVoted(ctx, s, tx, ids, hashes, cons)
	if err != nil {
		return nil, fmt.Errorf("mark %d voters: %w", len(ids), err)
	}
	for id, state := range marked {
		i, ok := byVoter[id]
		if !ok {
			return nil, errors.New("marking returned a voter no request named")
		}
		states[i] = state
	}
	return states, nil
}

// whyRefused tells which condition of the marking step (markVoters) failed for one request.
func (s *Store) whyRefused(ctx context.Context, tx *wtx, r CastRequest, cand *election.Candidate) (refusal, err error) {
	var cons, state string
	var hash []byte
	var voted bool
	err = tx.QueryRowContext(ctx, s.q.FindVoter, s.idArgs(nil, r.VoterID)...).Scan(&cons, &state, &hash, &voted)
	switch {
	case err == sql.ErrNoRows:
		return ErrInvalidCredential, nil
	case err != nil:
		return nil, fmt.Errorf("find a voter: %w", err)
	case subtle.ConstantTimeCompare(hash, HashCredential(r.Credential)) != 1:
		return ErrInvalidCredential, nil
	case voted:
		return ErrAlreadyVoted, nil
	case cons != cand.Constituency:
		return ErrNotOnBallot, nil
	}
	return nil, errors.New("a cast was refused for no known reason")
}

// newBallotID is a random UUID (version 4): nothing in it derives from the voter or the time. It returns
// the 16 bytes the ledger stores and their text, which everything else shows.
func newBallotID() ([]byte, string) {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b, formatBallotID(b)
}

// formatBallotID is a ballot id's text: the UUID's 16 bytes in hex, with its four dashes.
func formatBallotID(b []byte) string {
	var t [36]byte
	hex.Encode(t[0:8], b[0:4])
	t[8] = '-'
	hex.Encode(t[9:13], b[4:6])
	t[13] = '-'
	hex.Encode(t[14:18], b[6:8])
	t[18] = '-'
	hex.Encode(t[19:23], b[8:10])
	t[23] = '-'
	hex.Encode(t[24:36], b[10:16])
	return string(t[:])
}

// Caster funnels concurrent casts into batched transactions (group commit): while one batch commits, the
// next one gathers. Every caller waits for its own batch's commit, so a receipt means the ballot is durable.
// It is a lifecycle.Service.
//
// A transaction costs a fixed part (its statements' setup, the commit and its WAL frames: about 0.3 ms of
// CPU on SQLite) besides its ballots. When casts arrive faster than they need a core but each one waits
// for a round trip elsewhere (clients over HTTP), what queues during one commit is a handful, and the
// fixed part dominates. So, as databases do with commit_delay, a worker whose last batch held more than
// one ballot (there are concurrent casters to wait for) waits for its next batch to gather, for at most as
// long as its last commit took (and never more than MaxWait), or until the batch holds Gather ballots. A
// lone sequential caster is never made to wait: its batches hold one ballot each. The wait only moves
// the moment a batch starts; what it holds, and every argument about one ballot per voter, is unchanged.
// What it costs: a cast waits up to one commit longer, and a closed loop of a few clients that each
// wait for their answer before casting again casts that much less a second (16 clients on two cores:
// 15%, docs/measured.md). Voters arrive independently of each other's answers, and there it saves
// processor time even at a paced rate (about a third of the pipeline's at 10k ballots/s).
type Caster struct {
	lifecycle.Base
	store   *Store
	ix      *election.Index
	log     *slog.Logger
	workers int
	max     int
	gather  int
	maxWait time.Duration
	reqs    chan *pending
	// after is time.After, replaced in tests to decide when a gathering wait ends.
	after func(time.Duration) <-chan time.Time
	// OnCommit, if set, is told how many ballots each committed batch held (for metrics).
	OnCommit func(n int, took time.Duration)
}

type pending struct {
	req  CastRequest
	done chan struct{}
	rec  Receipt
	err  error
}

// CasterConfig tunes group commit.
type CasterConfig struct {
	// Workers is how many batches may be in flight at once: 1 for SQLite (one writer), more for PostgreSQL.
	Workers int
	// MaxBatch caps the ballots in one transaction (at most maxBatch, 5,000).
	MaxBatch int
	// Gather is how many ballots a batch may wait for (DefaultGather if 0; at most MaxBatch): past it,
	// a transaction's fixed cost is a small part of the whole.
	Gather int
	// MaxWait caps how long a batch waits to gather (DefaultMaxWait if 0; negative: never wait).
	MaxWait time.Duration
}

// DefaultGather and DefaultMaxWait bound the gathering wait. At 256 ballots the fixed cost of a SQLite
// transaction is about a tenth of the batch's; 2 ms is a few per cent of a cast's round trip over HTTP
// under load, and well inside the freshness the results page promises.
const (
	DefaultGather  = 256
	DefaultMaxWait = 2 * time.Millisecond
)

// NewCaster returns a caster; call Start before Cast.
func NewCaster(store *Store, ix *election.Index, cfg CasterConfig, log *slog.Logger) *Caster {
	if cfg.Workers <= 0 {
		cfg.Workers = store.d.writers()
	}
	if cfg.MaxBatch <= 0 || cfg.MaxBatch > maxBatch {
		cfg.MaxBatch = maxBatch
	}
	if cfg.Gather <= 0 {
		cfg.Gather = DefaultGather
	}
	cfg.Gather = min(cfg.Gather, cfg.MaxBatch)
	if cfg.MaxWait == 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	return &Caster{store: store, ix: ix, log: log, workers: cfg.Workers, max: cfg.MaxBatch,
		gather: cfg.Gather, maxWait: cfg.MaxWait, after: time.After,
		reqs: make(chan *pending, cfg.MaxBatch*cfg.Workers)}
}

// Name is the service's name.
func (c *Caster) Name() string { return "caster" }

// Start runs the batching workers until Stop.
func (c *Caster) Start(ctx context.Context) error {
	work := make([]func(context.Context) error, c.workers)
	for i := range work {
		work[i] = c.run
	}
	c.Base.Run(ctx, "caster", work...)
	return nil
}

// Stop finishes the batches in flight, refuses queued ones, and waits for the workers.
func (c *Caster) Stop() {
	c.Base.Stop()
	for {
		select {
		case p := <-c.reqs:
			p.err = errors.New("ledger: shutting down; ballot not cast")
			close(p.done)
		default:
			return
		}
	}
}

// Cast casts one ballot, waiting for the batch it joins to commit.
func (c *Caster) Cast(ctx context.Context, req CastRequest) (Receipt, error) {
	p := &pending{req: req, done: make(chan struct{})}
	select {
	case c.reqs <- p:
	case <-ctx.Done():
		return Receipt{}, ctx.Err()
	}
	// Once queued, the outcome is waited for even if the caller gives up: the ballot may already be
	// committed, and the caller must not be told otherwise.
	<-p.done
	return p.rec, p.err
}

func (c *Caster) run(ctx context.Context) error {
	batch := make([]*pending, 0, c.max)
	last, took := 0, time.Duration(0) // the size of this worker's last batch, and how long it took
	for {
		batch = batch[:0]
		select {
		case p := <-c.reqs:
			batch = append(batch, p)
		case <-ctx.Done():
			return nil
		}
		batch = c.drain(batch)
		if wait := min(took, c.maxWait); last > 1 && len(batch) < c.gather && wait > 0 {
			batch = c.wait(ctx, batch, wait)
		}
		// A batch already gathered is committed even if Stop comes meanwhile: its callers are waiting.
		last, took = len(batch), c.commit(context.WithoutCancel(ctx), batch)
	}
}

// drain adds what is already queued, without waiting.
func (c *Caster) drain(batch []*pending) []*pending {
	for len(batch) < c.max {
		select {
		case p := <-c.reqs:
			batch = append(batch, p)
		default:
			return batch
		}
	}
	return batch
}

// wait adds casts as they arrive until the batch holds c.gather, the wait is over, or Stop comes.
func (c *Caster) wait(ctx context.Context, batch []*pending, d time.Duration) []*pending {
	over := c.after(d)
	for len(batch) < c.gather {
		select {
		case p := <-c.reqs:
			batch = append(batch, p)
		case <-over:
			return c.drain(batch)
		case <-ctx.Done():
			return batch
		}
	}
	return batch
}

// commit casts the batch in one transaction, tells every caller its outcome, and returns how long the
// transaction took.
func (c *Caster) commit(ctx context.Context, batch []*pending) time.Duration {
	reqs := make([]CastRequest, len(batch))
	for i, p := range batch {
		reqs[i] = p.req
	}
	start := time.Now()
	recs, errs, err := c.store.CastBatch(ctx, c.ix, reqs, time.Now())
	// Two batches locking shared voters in different orders can deadlock on PostgreSQL; the database
	// rolls one back whole, so it is simply tried again.
	for try := 1; err != nil && retryable(err) && try < 5; try++ {
		recs, errs, err = c.store.CastBatch(ctx, c.ix, reqs, time.Now())
	}
	if err != nil {
		c.log.Error("cast batch failed; no ballot of it was cast", "ballots", len(batch), "err", err)
	}
	accepted := 0
	for i, p := range batch {
		if err != nil {
			p.err = err
		} else {
			p.rec, p.err = recs[i], errs[i]
			if p.err == nil {
				accepted++
			}
		}
		close(p.done)
	}
	took := time.Since(start)
	if c.OnCommit != nil && accepted > 0 {
		c.OnCommit(accepted, took)
	}
	return took
}

// retryable reports a PostgreSQL deadlock or serialization failure: the transaction was rolled back whole.
func retryable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40P01" || pg.Code == "40001")
}
