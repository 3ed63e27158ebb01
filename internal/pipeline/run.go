package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/lifecycle"
	"github.com/election/election/internal/metrics"
	"github.com/election/election/internal/register"
	"github.com/election/election/internal/relay"
	"github.com/election/election/internal/results"
	"github.com/election/election/internal/sim"
	"github.com/election/election/internal/stream"
	"github.com/election/election/internal/synth"
	"github.com/election/election/internal/tally"
	"github.com/election/election/internal/web"
)

// Running is a started process, for callers (tests, benchmarks) that want to look inside.
type Running struct {
	Store   *ledger.Store
	Index   *election.Index
	Metrics *metrics.Metrics
	View    *results.View  // nil unless serving
	Server  *web.Server    // nil unless serving
	Caster  *ledger.Caster // nil unless serving or simulating
	// SimDone is closed when the simulation has finished (never, without the role).
	SimDone chan struct{}
	SimErr  error
	SimStat sim.Stats

	closesPolls bool
}

// Run runs the configured roles until ctx ends (or, with ExitWhenDone, the simulation is over and
// counted). started, if set, is called once everything is running.
func Run(ctx context.Context, cfg Config, started func(*Running)) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	log := cfg.Logger
	p, err := prepare(ctx, &cfg)
	if err != nil {
		return err
	}
	defer p.close()
	store, sc, ix, gen, voters := p.store, p.sc, p.ix, p.gen, p.voters

	m := metrics.New()
	run := &Running{Store: store, Index: ix, Metrics: m, SimDone: make(chan struct{}), closesPolls: cfg.closesPolls()}
	var stops []func()
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}()
	// roles that can stop by themselves (a failure a new session cannot fix)
	type role struct {
		name   string
		runner *lifecycle.Runner
	}
	var watched []role

	var rel *relay.Relay
	if cfg.Roles.Relay {
		if rel, err = relay.New(relay.Config{Store: store, Index: ix, Stream: sc, Metrics: m, Logger: log}); err != nil {
			return err
		}
		rel.Start(ctx)
		stops = append(stops, rel.Stop)
		watched = append(watched, role{"relay", &rel.Runner})
	}
	if cfg.Roles.Tally {
		t, err := tally.New(tally.Config{Index: ix, Stream: sc, Metrics: m, Logger: log, Instance: cfg.Instance})
		if err != nil {
			return err
		}
		t.Start(ctx)
		stops = append(stops, t.Stop)
		watched = append(watched, role{"tally", &t.Runner})
	}
	if cfg.Roles.Serve || cfg.Roles.Simulate && cfg.Target == "" {
		run.Caster = ledger.NewCaster(store, ix, ledger.CasterConfig{}, log)
		run.Caster.OnCommit = func(n int, took time.Duration) {
			m.BallotsCommitted.Add(float64(n))
			m.CastBatch.Observe(took.Seconds())
			if rel != nil {
				rel.Nudge()
			}
		}
		run.Caster.Start(ctx)
		stops = append(stops, run.Caster.Stop)
	}
	if cfg.Roles.Serve || cfg.Roles.Tally || cfg.ExitWhenDone {
		run.View, err = results.NewView(results.ViewConfig{Index: ix, Stream: sc, Store: store, Metrics: m, Logger: log})
		if err != nil {
			return err
		}
		if err := run.View.Start(ctx); err != nil {
			return err
		}
		stops = append(stops, run.View.Stop)
	}
	if cfg.Roles.Tally {
		pub := results.NewPublisher(run.View, sc, log)
		if err := pub.Start(ctx); err != nil {
			return err
		}
		stops = append(stops, pub.Stop)
	}
	if cfg.Roles.Serve {
		run.Server, err = web.New(web.Config{Addr: cfg.HTTPAddr, Index: ix, View: run.View, Caster: run.Caster, Metrics: m, Logger: log})
		if err != nil {
			return err
		}
		if err := run.Server.Start(ctx); err != nil {
			return err
		}
		stops = append(stops, run.Server.Stop)
		base := "http://" + run.Server.Addr()
		log.Info("results page and API listening", "page", base+"/", "api", base+"/api/v1/results")
	}
	if cfg.Roles.Simulate {
		simCtx, stopSim := context.WithCancel(ctx)
		simDone := make(chan struct{})
		go func() {
			defer close(simDone)
			defer close(run.SimDone)
			var caster sim.Caster = run.Caster
			if cfg.Target != "" {
				caster = sim.NewHTTPCaster(cfg.Target, cfg.Workers)
			}
			run.SimStat, run.SimErr = simulate(simCtx, cfg, store, gen, caster, voters)
			if run.SimErr != nil && simCtx.Err() == nil {
				log.Error("simulation failed", "err", run.SimErr)
			}
		}()
		stops = append(stops, func() { stopSim(); <-simDone })
	}
	if started != nil {
		started(run)
	}

	statusDone := make(chan struct{})
	statusCtx, stopStatus := context.WithCancel(ctx)
	go func() {
		defer close(statusDone)
		logStatus(statusCtx, cfg, run)
	}()
	stops = append(stops, func() { stopStatus(); <-statusDone })

	failed := make(chan error, len(watched)) // buffered: no sender ever blocks
	for _, r := range watched {
		go func() {
			select {
			case <-r.runner.Done():
				failed <- fmt.Errorf("%s stopped: %w", r.name, r.runner.Err())
			case <-ctx.Done():
			}
		}()
	}
	var finished <-chan struct{}
	if cfg.ExitWhenDone {
		finished = waitFinished(ctx, run)
	}
	select {
	case <-ctx.Done():
		log.Info("stopping")
		return nil
	case err := <-failed:
		return err
	case <-finished:
		log.Info("simulation finished and counted", "ballots", run.View.Current().BallotsCounted)
		return run.SimErr
	}
}

// prepared is what every role needs: the connections, the election and its voters.
type prepared struct {
	store  *ledger.Store
	sc     stream.Config
	close  func()
	ix     *election.Index
	gen    *synth.Generator
	voters int64
}

// prepare connects, registers what the Register role asks for, and resolves the voter count.
func prepare(ctx context.Context, cfg *Config) (*prepared, error) {
	if err := CheckElection(cfg); err != nil {
		return nil, err
	}
	store, sc, closeConn, err := Connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	p := &prepared{store: store, sc: sc, close: closeConn}
	fail := func(err error) (*prepared, error) { closeConn(); return nil, err }
	e, err := Election(ctx, cfg, store)
	if err != nil {
		return fail(err)
	}
	p.ix = election.NewIndex(e)
	secret, err := store.SimulationSecret(ctx)
	if err != nil {
		return fail(err)
	}
	p.gen = synth.NewGenerator(p.ix, secret)
	p.voters = cfg.Voters
	if p.voters == 0 {
		if p.voters, err = store.SyntheticRegistered(ctx); err != nil {
			return fail(err)
		}
		if p.voters == 0 {
			p.voters = DefaultVoters(e)
		}
	}
	cfg.Logger.Info("election", "name", e.Name, "constituencies", len(e.Constituencies), "candidates", len(e.Candidates), "voters", p.voters)
	if cfg.Roles.Register {
		pub, err := register.NewPublisher(sc)
		if err != nil {
			return fail(err)
		}
		err = register.Synthetic(ctx, register.SyntheticConfig{Store: store, Generator: p.gen, Total: p.voters, Publisher: pub, Logger: cfg.Logger})
		pub.Close()
		if err != nil {
			return fail(err)
		}
	}
	return p, nil
}

// Register registers the election and its synthetic voters, then returns.
func Register(ctx context.Context, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	cfg.Roles = Roles{Register: true}
	p, err := prepare(ctx, &cfg)
	if err != nil {
		return err
	}
	p.close()
	return nil
}

// simulate runs the simulator from where it last stopped. In `election up` it then closes the polls; a
// separate `election simulate` (one of several, perhaps) leaves that to `election close`.
func simulate(ctx context.Context, cfg Config, store *ledger.Store, gen *synth.Generator, caster sim.Caster, voters int64) (sim.Stats, error) {
	from, err := store.SimulationPosition(ctx)
	if err != nil {
		return sim.Stats{}, err
	}
	closePolls := func() error {
		if !cfg.closesPolls() {
			return nil
		}
		return store.ClosePolls(ctx, time.Now())
	}
	if from >= voters {
		// A previous run may have been stopped between its last cast and closing the polls.
		cfg.Logger.Info("simulation already complete", "voters", voters)
		return sim.Stats{}, closePolls()
	}
	rate := cfg.Rate
	if rate < 0 {
		rate = max(1, float64(voters)*cfg.Turnout/90)
	}
	cfg.Logger.Info("simulating", "from_position", from, "voters", voters, "turnout", cfg.Turnout, "rate_per_second", rate)
	st, err := sim.Run(ctx, sim.Config{
		Generator: gen, Caster: caster, Logger: cfg.Logger, Voters: voters, Turnout: cfg.Turnout, Rate: rate,
		Workers: cfg.Workers, From: from, Checkpoint: store.SetSimulationPosition, OnCast: cfg.OnCast,
	})
	if err != nil || ctx.Err() != nil {
		return st, err
	}
	cfg.Logger.Info("simulation complete", "cast", st.Cast, "abstained", st.Abstained, "already_voted", st.AlreadyVoted, "closing_polls", cfg.closesPolls())
	return st, closePolls()
}

// waitFinished is closed once the simulation is over and the results count every ballot in the ledger.
func waitFinished(ctx context.Context, run *Running) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		select {
		case <-run.SimDone:
		case <-ctx.Done():
			return
		}
		wantClosed := run.SimErr == nil && run.closesPolls
		ok := waitUntil(ctx, 50*time.Millisecond, func() bool {
			tot, err := run.Store.Totals(ctx)
			cur := run.View.Current()
			return err == nil && cur.BallotsCounted == tot.Ballots && (!wantClosed || cur.PollsClosed)
		})
		if ok {
			close(ch)
		}
	}()
	return ch
}

// logStatus logs how far the count has got every few seconds, and sets the results-lag metric (ballots
// in the ledger not yet in the results).
func logStatus(ctx context.Context, cfg Config, run *Running) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		attrs := []any{}
		if run.View != nil {
			r := run.View.Current()
			attrs = append(attrs, "counted", r.BallotsCounted, "registered", r.RegisteredVoters, "turnout", fmt.Sprintf("%.1f%%", r.Turnout*100))
			if n, err := run.Store.BallotCount(ctx); err == nil {
				run.Metrics.ResultsLag.Set(float64(n - r.BallotsCounted))
				attrs = append(attrs, "in_ledger", n)
			}
		}
		attrs = append(attrs, "committed_here", int64(metrics.Value(run.Metrics.BallotsCommitted)), "relayed_here", int64(metrics.Value(run.Metrics.BallotsRelayed)),
			"tallied_here", int64(metrics.Value(run.Metrics.BallotsTallied)))
		cfg.Logger.Info("status", attrs...)
	}
}
