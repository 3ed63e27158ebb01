package sim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/election/election/internal/lifecycle"
)

// Ledger is where a simulation keeps its place between runs (a place for each part: PartName), and the
// polls it closes.
type Ledger interface {
	SimulationPosition(ctx context.Context, part string) (int64, error)
	SetSimulationPosition(ctx context.Context, part string, pos int64) error
	ClosePolls(ctx context.Context, at time.Time) error
}

// ServiceConfig is a simulation run as a service: Config without From and Checkpoint, which come from
// the ledger.
type ServiceConfig struct {
	Config
	Ledger Ledger
	// Paced, when true, ignores Rate and paces the simulation to last about 90 seconds.
	Paced bool
	// ClosePolls closes the polls once every voter has had their turn: what `election up`, which runs a
	// whole election, does. A separate `election simulate` (one of several, perhaps) leaves it to
	// `election close`.
	ClosePolls bool
}

func (c *ServiceConfig) validate() error {
	switch {
	case c.Generator == nil:
		return errors.New("sim: no voter generator")
	case c.Caster == nil:
		return errors.New("sim: no caster")
	case c.Ledger == nil:
		return errors.New("sim: no ledger")
	case c.Logger == nil:
		return errors.New("sim: no logger")
	case c.Voters <= 0:
		return errors.New("sim: no voters")
	case c.Turnout <= 0 || c.Turnout > 1:
		return errors.New("sim: turnout must be more than 0 and at most 1")
	case c.Parts > 1 && c.ClosePolls:
		return errors.New("sim: a part of a simulation cannot close the polls: the other parts' voters would be turned away")
	}
	return c.checkPart()
}

// PartName names a part of a simulation the way people count them, "2/4" for Part 1 of 4; "" for a
// whole simulation.
func (c *Config) PartName() string {
	if c.Parts <= 1 {
		return ""
	}
	return fmt.Sprintf("%d/%d", c.Part+1, c.Parts)
}

// Service runs one simulation from where the last stopped, as a lifecycle.Service. It stops by itself when
// the simulation is over; a cast that fails for a reason a retry cannot fix fails the service.
type Service struct {
	lifecycle.Base
	cfg      ServiceConfig
	finished chan struct{}
	mu       sync.Mutex
	stats    Stats
}

// NewService checks the config.
func NewService(cfg ServiceConfig) (*Service, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, finished: make(chan struct{})}, nil
}

// Name is the service's name.
func (s *Service) Name() string { return "simulator" }

// Start runs the simulation in the background.
func (s *Service) Start(ctx context.Context) error {
	s.Base.Run(ctx, "simulator", s.run)
	return nil
}

// Finished is closed once every voter has had their turn (and, with ClosePolls, the polls are closed).
// It is not closed when the simulation is stopped or fails.
func (s *Service) Finished() <-chan struct{} { return s.finished }

// Stats is what the simulation has done so far in this run.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *Service) run(ctx context.Context) error {
	cfg, log := s.cfg, s.cfg.Logger
	part := cfg.PartName()
	from, err := cfg.Ledger.SimulationPosition(ctx, part)
	if err != nil {
		return err
	}
	closePolls := func() error {
		if !cfg.ClosePolls {
			return nil
		}
		return cfg.Ledger.ClosePolls(ctx, time.Now())
	}
	if from >= cfg.Voters {
		// A previous run may have been stopped between its last cast and closing the polls.
		log.Info("simulation already complete", "voters", cfg.Voters, "part", part)
		if err := closePolls(); err != nil {
			return err
		}
		close(s.finished)
		return nil
	}
	if cfg.Paced {
		cfg.Rate = max(1, float64(cfg.Voters)*cfg.Turnout/90)
	}
	cfg.From = from
	cfg.Checkpoint = func(ctx context.Context, pos int64) error { return cfg.Ledger.SetSimulationPosition(ctx, part, pos) }
	log.Info("simulating", "from_position", from, "voters", cfg.Voters, "part", part, "turnout", cfg.Turnout, "rate_per_second", cfg.Rate)
	st, err := Run(ctx, cfg.Config)
	s.mu.Lock()
	s.stats = st
	s.mu.Unlock()
	if err != nil || ctx.Err() != nil {
		return err
	}
	log.Info("simulation complete", "part", part, "cast", st.Cast, "abstained", st.Abstained, "already_voted", st.AlreadyVoted, "closing_polls", cfg.ClosePolls)
	if err := closePolls(); err != nil {
		return err
	}
	close(s.finished)
	return nil
}
