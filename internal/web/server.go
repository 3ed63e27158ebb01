// Package web serves the results API, the event stream, the ballot-casting endpoint, health and metrics
// over HTTP. Every instance serves the global results (from its own results.View).
package web

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/lifecycle"
	"github.com/election/election/internal/metrics"
	"github.com/election/election/internal/results"
)

// Results is where the server gets the results it serves: the current ones, and a signal when they
// change (results.View).
type Results interface {
	// Current returns the latest results; the value is never modified.
	Current() *results.Results
	// Subscribe returns a channel signalled (coalesced) when the results change, and how to unsubscribe.
	Subscribe() (<-chan struct{}, func())
}

// Caster casts one ballot and answers only once it is durable, or refused (ledger.Caster).
type Caster interface {
	Cast(ctx context.Context, req ledger.CastRequest) (ledger.Receipt, error)
}

// Config wires a server.
type Config struct {
	Addr    string
	Index   *election.Index
	View    Results
	Caster  Caster // nil: this instance does not accept ballots
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Heartbeat is how often an idle event stream gets a comment line, so proxies keep it open.
	Heartbeat time.Duration
	// EventInterval is the least time between two publications to the event streams; changes in between are
	// coalesced into the next event. Retry is how soon a disconnected browser should reconnect.
	EventInterval time.Duration
	Retry         time.Duration
	// Limits bound connections and event streams, in total and per client (see Limits); what is unset is
	// sized from the process's file limit.
	Limits Limits
	// Timeouts of every connection; unset ones take DefaultTimeouts'.
	Timeouts Timeouts
	// Board, if set, is the bulletin board this instance publishes.
	Board *Board
	// ReceiptLookups is how many receipts may be looked up at once (half the CPUs, at least 1, if 0):
	// a lookup reads a whole file of the board's code index (about 3.6 MB at 70 million entries), so
	// requests for made-up codes must not be able to take every core from casting.
	ReceiptLookups int
	// LotCommitment is the commitment to the seed that draws lots between level candidates (lots package),
	// published in /api/v1/election.
	LotCommitment string
	// Health, if set, is what /healthz and /readyz check beyond the server answering; its answer is kept
	// for HealthEvery (2 s if 0).
	Health      HealthFunc
	HealthEvery time.Duration
}

// Timeouts free what slow and silent clients hold. A client must send its request's header within
// ReadHeader and its whole request within Read, gets Write to take an answer, and a kept-alive connection
// with nothing to do is closed after Idle. Event streams lift the read and write ones and give each write
// StreamWrite instead, so a client that stops reading is dropped.
type Timeouts struct {
	ReadHeader, Read, Write, Idle, StreamWrite time.Duration
}

// DefaultTimeouts are the timeouts of a server that is not told otherwise.
var DefaultTimeouts = Timeouts{ReadHeader: 5 * time.Second, Read: 15 * time.Second, Write: 30 * time.Second,
	Idle: 60 * time.Second, StreamWrite: 30 * time.Second}

func (c *Config) validate() error {
	switch {
	case c.Index == nil:
		return errors.New("web: no election")
	case c.View == nil:
		return errors.New("web: no results view")
	case c.Metrics == nil:
		return errors.New("web: no metrics")
	case c.Logger == nil:
		return errors.New("web: no logger")
	}
	if c.ReceiptLookups <= 0 {
		c.ReceiptLookups = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.EventInterval <= 0 {
		c.EventInterval = 250 * time.Millisecond
	}
	if c.Retry <= 0 {
		c.Retry = time.Second
	}
	if c.HealthEvery <= 0 {
		c.HealthEvery = 2 * time.Second
	}
	for _, d := range []struct {
		set *time.Duration
		def time.Duration
	}{
		{&c.Timeouts.ReadHeader, DefaultTimeouts.ReadHeader}, {&c.Timeouts.Read, DefaultTimeouts.Read},
		{&c.Timeouts.Write, DefaultTimeouts.Write}, {&c.Timeouts.Idle, DefaultTimeouts.Idle},
		{&c.Timeouts.StreamWrite, DefaultTimeouts.StreamWrite},
	} {
		if *d.set <= 0 {
			*d.set = d.def
		}
	}
	return c.Limits.defaults(fileLimit())
}

// Server is the HTTP server, a lifecycle.Service.
type Server struct {
	lifecycle.Base
	cfg    Config
	srv    *http.Server
	ln     net.Listener
	cache  eventCache
	assets *assets
	retry  *frame // the event stream's first line: how soon to reconnect
	clock  clock
	// conns and streams count open connections and event streams, in total and per client.
	conns, streams *counter
	// lookups holds a place for each receipt being looked up (Config.ReceiptLookups).
	lookups chan struct{}
	photos  portraits
	board   boardInfo
	results resultsBody
	health  health
	routes  []string // "METHOD /path" of every API route, for the OpenAPI document's test
}

// openAPI describes the HTTP API (OpenAPI 3.1). A test checks it against the routes and against the
// handlers' answers, so it cannot drift from them unnoticed.
//
//go:embed openapi.json
var openAPI []byte

// New checks the config and builds the routes.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	a, err := loadAssets()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, assets: a, retry: newFrame(fmt.Appendf(nil, "retry: %d\n\n", cfg.Retry.Milliseconds())),
		clock: clock{cur: cfg.View.Current(), subs: map[chan struct{}]struct{}{}},
		conns: newCounter(cfg.Limits.MaxConns, cfg.Limits.MaxConnsPerClient), streams: newCounter(cfg.Limits.MaxStreams, cfg.Limits.MaxStreamsPerClient),
		health: health{run: cfg.Health, every: cfg.HealthEvery}, lookups: make(chan struct{}, cfg.ReceiptLookups)}
	mux := http.NewServeMux()
	api := func(method, path string, h http.HandlerFunc) {
		s.routes = append(s.routes, method+" "+path)
		mux.HandleFunc(method+" "+path, h)
		// The same path with another method: a JSON error naming the one allowed (the mux's own answer
		// is plain text).
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			allow := method
			if method == http.MethodGet {
				allow = "GET, HEAD"
			}
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "", fmt.Sprintf("%s %s is not allowed; use %s", r.Method, path, allow))
		})
	}
	api("GET", "/api/v1/results", s.getResults)
	api("GET", "/api/v1/election", s.getElection)
	api("GET", "/api/v1/constituencies/{id}", s.getConstituency)
	api("GET", "/api/v1/timeline", s.getTimeline)
	api("GET", "/api/v1/events", s.events)
	api("POST", "/api/v1/ballots", s.castBallot)
	api("GET", "/api/v1/board", s.getBoard)
	api("GET", "/api/v1/receipts/{code}", s.getReceipt)
	api("GET", "/api/v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	mux.HandleFunc("GET /board/{path...}", s.boardFile)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "", fmt.Sprintf("no API at %s", r.URL.Path))
	})
	mux.HandleFunc("GET /healthz", s.getHealth)
	mux.HandleFunc("GET /readyz", s.getReady)
	mux.Handle("GET /metrics", cfg.Metrics.Handler())
	// The results page: one document for every view, so each view has its own URL and deep links work.
	for _, view := range []string{"/{$}", "/parties", "/map", "/constituencies", "/constituencies/{id}", "/turnout", "/timeline", "/check"} {
		mux.HandleFunc("GET "+view, s.page)
	}
	mux.HandleFunc("GET /static/{path...}", s.asset)
	mux.HandleFunc("GET /photos/{file}", s.photo)
	mux.HandleFunc("GET /favicon.ico", s.favicon)
	t := cfg.Timeouts
	s.srv = &http.Server{Handler: s.counted(mux), ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read, WriteTimeout: t.Write,
		IdleTimeout: t.Idle, ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)}
	return s, nil
}

// Name is the service's name.
func (s *Server) Name() string { return "web server" }

// Start listens (an address in use fails here), then serves in the background until Stop.
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("web: cannot listen on %s: %w", s.cfg.Addr, err)
	}
	s.ln = &limitListener{Listener: ln, conns: s.conns, open: s.cfg.Metrics.HTTPConns,
		refused: s.cfg.Metrics.Refused.MustCurryWith(prometheus.Labels{"what": "connection"})}
	s.cfg.Logger.Debug("limits", "max_conns", s.cfg.Limits.MaxConns, "max_conns_per_client", s.cfg.Limits.MaxConnsPerClient,
		"max_streams", s.cfg.Limits.MaxStreams, "max_streams_per_client", s.cfg.Limits.MaxStreamsPerClient)
	s.Base.Run(ctx, "web server", s.serve, s.runClock)
	return nil
}

// serve serves until ctx ends, then closes the listener and every connection: it waits up to two
// seconds for requests in flight (a cast waits for its commit), and event streams, which never end by
// themselves, end with ctx.
func (s *Server) serve(ctx context.Context) error {
	s.srv.BaseContext = func(net.Listener) context.Context { return ctx }
	failed := make(chan error, 1)
	go func() { failed <- s.srv.Serve(s.ln) }()
	select {
	case err := <-failed:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(shutdown); err != nil {
		s.srv.Close()
	}
	<-failed // http.ErrServerClosed
	return nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// apiError is every error response's body.
type apiError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, status int, field, msg string) {
	writeJSON(w, status, apiError{Error: msg, Field: field})
}

func (s *Server) getResults(w http.ResponseWriter, r *http.Request) {
	s.results.serve(w, r, s.cfg.View.Current())
}

func (s *Server) getTimeline(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"timeline": s.cfg.View.Current().Timeline})
}

// ConstituencyDetail is one race with every candidate on its ballot.
type ConstituencyDetail struct {
	results.RaceRow
	Candidates []results.CandidateRow `json:"candidates"`
}

func (s *Server) getConstituency(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	res := s.cfg.View.Current()
	for _, race := range res.Constituencies {
		if race.Constituency != id {
			continue
		}
		d := ConstituencyDetail{RaceRow: race}
		for _, c := range res.Candidates {
			if c.Constituency == id {
				d.Candidates = append(d.Candidates, c)
			}
		}
		writeJSON(w, http.StatusOK, d)
		return
	}
	writeError(w, http.StatusNotFound, "id", fmt.Sprintf("no constituency %q", id))
}

// castFields are the keys of POST /api/v1/ballots's body, exactly.
var castFields = []string{"voter_id", "credential", "candidate_id"}

// errTooLong: a cast's body is longer than the server reads (http.MaxBytesReader in castBallot).
var errTooLong = errors.New("the body is longer than 4,096 bytes")

func tooLong(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}

// parseCast reads a cast's body strictly: exactly one JSON object with exactly the keys of castFields,
// spelt exactly (encoding/json would take "VOTER_ID" for voter_id), each once (it would keep the last of
// two), each a non-empty string, and nothing after the object. It returns the field to blame with the
// error, when there is one.
func parseCast(body io.Reader) (req ledger.CastRequest, field string, err error) {
	const shape = `the body must be one JSON object {"voter_id": "...", "credential": "...", "candidate_id": "..."}`
	dec := json.NewDecoder(body)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return req, "", errors.New(shape)
	}
	got := map[string]string{}
	for dec.More() {
		t, err := dec.Token()
		if tooLong(err) {
			return req, "", errTooLong
		}
		if err != nil {
			return req, "", fmt.Errorf("%s: %v", shape, err)
		}
		key, _ := t.(string)
		switch {
		case !slices.Contains(castFields, key):
			return req, key, fmt.Errorf("unknown field %q (the fields are %s, in lower case)", key, strings.Join(castFields, ", "))
		case got[key] != "":
			return req, key, fmt.Errorf("field %q appears twice", key)
		}
		t, err = dec.Token()
		if tooLong(err) {
			return req, "", errTooLong
		}
		v, ok := t.(string)
		if err != nil || !ok || v == "" {
			return req, key, fmt.Errorf("field %q must be a non-empty string", key)
		}
		got[key] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return req, "", fmt.Errorf("%s: %v", shape, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, "", errors.New(shape + ", and nothing after it")
	}
	for _, f := range castFields {
		if got[f] == "" {
			return req, f, fmt.Errorf("%s is required", f)
		}
	}
	return ledger.CastRequest{VoterID: got["voter_id"], Credential: got["credential"], CandidateID: got["candidate_id"]}, "", nil
}

func (s *Server) castBallot(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Caster == nil {
		writeError(w, http.StatusServiceUnavailable, "", "this instance does not accept ballots")
		return
	}
	// Only application/json: a browser sends text/plain (and a form's types) cross-site without asking
	// first, application/json only after a preflight this server never grants.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "", "the request body must be sent as Content-Type: application/json")
		return
	}
	req, field, err := parseCast(http.MaxBytesReader(w, r.Body, 4096))
	if err != nil {
		writeError(w, http.StatusBadRequest, field, err.Error())
		return
	}
	rec, err := s.cfg.Caster.Cast(r.Context(), ledger.CastRequest{VoterID: req.VoterID, Credential: req.Credential, CandidateID: req.CandidateID})
	switch {
	case err == nil:
		writeJSON(w, http.StatusCreated, rec)
	case errors.Is(err, ledger.ErrInvalidCredential):
		s.cfg.Metrics.CastsRefused.WithLabelValues("credential").Inc()
		writeError(w, http.StatusUnauthorized, "credential", err.Error())
	case errors.Is(err, ledger.ErrAlreadyVoted):
		s.cfg.Metrics.CastsRefused.WithLabelValues("already_voted").Inc()
		writeError(w, http.StatusConflict, "voter_id", err.Error())
	case errors.Is(err, ledger.ErrPollsClosed), errors.Is(err, ledger.ErrPollsNotOpen):
		s.cfg.Metrics.CastsRefused.WithLabelValues("polls").Inc()
		writeError(w, http.StatusForbidden, "", err.Error())
	case errors.Is(err, ledger.ErrNotOnBallot), errors.Is(err, ledger.ErrUnknownCandidate):
		s.cfg.Metrics.CastsRefused.WithLabelValues("candidate").Inc()
		writeError(w, http.StatusUnprocessableEntity, "candidate_id", err.Error())
	default:
		s.cfg.Logger.Error("cast failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "", "the ballot could not be recorded; it was not counted, try again")
	}
}
