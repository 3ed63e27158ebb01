// Package cli is the command line: subcommands, flags and their ELECTION_* environment variables. It reads
// the configuration once, validates it, and hands it to the pipeline.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	"github.com/election/election/internal/board"
	"github.com/election/election/internal/pipeline"
	"github.com/election/election/internal/register"
	"github.com/election/election/internal/stream"
	"github.com/election/election/internal/web"
)

const usage = `election — a real-time election pipeline in one binary

Usage:
  election up        run everything in one process (embedded Kafka and SQLite by default)
  election register  register the election and voters, then exit (--candidates and --csv import CSV files)
  election relay     run only the relay (ledger -> votes_topic)
  election tally     run only the tally (votes_topic -> results topics), one of several
  election serve     run only the results API and ballot casting over HTTP
  election simulate  run only the simulator, casting into the ledger
  election board     run only the bulletin board's writer (ledger -> public log of ballots)
  election close     close the polls: races are decided once every ballot is counted
  election audit     reconcile the tally and the board with the ledger; prints "discrepancy N"
  election verify    check an election from its public endpoints alone: --from http://host:port
  election version   the build: version, commit, Go

Run "election COMMAND -h" for a command's flags. Every flag can also be set with an environment variable:
ELECTION_ and the flag's name in capitals with - as _ (e.g. ELECTION_KAFKA=host:9092).
`

// Main runs the command line and returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if args[0] == "version" || args[0] == "--version" || args[0] == "-version" {
		fmt.Fprintln(stdout, Version())
		return 0
	}
	tuneGC(args[0])
	private()
	if path := os.Getenv("ELECTION_CPU_PROFILE"); path != "" {
		stopProfile, err := cpuProfile(path)
		if err != nil {
			fmt.Fprintf(stderr, "election: %v\n", err)
			return 1
		}
		defer stopProfile()
	}
	if path := os.Getenv("ELECTION_HEAP_PROFILE"); path != "" {
		defer heapProfile(path, stderr)()
	}
	if path := os.Getenv("ELECTION_TRACE"); path != "" {
		after, err := traceAfter(os.Getenv("ELECTION_TRACE_AFTER"))
		if err != nil {
			fmt.Fprintf(stderr, "election: %v\n", err)
			return 1
		}
		defer executionTrace(path, after, stderr)()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "up":
		err = runRoles(ctx, cmd, rest, pipeline.All, stderr)
	case "register":
		err = runRegister(ctx, rest, stdout, stderr)
	case "relay":
		err = runRoles(ctx, cmd, rest, pipeline.Roles{Relay: true}, stderr)
	case "tally":
		err = runRoles(ctx, cmd, rest, pipeline.Roles{Tally: true}, stderr)
	case "serve":
		err = runRoles(ctx, cmd, rest, pipeline.Roles{Serve: true}, stderr)
	case "simulate":
		err = runRoles(ctx, cmd, rest, pipeline.Roles{Simulate: true}, stderr)
	case "board":
		err = runRoles(ctx, cmd, rest, pipeline.Roles{Board: true}, stderr)
	case "verify":
		var ok bool
		ok, err = runVerify(ctx, rest, stdout, stderr)
		if err == nil && !ok {
			return 1
		}
	case "close":
		err = runClose(ctx, rest, stdout, stderr)
	case "audit":
		var ok bool
		ok, err = runAudit(ctx, rest, stdout, stderr)
		if err == nil && !ok {
			return 1
		}
	default:
		fmt.Fprintf(stderr, "election: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// Interrupted in the middle of a step (registration, say): what is committed stays, and the same
		// command picks up from there.
		fmt.Fprintln(stderr, "election: stopped before it finished; run the same command again to go on from where it stopped")
		return 130
	}
	if err != nil {
		fmt.Fprintf(stderr, "election: %v\n", oneLine(err))
		return 1
	}
	return 0
}

// cpuProfile writes a CPU profile of the whole command to path (ELECTION_CPU_PROFILE), for `go tool
// pprof`: how the scale figures in docs/measured.md were explained. Its samples carry each stage's label
// (lifecycle.InStage), which `scripts/scale.sh` turns into µs a ballot per stage.
func cpuProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// heapProfile writes a heap profile (the objects live at the last collection, by where they were
// allocated) to path every 10 s while the command runs (ELECTION_HEAP_PROFILE): what holds the memory of
// a long run, seen while it runs rather than after its parts have stopped. Each profile replaces the last
// whole (a rename). A command that ends before the first is written gets one at its end.
func heapProfile(path string, stderr io.Writer) (stop func()) {
	write := func() {
		tmp := path + ".tmp"
		f, err := os.Create(tmp)
		if err == nil {
			err = pprof.Lookup("heap").WriteTo(f, 0)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err == nil {
			err = os.Rename(tmp, path)
		}
		if err != nil {
			fmt.Fprintf(stderr, "election: heap profile: %v\n", err)
		}
	}
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		wrote := false
		for {
			select {
			case <-tick.C:
				write()
				wrote = true
			case <-done:
				if !wrote {
					write()
				}
				return
			}
		}
	}()
	return func() { close(done); <-finished }
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }

// flags holds every flag; each command registers the ones it uses.
type flags struct {
	fs                                                       *flag.FlagSet
	preset, data, httpAddr, kafkaListen, kafka, postgres     string
	prefix, instance, logLevel, csvPath, credentials, target string
	part                                                     string
	logFormat                                                string
	candidates, postgresFile, publicURL, board, from, state  string
	kafkaSec                                                 stream.SecurityConfig
	stderr                                                   io.Writer
	given                                                    map[string]bool // flags set on the command line or by ELECTION_*
	limits                                                   web.Limits
	voters                                                   int64
	rate, turnout                                            float64
	partitions, workers                                      int
	exitWhenDone                                             bool
	wait                                                     time.Duration
}

func newFlags(cmd string, stderr io.Writer) *flags {
	f := &flags{fs: flag.NewFlagSet("election "+cmd, flag.ContinueOnError), stderr: stderr}
	// The flag package's own output (its error, then every flag) is replaced: an error is one line
	// (parseError), and -h lists the flags with their environment variables (printHelp).
	f.fs.SetOutput(io.Discard)
	f.fs.Usage = func() {}
	return f
}

func (f *flags) connection() {
	f.fs.StringVar(&f.data, "data", "data", "data directory (SQLite ledger, embedded Kafka broker)")
	f.fs.StringVar(&f.kafka, "kafka", "", "Kafka brokers, comma-separated (default: the embedded broker)")
	f.fs.StringVar(&f.kafkaListen, "kafka-listen", "127.0.0.1:9192", "address of the embedded Kafka broker")
	f.fs.StringVar(&f.postgres, "postgres", "", "PostgreSQL URL (default: SQLite in the data directory); TLS with ?sslmode=verify-full&sslrootcert=FILE")
	f.fs.StringVar(&f.postgresFile, "postgres-file", "", "a file holding the PostgreSQL URL, so its password stays off the command line")
	f.fs.BoolVar(&f.kafkaSec.TLS, "kafka-tls", false, "connect to --kafka over TLS")
	f.fs.StringVar(&f.kafkaSec.CAFile, "kafka-ca", "", "PEM certificates to verify the Kafka brokers with (default: the system's)")
	f.fs.StringVar(&f.kafkaSec.CertFile, "kafka-cert", "", "client certificate (PEM) for brokers that authenticate clients by TLS")
	f.fs.StringVar(&f.kafkaSec.KeyFile, "kafka-key", "", "the client certificate's private key (PEM)")
	f.fs.StringVar(&f.kafkaSec.SASL, "kafka-sasl", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
	f.fs.StringVar(&f.kafkaSec.User, "kafka-user", "", "SASL user name")
	f.fs.StringVar(&f.kafkaSec.PasswordFile, "kafka-password-file", "", "a file holding the SASL password")
	f.fs.StringVar(&f.prefix, "topic-prefix", "", "prefix for Kafka topics, groups and transactional ids")
	f.fs.IntVar(&f.partitions, "partitions", 6, "partitions of votes_topic (when creating it)")
	f.fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	f.fs.StringVar(&f.logFormat, "log-format", "text", "text (key=value lines) or json (one object a line)")
}

func (f *flags) election() {
	f.fs.StringVar(&f.preset, "preset", "", "election: seed, national, or an election file (default: the registered one, else seed)")
	f.fs.Int64Var(&f.voters, "voters", 0, "synthetic voters (default: 1000 for seed, 1000000 for national)")
	f.fs.StringVar(&f.candidates, "candidates", "", "a CSV of candidates to add to the --preset election's when it is first registered")
}

func (f *flags) simulation() {
	f.fs.Float64Var(&f.rate, "rate", -1, "ballots per second; 0 for as fast as possible (default: paced to last about 90 s)")
	f.fs.Float64Var(&f.turnout, "turnout", 0.7, "share of voters who vote")
	f.fs.IntVar(&f.workers, "workers", 0, "the simulator's casts in flight at once (default 4096 in process, 256 per API through --target)")
	f.fs.BoolVar(&f.exitWhenDone, "exit-when-done", false, "exit once the simulation is over and every ballot is counted")
	f.fs.StringVar(&f.part, "part", "", "K/N: cast for the K-th of N shares of the voters only, so that N simulators cast one election together (election simulate)")
	f.fs.StringVar(&f.target, "target", "", "cast through this election API (e.g. http://127.0.0.1:8080), or several in turn (comma-separated), instead of writing to the ledger directly")
}

// parse applies ELECTION_* variables, then the command line (which wins).
func (f *flags) parse(args []string) error {
	var envErr error
	f.given = map[string]bool{}
	f.fs.VisitAll(func(fl *flag.Flag) {
		name := envName(fl.Name)
		if v, ok := os.LookupEnv(name); ok && envErr == nil {
			if err := fl.Value.Set(v); err != nil {
				envErr = fmt.Errorf("environment variable %s=%q: %v", name, v, err)
			}
			f.given[fl.Name] = true
		}
	})
	if envErr != nil {
		return envErr
	}
	if err := f.fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		f.printHelp(f.stderr)
		return err
	} else if err != nil {
		return f.parseError(err)
	}
	if f.fs.NArg() > 0 {
		return f.argumentError(f.fs.Arg(0))
	}
	f.fs.Visit(func(fl *flag.Flag) { f.given[fl.Name] = true })
	return f.readSecrets()
}

func (f *flags) logger(stderr io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel)
	}
	opts := &slog.HandlerOptions{Level: lv}
	var log *slog.Logger
	switch f.logFormat {
	case "text", "":
		log = slog.New(slog.NewTextHandler(stderr, opts))
	case "json":
		log = slog.New(slog.NewJSONHandler(stderr, opts))
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", f.logFormat)
	}
	// Libraries that log through klog (tessera, for the bulletin board) log through ours, a level
	// quieter: their notes are our debug lines, their errors stay errors. klog is one per process, so only
	// a command writing to the process's own stderr takes it over: tests run many commands in one process,
	// each with its own stderr, and one command's log must not receive another's board's lines.
	if stderr == io.Writer(os.Stderr) {
		klog.SetSlogLogger(slog.New(quieter{log.Handler()}).With("component", "tessera"))
	}
	return log, nil
}

// quieter lowers every record below Error to Debug.
type quieter struct{ slog.Handler }

func (q quieter) Enabled(ctx context.Context, l slog.Level) bool {
	if l < slog.LevelError {
		l = slog.LevelDebug
	}
	return q.Handler.Enabled(ctx, l)
}

func (q quieter) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelError {
		r.Level = slog.LevelDebug
	}
	return q.Handler.Handle(ctx, r)
}

func (q quieter) WithAttrs(as []slog.Attr) slog.Handler { return quieter{q.Handler.WithAttrs(as)} }
func (q quieter) WithGroup(name string) slog.Handler    { return quieter{q.Handler.WithGroup(name)} }

// conn is the connection part of the configuration.
func (f *flags) conn() pipeline.ConnConfig {
	var brokers []string
	for _, b := range strings.Split(f.kafka, ",") {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	return pipeline.ConnConfig{DataDir: f.data, PostgresURL: f.postgres, Brokers: brokers, KafkaListen: f.kafkaListen,
		Prefix: f.prefix, Partitions: int32(f.partitions), Kafka: f.kafkaSec}
}

// readSecrets reads what the flags name files for (the PostgreSQL URL).
func (f *flags) readSecrets() error {
	if f.postgresFile == "" {
		return nil
	}
	if f.postgres != "" {
		return errors.New("--postgres and --postgres-file both given: use one")
	}
	data, err := os.ReadFile(f.postgresFile)
	if err != nil {
		return fmt.Errorf("--postgres-file: %w", err)
	}
	if f.postgres = strings.TrimSpace(string(data)); f.postgres == "" {
		return fmt.Errorf("--postgres-file %s is empty", f.postgresFile)
	}
	return nil
}

// config is the whole configuration for the roles the command runs.
func (f *flags) config(roles pipeline.Roles, log *slog.Logger) pipeline.Config {
	cfg := pipeline.Config{Roles: roles, Conn: f.conn(), Board: f.board, Election: register.Want{Preset: f.preset, Candidates: f.candidates},
		Voters: f.voters, HTTP: pipeline.HTTPConfig{Addr: f.httpAddr, Limits: f.limits}, Tally: pipeline.TallyConfig{Instance: f.instance}, Logger: log}
	// Only registration may create an election; every other command works on one that exists.
	cfg.Conn.Existing = !roles.Register
	if cfg.Conn.PublicURL = f.publicURL; cfg.Conn.PublicURL == "" && (roles.Relay || roles.Tally) {
		cfg.Conn.PublicURL = "http://127.0.0.1:8080"
		if roles.Serve {
			cfg.Conn.PublicURL = publicURLOf(f.httpAddr)
		}
	}
	if roles.Simulate {
		cfg.Sim = pipeline.SimConfig{Rate: f.rate, Paced: f.rate < 0, Turnout: f.turnout, Workers: f.workers, Target: f.target, Part: f.part,
			ExitWhenDone: f.exitWhenDone, ClosePolls: roles == pipeline.All, RateGiven: f.given["rate"], TurnoutGiven: f.given["turnout"]}
		if cfg.Sim.Paced {
			cfg.Sim.Rate = 0
		}
	}
	return cfg
}

func runRoles(ctx context.Context, cmd string, args []string, roles pipeline.Roles, stderr io.Writer) error {
	f := newFlags(cmd, stderr)
	f.connection()
	if roles.Register {
		f.election()
	}
	if roles.Simulate {
		f.simulation()
	}
	if roles.Serve {
		f.fs.StringVar(&f.httpAddr, "http", "127.0.0.1:8080", "address of the HTTP server (results API, casting, metrics)")
		f.fs.IntVar(&f.limits.MaxConns, "max-conns", 0, "open HTTP connections at most (default: 3/4 of the file limit)")
		f.fs.IntVar(&f.limits.MaxConnsPerClient, "max-conns-per-client", web.DefaultLimits.MaxConnsPerClient, "open HTTP connections from one address at most (0: no limit)")
		f.fs.IntVar(&f.limits.MaxStreams, "max-streams", 0, "open event streams at most (default: half of --max-conns)")
		f.fs.IntVar(&f.limits.MaxStreamsPerClient, "max-streams-per-client", web.DefaultLimits.MaxStreamsPerClient, "open event streams from one address at most (0: no limit)")
	}
	if roles.Tally {
		f.fs.StringVar(&f.instance, "instance", "", "this tally instance's name, stable across restarts (default: host name)")
	}
	if roles.Board || roles.Serve {
		f.fs.StringVar(&f.board, "board", "", "the bulletin board's directory (default: DATA/board with the embedded ledger; with PostgreSQL, a directory every serve reads)")
	}
	if roles.Relay || roles.Tally {
		f.fs.StringVar(&f.publicURL, "public-url", "", "where readers of the Kafka topics reach the API, for the photo links in records (default: http:// and the --http address, or http://127.0.0.1:8080)")
	}
	if err := f.parse(args); err != nil {
		return err
	}
	log, err := f.logger(stderr)
	if err != nil {
		return err
	}
	// Addresses in use are found before anything is registered or started, with the flag that moves them.
	if roles.Serve {
		if err := free(f.httpAddr, "--http"); err != nil {
			return err
		}
	}
	if f.kafka == "" {
		if err := free(f.kafkaListen, "--kafka-listen"); err != nil {
			return err
		}
	}
	return pipeline.Run(ctx, f.config(roles, log), nil)
}

// free checks that this process could listen on addr (the check and the real listen race only with
// another program starting in between, which the real listen then reports).
func free(addr, flagName string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%s %s: the address is in use (another election running?); choose another with %s", flagName, addr, flagName)
		}
		return fmt.Errorf("%s %s: %w", flagName, addr, err)
	}
	return ln.Close()
}

func runClose(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("close", stderr)
	f.connection()
	if err := f.parse(args); err != nil {
		return err
	}
	log, err := f.logger(stderr)
	if err != nil {
		return err
	}
	if err := pipeline.ClosePolls(ctx, f.conn(), log); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "polls closed: no ballot is accepted any more; the count is final once every ballot is counted")
	return nil
}

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) (bool, error) {
	f := newFlags("audit", stderr)
	f.connection()
	f.fs.DurationVar(&f.wait, "wait", 30*time.Second, "how long to wait for the pipeline to catch up before reporting differences")
	f.fs.StringVar(&f.board, "board", "", "the bulletin board's directory, reconciled too (default: DATA/board, if there is one)")
	if err := f.parse(args); err != nil {
		return false, err
	}
	log, err := f.logger(stderr)
	if err != nil {
		return false, err
	}
	rep, err := pipeline.Audit(ctx, f.conn(), f.board, log, f.wait, stdout)
	if err != nil {
		return false, err
	}
	return rep.OK(), nil
}

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) (bool, error) {
	f := newFlags("verify", stderr)
	f.fs.StringVar(&f.from, "from", "", "the election API's base URL, e.g. http://127.0.0.1:8080 (required)")
	f.fs.StringVar(&f.state, "state", "", "a file keeping the last checkpoint verified: the board must only have grown since")
	f.fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	f.fs.StringVar(&f.logFormat, "log-format", "text", "text (key=value lines) or json (one object a line)")
	if err := f.parse(args); err != nil {
		return false, err
	}
	if f.from == "" {
		return false, errors.New("verify: --from is required: the election API's base URL, e.g. --from http://127.0.0.1:8080")
	}
	log, err := f.logger(stderr)
	if err != nil {
		return false, err
	}
	rep, err := board.Verify(ctx, board.VerifyConfig{From: f.from, State: f.state, Out: stdout, Logger: log})
	if err != nil {
		return false, fmt.Errorf("verify: %w", err)
	}
	return len(rep.Problems) == 0, nil
}

func runRegister(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f := newFlags("register", stderr)
	f.connection()
	f.election()
	f.fs.StringVar(&f.csvPath, "csv", "", "import voters from this CSV file instead of generating them")
	f.fs.StringVar(&f.credentials, "credentials", "", "where --csv writes each voter's credential (default: the CSV's name + .credentials.csv)")
	if err := f.parse(args); err != nil {
		return err
	}
	log, err := f.logger(stderr)
	if err != nil {
		return err
	}
	cfg := f.config(pipeline.Roles{Register: true}, log)
	next := "next: election up --data " + f.data + " runs the election (or run its roles one by one: README, \"At scale\")"
	if f.postgres != "" || f.postgresFile != "" || f.kafka != "" {
		next = "next: election up, or its roles one by one, with the same --postgres and --kafka flags"
	}
	if f.csvPath == "" {
		if err := pipeline.Register(ctx, cfg); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "registered; "+next)
		return nil
	}
	creds := f.credentials
	if creds == "" {
		creds = f.csvPath + ".credentials.csv"
	}
	n, err := pipeline.ImportVoters(ctx, cfg, f.csvPath, creds)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d voters from %s; their credentials are in %s (keep it secret)\n%s\n", n, f.csvPath, creds, next)
	return nil
}

// publicURLOf is the URL of a server listening on addr, as seen from this machine.
func publicURLOf(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}
