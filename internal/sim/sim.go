// Package sim casts simulated ballots through the same casting path as the HTTP API (a ledger.Caster in
// process, or the API itself over HTTP). It is deterministic: which voters vote, in which order, and for
// whom, all follow from the election's seed, so a demo or a failing test replays exactly.
package sim

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/synth"
)

// Caster casts one ballot; ledger.Caster and the HTTP client both are one.
type Caster interface {
	Cast(ctx context.Context, req ledger.CastRequest) (ledger.Receipt, error)
}

// Config describes a simulation.
type Config struct {
	Generator *synth.Generator
	Caster    Caster
	Logger    *slog.Logger
	Voters    int64   // registered synthetic voters 0..Voters-1
	Turnout   float64 // share of voters who vote, 0..1
	Rate      float64 // ballots per second; 0 for as fast as possible
	Workers   int     // casts in flight at once
	// From resumes a simulation: positions before it were all cast (or refused) already.
	From int64
	// Parts above 1 shares the voters among that many simulations: this one casts only at the positions
	// p with p % Parts == Part (0 ≤ Part < Parts), so each voter has a turn in exactly one of them, and
	// voters of every constituency still turn up throughout each (VoterAt). Its From and Checkpoint are
	// this part's own.
	Part, Parts int64
	// Checkpoint, if set, is called about once a second with a position before which every cast has
	// returned, so a restarted simulation can resume there.
	Checkpoint func(ctx context.Context, pos int64) error
	// OnCast, if set, is called after each accepted ballot.
	OnCast func()
}

// Stats counts what happened.
type Stats struct {
	Cast         int64 // accepted ballots
	AlreadyVoted int64 // refused because the voter had voted (normal after a resume)
	Abstained    int64
	Failed       int64 // refused for a reason a retry cannot change (the simulation stops)
	Retries      int64 // casts tried again after a failure that may pass (a database or network fault)
}

// final reports whether a cast's outcome is final: accepted, or refused for a reason a retry cannot
// change. Anything else (a database that is down, a connection refused, a server that is busy) may pass,
// and the cast is tried again: the voter must not be skipped.
func final(err error) bool {
	for _, refusal := range []error{ledger.ErrAlreadyVoted, ledger.ErrInvalidCredential, ledger.ErrNotOnBallot,
		ledger.ErrUnknownCandidate, ledger.ErrPollsClosed, ledger.ErrPollsNotOpen, ErrBadRequest} {
		if errors.Is(err, refusal) {
			return true
		}
	}
	return err == nil
}

// Votes reports whether voter i takes part, deterministically.
func (c Config) Votes(i int64) bool {
	if c.Turnout >= 1 {
		return true
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(i))
	h := sha256.Sum256(append(b[:], byte(c.Generator.Seed())))
	return float64(binary.LittleEndian.Uint64(h[:8])>>11)/float64(1<<53) < c.Turnout
}

// VoterAt is the voter cast for at position pos: a fixed permutation of 0..Voters-1, so voters of all
// constituencies turn up throughout the simulation rather than one constituency after another.
func (c Config) VoterAt(pos int64) int64 {
	n := c.Voters
	step := permutationStep(n)
	return int64((uint64(pos)*uint64(step) + uint64(c.Generator.Seed())%uint64(n)) % uint64(n))
}

// permutationStep is a multiplier coprime with n, near n times the golden ratio's fraction.
func permutationStep(n int64) int64 {
	s := int64(float64(n)*0.6180339887) | 1
	for gcd(s, n) != 1 {
		s += 2
	}
	return s
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// checkPart reports a Part outside 0 ≤ Part < Parts (Parts 0 or 1: the whole simulation, Part 0).
func (c *Config) checkPart() error {
	if parts := max(c.Parts, 1); c.Part < 0 || c.Part >= parts {
		return fmt.Errorf("sim: part %d of %d: want 0 to %d", c.Part, parts, parts-1)
	}
	return nil
}

// Run casts until every voter has had their turn or ctx ends.
func Run(ctx context.Context, cfg Config) (Stats, error) {
	var st Stats
	if cfg.Voters <= 0 {
		return st, errors.New("sim: no voters")
	}
	if err := cfg.checkPart(); err != nil {
		return st, err
	}
	cfg.Parts = max(cfg.Parts, 1)
	if cfg.Workers <= 0 {
		cfg.Workers = 64
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	type job struct {
		pos, voter int64
	}
	jobs := make(chan job, cfg.Workers)
	marks := newWatermark(cfg.From)
	var cast, already, abstained, failed, retries atomic.Int64
	var lastWarn atomic.Int64 // Unix nanoseconds of the last retry warning (at most one every 10 s)
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				id, cons := synth.VoterID(j.voter), cfg.Generator.Constituency(j.voter)
				req := ledger.CastRequest{VoterID: id, Credential: cfg.Generator.Credential(id), CandidateID: cfg.Generator.Choice(j.voter, cons)}
				var err error
				for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
					if _, err = cfg.Caster.Cast(ctx, req); final(err) || ctx.Err() != nil {
						break
					}
					retries.Add(1)
					if now := time.Now().UnixNano(); now-lastWarn.Load() > int64(10*time.Second) {
						lastWarn.Store(now)
						cfg.Logger.Warn("a cast failed; trying it again", "position", j.pos, "err", err)
					}
					select {
					case <-time.After(backoff):
					case <-ctx.Done():
					}
				}
				switch {
				case ctx.Err() != nil && !final(err):
					// Stopped before the outcome was known: the position is not done, so a resumed
					// simulation casts for this voter again (a ballot already counted is refused then).
					continue
				case err == nil:
					cast.Add(1)
					if cfg.OnCast != nil {
						cfg.OnCast()
					}
				case errors.Is(err, ledger.ErrAlreadyVoted):
					already.Add(1)
				default:
					failed.Add(1)
					errOnce.Do(func() { firstErr = fmt.Errorf("sim: a cast at position %d was refused: %w", j.pos, err) })
				}
				marks.done(j.pos)
			}
		}()
	}
	stopCheckpoints := make(chan struct{})
	var cpWG sync.WaitGroup
	if cfg.Checkpoint != nil {
		cpWG.Add(1)
		go func() {
			defer cpWG.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-stopCheckpoints:
					return
				case <-t.C:
					if err := cfg.Checkpoint(ctx, marks.low()); err != nil && ctx.Err() == nil {
						cfg.Logger.Warn("checkpoint failed", "err", err)
					}
				}
			}
		}()
	}
	start := time.Now()
	sent := int64(0)
	pos := cfg.From + (cfg.Part-cfg.From%cfg.Parts+cfg.Parts)%cfg.Parts // this part's first position from From
dispatch:
	for ; pos < cfg.Voters; pos += cfg.Parts {
		voter := cfg.VoterAt(pos)
		if !cfg.Votes(voter) {
			abstained.Add(1)
			marks.skip(pos)
			continue
		}
		if cfg.Rate > 0 {
			due := start.Add(time.Duration(float64(sent) / cfg.Rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					break dispatch
				}
			}
		}
		marks.start(pos)
		select {
		case jobs <- job{pos, voter}:
			sent++
		case <-ctx.Done():
			marks.done(pos)
			break dispatch
		}
		if failed.Load() > 0 {
			break
		}
	}
	if pos >= cfg.Voters {
		// Every position of this part had its turn: the part is done to the end, whichever part's
		// position was the last.
		marks.skip(cfg.Voters - 1)
	}
	close(jobs)
	wg.Wait()
	close(stopCheckpoints)
	cpWG.Wait()
	if cfg.Checkpoint != nil && ctx.Err() == nil {
		if err := cfg.Checkpoint(ctx, marks.low()); err != nil {
			return st, err
		}
	}
	st = Stats{Cast: cast.Load(), AlreadyVoted: already.Load(), Abstained: abstained.Load(), Failed: failed.Load(), Retries: retries.Load()}
	return st, firstErr
}

// watermark tracks the lowest position whose cast has not returned yet.
type watermark struct {
	mu       sync.Mutex
	inFlight map[int64]bool // started, not finished
	max      int64          // one past the highest position seen
}

func newWatermark(from int64) *watermark {
	return &watermark{max: from, inFlight: map[int64]bool{}}
}

func (w *watermark) start(pos int64) {
	w.mu.Lock()
	w.inFlight[pos] = true
	w.max = max(w.max, pos+1)
	w.mu.Unlock()
}

func (w *watermark) skip(pos int64) {
	w.mu.Lock()
	w.max = max(w.max, pos+1)
	w.mu.Unlock()
}

func (w *watermark) done(pos int64) {
	w.mu.Lock()
	delete(w.inFlight, pos)
	w.mu.Unlock()
}

func (w *watermark) low() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	low := w.max
	for p := range w.inFlight {
		low = min(low, p)
	}
	return low
}
