// Package pipeline assembles the roles into one running process: the ledger, the Kafka connection (or the
// embedded broker), registration, the relay, the tally, the results view and HTTP server, and the
// simulator. `election up` runs every role; `election relay`, `tally`, `serve` and `simulate` run one each,
// sharing the work with other processes through the ledger and Kafka.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/register"
	"github.com/election/election/internal/stream"
)

// Roles says which parts run in this process.
type Roles struct {
	Register bool // register the election and synthetic voters if not done yet
	Relay    bool
	Tally    bool
	Serve    bool // results view, HTTP API, and ballot casting over HTTP
	Simulate bool
}

// All is every role: `election up`.
var All = Roles{Register: true, Relay: true, Tally: true, Serve: true, Simulate: true}

// Config is everything a process needs, read once from flags and the environment.
type Config struct {
	DataDir     string   // SQLite ledger and embedded broker data
	PostgresURL string   // use PostgreSQL instead of SQLite
	Brokers     []string // use these Kafka brokers instead of the embedded one
	KafkaListen string   // the embedded broker's address
	Prefix      string   // topic/group prefix
	Partitions  int32
	Election    string  // preset name or election file; "" means the one registered, or "seed"
	Candidates  string  // a candidates CSV added to Election's candidates when it is registered
	Voters      int64   // synthetic voters; 0 means the preset's default
	Turnout     float64 // share of voters the simulator casts for
	Rate        float64 // ballots per second; 0 as fast as possible; <0 paced to last about 90 s
	Workers     int     // simulator casts in flight
	HTTPAddr    string
	Target      string // simulate through this API (base URL) instead of the ledger in process
	Instance    string // tally instance name (stable across restarts)
	Roles       Roles
	// OnCast, if set, is called after each ballot the simulator had accepted (benchmarks time them).
	OnCast func()
	// ExitWhenDone ends Run once the simulation has finished and the results show every ballot.
	ExitWhenDone bool
	Logger       *slog.Logger
}

func (c *Config) validate() error {
	if c.Logger == nil {
		return errors.New("pipeline: no logger")
	}
	if c.PostgresURL == "" && c.DataDir == "" {
		return errors.New("pipeline: --data is needed for the SQLite ledger (or give --postgres)")
	}
	if len(c.Brokers) == 0 && c.DataDir == "" {
		return errors.New("pipeline: --data is needed for the embedded Kafka broker (or give --kafka)")
	}
	if c.Turnout <= 0 || c.Turnout > 1 {
		return fmt.Errorf("pipeline: --turnout %v: must be more than 0 and at most 1", c.Turnout)
	}
	if c.Voters < 0 {
		return fmt.Errorf("pipeline: --voters %d: must not be negative", c.Voters)
	}
	if c.Partitions <= 0 {
		c.Partitions = 6
	}
	if c.Instance == "" {
		host, _ := os.Hostname()
		c.Instance = host
	}
	return nil
}

// closesPolls: only `election up`, which runs the whole election, closes the polls when its simulation
// ends.
func (c Config) closesPolls() bool { return c.Roles == All }

// DefaultVoters is each preset's voter count when --voters is not given.
func DefaultVoters(e *election.Election) int64 {
	if len(e.Constituencies) > 100 {
		return 1_000_000
	}
	return 1000
}

// loadElection resolves --preset (a built-in name or a file path) and adds the candidates of --candidates.
func loadElection(name, candidatesCSV string) (*election.Election, error) {
	var e *election.Election
	var err error
	switch {
	case slices.Contains(election.Presets, name):
		e, err = election.Preset(name)
	case strings.ContainsAny(name, "/.") && candidatesCSV == "":
		e, err = election.Load(name)
	case strings.ContainsAny(name, "/."):
		// Not validated yet: the file may list no candidates, as they come from the CSV.
		e, err = election.LoadDraft(name)
	default:
		e, err = election.Preset(name) // unknown name: Preset's error lists the presets
	}
	if err != nil || candidatesCSV == "" {
		return e, err
	}
	cands, err := register.ReadCandidatesCSV(candidatesCSV, e)
	if err != nil {
		return nil, err
	}
	e.Candidates = append(e.Candidates, cands...)
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("election %s with the candidates of %s: %w", name, candidatesCSV, err)
	}
	return e, nil
}

// Connect opens the ledger and, unless brokers are given, starts the embedded broker; then checks Kafka
// and creates the topics. The returned cleanup closes what was opened.
func Connect(ctx context.Context, cfg *Config) (*ledger.Store, stream.Config, func(), error) {
	var cleanup []func()
	done := func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}
	sc := stream.Config{Brokers: cfg.Brokers, Prefix: cfg.Prefix, Partitions: cfg.Partitions, Logger: cfg.Logger}
	// An unreachable external broker is reported before anything is created on disk or in a database.
	if len(cfg.Brokers) > 0 {
		if err := stream.Ping(ctx, sc); err != nil {
			return nil, stream.Config{}, nil, err
		}
	}
	store, err := ledger.Open(ctx, ledger.Config{PostgresURL: cfg.PostgresURL, SQLitePath: filepath.Join(cfg.DataDir, "ledger.db"), Logger: cfg.Logger})
	if err != nil {
		return nil, stream.Config{}, nil, err
	}
	cleanup = append(cleanup, store.Close)
	if len(cfg.Brokers) == 0 {
		emb, err := stream.StartEmbedded(cfg.KafkaListen, filepath.Join(cfg.DataDir, "kafka"), cfg.Logger)
		if err != nil {
			done()
			return nil, stream.Config{}, nil, err
		}
		cleanup = append(cleanup, emb.Stop)
		sc.Brokers = []string{emb.Addr()}
		sc.Incarnation = strconv.FormatInt(time.Now().UnixNano(), 36)
		cfg.Logger.Info("embedded Kafka broker listening", "addr", emb.Addr(), "data", filepath.Join(cfg.DataDir, "kafka"))
	}
	if err := stream.Ping(ctx, sc); err != nil {
		done()
		return nil, stream.Config{}, nil, err
	}
	if err := stream.EnsureTopics(ctx, sc); err != nil {
		done()
		return nil, stream.Config{}, nil, err
	}
	return store, sc, done, nil
}

// CheckElection loads cfg.Election (when given) and cfg.Candidates without connecting anywhere, so a bad
// preset name, election file or candidates CSV is reported before anything is created.
func CheckElection(cfg *Config) error {
	if cfg.Candidates != "" && cfg.Election == "" {
		return errors.New("pipeline: --candidates needs --preset: the election (file) whose parties and constituencies the candidates stand for")
	}
	if cfg.Election == "" {
		return nil
	}
	_, err := loadElection(cfg.Election, cfg.Candidates)
	return err
}

// Election returns the registered election, registering cfg.Election first when allowed.
func Election(ctx context.Context, cfg *Config, store *ledger.Store) (*election.Election, error) {
	e, err := store.Election(ctx)
	switch {
	case err == nil && cfg.Election == "":
		return e, nil
	case err != nil && !errors.Is(err, ledger.ErrNoElection):
		return nil, err
	case err != nil && !cfg.Roles.Register:
		return nil, errors.New("no election is registered in this ledger yet: run `election up` or `election register` first")
	}
	name := cfg.Election
	if name == "" {
		name = "seed"
	}
	want, err := loadElection(name, cfg.Candidates)
	if err != nil {
		return nil, err
	}
	if err := store.RegisterElection(ctx, want); err != nil {
		return nil, err
	}
	return store.Election(ctx)
}

// waitUntil polls cond every interval until it is true or ctx ends.
func waitUntil(ctx context.Context, interval time.Duration, cond func() bool) bool {
	for !cond() {
		select {
		case <-time.After(interval):
		case <-ctx.Done():
			return false
		}
	}
	return true
}
