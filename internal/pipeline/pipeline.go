// Package pipeline is the composition root: it connects to the ledger and Kafka (or starts the embedded
// broker), and runs the roles a command asks for as one ordered list of services (lifecycle.Run): the
// caster, relay, tally, results view and publisher, web server, simulator and status reporter. `election
// up` runs every role; `election relay`, `tally`, `serve` and `simulate` run one each, sharing the work
// with other processes through the ledger and Kafka.
//
// It only wires: what each part does, and every decision about it, belongs to that part's package.
package pipeline

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/election/election/internal/register"
	"github.com/election/election/internal/web"
)

// Roles says which parts run in this process.
type Roles struct {
	Register bool // register the election and synthetic voters if not done yet
	Relay    bool
	Tally    bool
	Serve    bool // results view, HTTP API, and ballot casting over HTTP
	Simulate bool
	Board    bool // write the public bulletin board
}

// All is every role: `election up`.
var All = Roles{Register: true, Relay: true, Tally: true, Serve: true, Simulate: true, Board: true}

// Config is a process: which roles run, and each role's part of the configuration. Only the parts of the
// roles that run are validated.
type Config struct {
	Roles Roles
	Conn  ConnConfig
	// Election is the election to register (Register role), and Voters how many synthetic voters it gets
	// (0: as many as are registered already, or the election's default).
	Election register.Want
	Voters   int64
	Sim      SimConfig
	HTTP     HTTPConfig
	// Board is the bulletin board's directory: written by the Board role, served by the Serve role (if it
	// exists). Empty means DATA/board.
	Board  string
	Tally  TallyConfig
	Logger *slog.Logger
}

// SimConfig is the simulator's part.
type SimConfig struct {
	Rate    float64 // ballots per second; 0 as fast as possible
	Paced   bool    // ignore Rate: pace the simulation to last about 90 s
	Turnout float64 // share of voters who vote
	Workers int     // casts in flight (0: DefaultWorkers in process, DefaultHTTPWorkers through Target)
	Target  string  // cast through this API (base URL), or several in turn (comma-separated), instead of the ledger in process
	// Part, "K/N" (e.g. "2/4"), casts for the K-th of N shares of the voters only, so that N simulators
	// (on as many machines) cast an election together, each keeping its own place (sim.Config.Parts).
	// "": the whole simulation.
	Part string
	// ExitWhenDone ends Run once the simulation has finished and the results count every ballot.
	ExitWhenDone bool
	// ClosePolls closes the polls when the simulation has finished (`election up`).
	ClosePolls bool
	// OnCast, if set, is called after each ballot the simulator had accepted (benchmarks time them).
	OnCast func()
	// RateGiven and TurnoutGiven say that the command line set the rate (or pacing) and the turnout; what
	// it did not set is taken from how the simulation was last started, so a restart goes on as before.
	RateGiven, TurnoutGiven bool
}

func (c *SimConfig) validate() error {
	switch {
	case c.Turnout <= 0 || c.Turnout > 1:
		return fmt.Errorf("--turnout %v: must be more than 0 and at most 1", c.Turnout)
	case c.Rate < 0:
		return fmt.Errorf("--rate %v: must not be negative", c.Rate)
	case c.Workers < 0:
		return fmt.Errorf("--workers %d: must be at least 1 (or 0 for the default)", c.Workers)
	case c.Workers == 0 && c.Target == "":
		c.Workers = DefaultWorkers
	case c.Workers == 0:
		c.Workers = DefaultHTTPWorkers * len(c.Targets())
	}
	if _, _, err := c.PartOf(); err != nil {
		return err
	}
	if c.Part != "" && c.ClosePolls {
		return fmt.Errorf("--part %s: election up closes the polls when its simulation ends, which would turn the other parts' voters away: run the parts with election simulate, then election close", c.Part)
	}
	if c.Target != "" && len(c.Targets()) == 0 {
		return fmt.Errorf("--target %q: no URL in it: want an election API's base URL, such as http://127.0.0.1:8080", c.Target)
	}
	for _, t := range c.Targets() {
		if u, err := url.Parse(t); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--target %q: want an election API's base URL, such as http://127.0.0.1:8080 (several: comma-separated)", t)
		}
	}
	return nil
}

// PartOf returns Part as sim.Config's Part (from 0) and Parts; 0 and 1 for the whole simulation.
func (c *SimConfig) PartOf() (part, parts int64, err error) {
	if c.Part == "" {
		return 0, 1, nil
	}
	k, n, ok := strings.Cut(c.Part, "/")
	part, errK := strconv.ParseInt(k, 10, 64)
	parts, errN := strconv.ParseInt(n, 10, 64)
	if !ok || errK != nil || errN != nil || parts < 1 || part < 1 || part > parts {
		return 0, 0, fmt.Errorf("--part %q: want K/N with 1 ≤ K ≤ N, such as 2/4 (the second of four shares of the voters)", c.Part)
	}
	return part - 1, parts, nil
}

// Targets are the APIs the simulator casts through, in turn (none: it casts into the ledger in process).
func (c *SimConfig) Targets() []string {
	var out []string
	for _, t := range strings.Split(c.Target, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// The simulator's casts in flight when --workers is not given. The simulator is a closed loop: each
// worker casts again once its ballot is committed, so with W workers it casts at most W per commit
// cycle, and a group commit of W ballots takes longer the larger W is. On this project's 2-core machine
// `election up --preset national --voters 300000 --rate 0` cast 13.7k ballots/s with 256 workers and
// 34.9k with 4,096 (docs/measured.md): with 256 the ledger waited on the simulator, not the reverse.
// Through the API every worker is a connection from one address, so it stays within the server's
// default --max-conns-per-client.
const (
	DefaultWorkers     = 4096
	DefaultHTTPWorkers = 256
)

// HTTPConfig is the web server's part.
type HTTPConfig struct {
	Addr   string
	Limits web.Limits
}

// TallyConfig is the tally's part.
type TallyConfig struct {
	// Instance names this tally among the tally processes, stable across its restarts (default: the
	// host name).
	Instance string
}

func (c *Config) validate() error {
	if c.Logger == nil {
		return errors.New("pipeline: no logger")
	}
	if err := c.Conn.validate(); err != nil {
		return err
	}
	if c.Roles.Register {
		if c.Voters < 0 {
			return fmt.Errorf("--voters %d: must not be negative", c.Voters)
		}
		if err := c.Election.Check(); err != nil {
			return err
		}
	}
	if c.Roles.Simulate {
		if err := c.Sim.validate(); err != nil {
			return err
		}
	}
	if c.Roles.Serve && c.HTTP.Addr == "" {
		return errors.New("--http: an address to listen on is needed")
	}
	if c.Board == "" && c.Conn.DataDir != "" {
		c.Board = filepath.Join(c.Conn.DataDir, "board")
	}
	if c.Roles.Board && c.Board == "" {
		return errors.New("--board: a directory for the bulletin board is needed (shared with every `serve` that publishes it)")
	}
	if c.Roles.Tally && c.Tally.Instance == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			return errors.New("--instance: no name given and the host has none")
		}
		c.Tally.Instance = host
	}
	return nil
}
