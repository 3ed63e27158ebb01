package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"golang.org/x/mod/sumdb/note"
	"time"

	"github.com/election/election/internal/ballot"
	"github.com/election/election/internal/board"
	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/lifecycle"
	"github.com/election/election/internal/lots"
	"github.com/election/election/internal/metrics"
	"github.com/election/election/internal/register"
	"github.com/election/election/internal/relay"
	"github.com/election/election/internal/results"
	"github.com/election/election/internal/sim"
	"github.com/election/election/internal/status"
	"github.com/election/election/internal/stream"
	"github.com/election/election/internal/synth"
	"github.com/election/election/internal/tally"
	"github.com/election/election/internal/web"
)

// Running is a started process, for callers (tests, benchmarks) that want to look inside.
type Running struct {
	Store   *ledger.Store
	Stream  stream.Config
	Index   *election.Index
	Metrics *metrics.Metrics
	View    *results.View  // nil unless serving or tallying
	Server  *web.Server    // nil unless serving
	Caster  *ledger.Caster // nil unless serving or simulating in process
	Sim     *sim.Service   // nil unless simulating
}

// Run runs the configured roles until ctx ends, a service fails (the error names it), or, with
// Sim.ExitWhenDone, the simulation is over and counted. started, if set, is called once everything runs.
func Run(ctx context.Context, cfg Config, started func(*Running)) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	log := cfg.Logger
	conn, err := ConnectLedger(ctx, cfg.Conn, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	p, err := prepare(ctx, cfg, conn)
	if err != nil {
		return err
	}
	store, sc := conn.Store, conn.Stream
	cfg.Roles.Simulate = cfg.Roles.Simulate && p.simulation
	ix, gen, voters := election.NewIndex(p.election), p.gen, p.voters
	m := metrics.New()
	run := &Running{Store: store, Stream: sc, Index: ix, Metrics: m}
	var services []lifecycle.Service

	// The key that authenticates vote records: the relay signs with it, the tally counts only what verifies.
	var key *stream.RecordKey
	if cfg.Roles.Relay || cfg.Roles.Tally {
		secret, err := store.RecordKey(ctx)
		if err != nil {
			return err
		}
		key = stream.NewRecordKey(secret)
	}
	// The relay and the board writer read the same committed ballots: in one process they share the
	// reads (ledger.ReadCache). The board follows the relay by at most a round (16,384 ballots, 100 ms).
	var reads ledger.BallotSource = store
	if cfg.Roles.Relay && cfg.Roles.Board {
		reads = ledger.NewReadCache(store, 1<<15)
	}
	var writer *board.Writer
	if cfg.Roles.Board {
		skey, _, err := store.BoardKeys(ctx)
		if err != nil {
			return err
		}
		writer, err = board.NewWriter(board.WriterConfig{Ledger: boardLedger{store, reads}, Dir: cfg.Board, SignerKey: skey, Metrics: m, Logger: component(log, "board")})
		if err != nil {
			return err
		}
	}
	var rel *relay.Relay
	if cfg.Roles.Relay {
		if rel, err = relay.New(relay.Config{Store: reads, Index: ix, Stream: sc, Metrics: m, RecordKey: key, Logger: component(log, "relay")}); err != nil {
			return err
		}
	}
	if cfg.Roles.Serve || cfg.Roles.Simulate && cfg.Sim.Target == "" {
		run.Caster = ledger.NewCaster(store, ix, ledger.CasterConfig{}, component(log, "caster"))
		run.Caster.OnCommit = func(n int, took time.Duration) {
			m.BallotsCommitted.Add(float64(n))
			m.CastBatch.Observe(took.Seconds())
			if rel != nil {
				rel.Nudge()
			}
		}
		services = append(services, run.Caster)
	}
	if rel != nil {
		services = append(services, rel)
	}
	if writer != nil {
		services = append(services, writer)
	}
	if cfg.Roles.Tally {
		t, err := tally.New(tally.Config{Index: ix, Stream: sc, Metrics: m, RecordKey: key, Logger: component(log, "tally"), Instance: cfg.Tally.Instance})
		if err != nil {
			return err
		}
		services = append(services, t)
	}
	if cfg.Roles.Serve || cfg.Roles.Tally || cfg.Sim.ExitWhenDone {
		run.View, err = results.NewView(results.ViewConfig{Index: ix, Snapshots: stream.NewStateFollower(sc), Registry: store,
			Metrics: m, Logger: component(log, "results")})
		if err != nil {
			return err
		}
		services = append(services, run.View)
	}
	if cfg.Roles.Tally {
		services = append(services, results.NewPublisher(run.View, sc, 0, component(log, "publisher")))
	}
	if cfg.Roles.Serve {
		var pub *web.Board
		if _, err := os.Stat(cfg.Board); err == nil || writer != nil {
			pub = &web.Board{Dir: cfg.Board, Info: boardInfo(store)}
		} else if cfg.Board != "" {
			log.Info("no bulletin board to publish here", "board", cfg.Board)
		}
		seed, err := store.LotSeed(ctx)
		if err != nil {
			return err
		}
		run.Server, err = web.New(web.Config{Addr: cfg.HTTP.Addr, Limits: cfg.HTTP.Limits, Index: ix, View: run.View, Caster: run.Caster,
			Board: pub, LotCommitment: lots.Commitment(seed), Health: healthChecks(store, sc, run.View), Metrics: m, Logger: component(log, "web")})
		if err != nil {
			return err
		}
		services = append(services, run.Server)
	}
	var until <-chan struct{}
	if cfg.Roles.Simulate {
		if err := rememberSim(ctx, store, &cfg.Sim, log); err != nil {
			return err
		}
		var caster sim.Caster = run.Caster
		if cfg.Sim.Target != "" {
			caster = sim.NewHTTPCaster(cfg.Sim.Targets(), cfg.Sim.Workers)
		}
		part, parts, _ := cfg.Sim.PartOf() // validated
		run.Sim, err = sim.NewService(sim.ServiceConfig{
			Config: sim.Config{Generator: gen, Caster: caster, Logger: component(log, "simulator"), Voters: voters,
				Turnout: cfg.Sim.Turnout, Rate: cfg.Sim.Rate, Workers: cfg.Sim.Workers, OnCast: cfg.Sim.OnCast, Part: part, Parts: parts},
			Ledger: store, Paced: cfg.Sim.Paced, ClosePolls: cfg.Sim.ClosePolls,
		})
		if err != nil {
			return err
		}
		services = append(services, run.Sim)
		if writer != nil {
			go func() { // the last ballots go on the board at once, not at the writer's next tick
				select {
				case <-run.Sim.Finished():
					writer.RoundNow()
				case <-run.Sim.Done():
				}
			}()
		}
		if cfg.Sim.ExitWhenDone || cfg.Sim.ClosePolls && run.View != nil {
			board := ""
			if cfg.Roles.Board {
				board = cfg.Board
			}
			over := counted(run, cfg.Sim.ClosePolls, board)
			if cfg.Sim.ExitWhenDone {
				until = over
			} else {
				go func() {
					select {
					case <-over:
						log.Info("the election is over: the polls are closed and every ballot is counted; the results are final", whatNext(cfg, run, false)...)
					case <-ctx.Done():
					}
				}()
			}
		}
	}
	services = append(services, status.New(status.Config{Ledger: store, View: viewOrNil(run.View), Metrics: m, Logger: log}))

	err = lifecycle.Run(ctx, log, until, func() {
		if run.Server != nil {
			base := "http://" + run.Server.Addr()
			log.Info("results page and API listening", "page", base+"/", "api", base+"/api/v1/results")
		}
		if started != nil {
			started(run)
		}
	}, services...)
	if err == nil && until != nil {
		select {
		case <-until:
			log.Info("simulation finished and counted", append([]any{"ballots", run.View.Current().BallotsCounted}, whatNext(cfg, run, true)...)...)
		default:
		}
	}
	return err
}

// boardLedger is the ledger as the board writer sees it: its lock from the store, its ballots through
// the reads it shares with the relay.
type boardLedger struct {
	*ledger.Store
	reads ledger.BallotSource
}

func (l boardLedger) BallotsAfter(ctx context.Context, pos ballot.Position, limit int) ([]ballot.Ballot, error) {
	return l.reads.BallotsAfter(ctx, pos, limit)
}

// simSettings is where a simulation's settings are kept (ledger.Store).
type simSettings interface {
	SimSettings(ctx context.Context) (ledger.SimSettings, bool, error)
	SetSimSettings(ctx context.Context, st ledger.SimSettings) error
}

// rememberSim takes what the command line did not set from how the simulation was last started, and
// records how it starts now.
func rememberSim(ctx context.Context, store simSettings, c *SimConfig, log *slog.Logger) error {
	last, ok, err := store.SimSettings(ctx)
	if err != nil {
		return err
	}
	if ok && (!c.RateGiven || !c.TurnoutGiven) {
		if !c.RateGiven {
			c.Rate, c.Paced = last.Rate, last.Paced
		}
		if !c.TurnoutGiven {
			c.Turnout = last.Turnout
		}
		log.Info("the simulation goes on as it was started (give --rate or --turnout to change that)", "rate", c.Rate, "paced", c.Paced, "turnout", c.Turnout)
	}
	return store.SetSimSettings(ctx, ledger.SimSettings{Rate: c.Rate, Paced: c.Paced, Turnout: c.Turnout})
}

// whatNext says how to check a finished election: the audit, and the verifier against the public
// endpoints. Only for the embedded default are the commands spelled out: elsewhere they would carry the
// database's URL.
func whatNext(cfg Config, run *Running, exiting bool) []any {
	c := cfg.Conn
	api := "http://" + cfg.HTTP.Addr
	if run.Server != nil {
		api = "http://" + run.Server.Addr()
	}
	if c.PostgresURL != "" || len(c.Brokers) > 0 {
		return []any{"check_with", "election audit and election verify --from " + api + ", with this command's --postgres and --kafka flags"}
	}
	if exiting {
		return []any{"audit", "election audit --data " + c.DataDir,
			"verify", "election serve --data " + c.DataDir + ", then election verify --from " + api}
	}
	return []any{"audit", "election audit --data " + c.DataDir + " --kafka " + c.KafkaListen, "verify", "election verify --from " + api}
}

// boardInfo reads what the API publishes about the board from the ledger.
func boardInfo(store *ledger.Store) func(context.Context) (board.Info, error) {
	return func(ctx context.Context) (board.Info, error) {
		vkey, err := store.BoardVerifierKey(ctx)
		if err != nil {
			return board.Info{}, err
		}
		v, err := note.NewVerifier(vkey)
		if err != nil {
			return board.Info{}, fmt.Errorf("the board's verifier key: %w", err)
		}
		voted, err := store.VotersVoted(ctx)
		return board.Info{Origin: v.Name(), VerifierKey: vkey, VotersVoted: voted}, err
	}
}

// viewOrNil keeps a nil *results.View from becoming a non-nil interface.
func viewOrNil(v *results.View) status.Results {
	if v == nil {
		return nil
	}
	return v
}

// prepared is what every role needs: the election, its synthetic voters, and whether it is a simulation.
type prepared struct {
	election *election.Election
	gen      *synth.Generator
	voters   int64 // synthetic voters 0..voters-1
	// simulation is false for an election whose voters were imported from a roll: no synthetic voter is
	// ever added to it and the simulator never casts in it.
	simulation bool
}

// prepare resolves the election and checks the command against it from the ledger alone, then reaches
// Kafka and registers what the Register role asks for.
func prepare(ctx context.Context, cfg Config, conn *Conn) (*prepared, error) {
	store := conn.Store
	p := &prepared{}
	var err error
	if cfg.Roles.Register {
		p.election, err = register.Election(ctx, store, cfg.Election)
	} else if p.election, err = store.Election(ctx); errors.Is(err, ledger.ErrNoElection) {
		err = errors.New("no election is registered in this ledger yet: run `election up` or `election register` first")
	}
	if err != nil {
		return nil, err
	}
	source, err := store.VoterSource(ctx)
	if err != nil {
		return nil, err
	}
	if p.simulation = source != ledger.VotersImported; !p.simulation {
		const why = "this election's voters were imported from a roll"
		switch {
		case cfg.Voters != 0:
			return nil, fmt.Errorf("--voters: %s; synthetic voters are never added to it", why)
		case cfg.Roles.Simulate && cfg.Sim.ExitWhenDone:
			return nil, fmt.Errorf("--exit-when-done waits for a simulation to be counted, and %s: it has none (voters cast through POST /api/v1/ballots)", why)
		case cfg.Roles.Simulate && !cfg.Roles.Register:
			return nil, fmt.Errorf("the simulator runs only on simulated elections, and %s: its voters cast through POST /api/v1/ballots", why)
		}
	}
	secret, err := store.SimulationSecret(ctx)
	if err != nil {
		return nil, err
	}
	p.gen = synth.NewGenerator(election.NewIndex(p.election), secret)
	if p.simulation {
		if p.voters = cfg.Voters; p.voters == 0 {
			if p.voters, err = store.SyntheticRegistered(ctx); err != nil {
				return nil, err
			}
			if p.voters == 0 {
				p.voters = register.DefaultVoters(p.election)
			}
		}
	}
	if err := conn.ConnectKafka(ctx, cfg.Conn, cfg.Logger); err != nil {
		return nil, err
	}
	e := p.election
	cfg.Logger.Info("election", "name", e.Name, "constituencies", len(e.Constituencies), "candidates", len(e.Candidates), "synthetic_voters", p.voters, "simulation", p.simulation)
	if !p.simulation {
		cfg.Logger.Info("the voters of this election were imported from a roll: no simulation runs, voters cast through POST /api/v1/ballots")
	}
	if cfg.Roles.Register && p.simulation {
		// Under a stage label of its own, which the publisher's Kafka client inherits (lifecycle.InStage).
		err := lifecycle.InStage(ctx, "register", func(ctx context.Context) error {
			pub, err := register.NewPublisher(conn.Stream)
			if err != nil {
				return err
			}
			defer pub.Close()
			return register.Synthetic(ctx, register.SyntheticConfig{Store: store, Generator: p.gen, Total: p.voters, Publisher: pub,
				Logger: component(cfg.Logger, "register")})
		})
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// counted is closed once the simulation has finished and the results count every ballot in the ledger
// (and, when the simulation closes the polls, show them closed), and so does the bulletin board's
// published checkpoint when boardDir is set.
func counted(run *Running, closesPolls bool, boardDir string) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		select {
		case <-run.Sim.Finished():
		case <-run.Sim.Done():
			return // stopped or failed before the end
		}
		changed, unsubscribe := run.View.Subscribe()
		defer unsubscribe()
		for {
			tot, err := run.Store.BallotCount(context.Background())
			cur := run.View.Current()
			onBoard := tot
			if boardDir != "" {
				n, err := board.PublishedSize(boardDir)
				if err != nil {
					onBoard = -1
				} else {
					onBoard = int64(n)
				}
			}
			if err == nil && cur.BallotsCounted == tot && onBoard == tot && (!closesPolls || cur.PollsClosed) {
				close(ch)
				return
			}
			// The ledger's count may move without the view's, and the board's checkpoint does: looked at
			// again within a second, and every 20 ms once only the board is behind.
			poll := time.Second
			if err == nil && cur.BallotsCounted == tot && onBoard < tot {
				poll = 20 * time.Millisecond
			}
			select {
			case <-changed:
			case <-time.After(poll):
			case <-run.View.Done():
				return
			}
		}
	}()
	return ch
}
