// Package ledger is the system of record: the election's definition, the registered voters, who has voted,
// and the ballots. It runs on SQLite (embedded, the default) and PostgreSQL (at scale) with the same
// queries where the dialects agree.
//
// Secret ballot. A ballot row holds a random ballot id, the candidate, the constituency, the voter's state
// and the minute it was cast; nothing that names the voter. Casting writes the ballot in the same
// transaction that records the voter in the voted set (no time; see voted.go: on SQLite a bitmap indexed
// by the number each voter got at registration, the recent marks not folded into it yet, and turnout
// counters per state; on PostgreSQL the table voted, voter id and state), and ballots of one commit batch
// are inserted in a shuffled order, so the order of ballot rows does not mirror the order of voters
// within a batch. Neither layout is stored in the order of voting: the bitmap holds bits, the recent
// marks are kept in number order, and on SQLite nothing is kept by insertion order.
//
// What an insider can still infer, precisely. (1) Order. Ballots get increasing sequence numbers as they
// are committed, and only within one commit batch is their order shuffled; votes_topic carries them in the
// same order (its offsets and ledger-position headers follow it). When voters cast one at a time (low
// traffic: a batch of one), the order of ballots is the order of voting, 30 out of 30 in the outside
// audit. Whoever also knows the order in which voters voted (someone watching the database live, reading
// its write-ahead log, or, on PostgreSQL until vacuum freezes the rows, the xmin of the voted rows, which
// names the same transaction as the ballots' txid; or anyone who stood in the queue) can then pair them.
// The voted set itself keeps no time. (2) Time and place.
// Ballots are dated to the minute and carry the voter's state and constituency; in a small constituency
// with few voters in a minute, that narrows who cast a ballot. (3) Unanimity: a constituency where every
// voter chose the same candidate reveals every vote, as in any election.
//
// What is mitigated, and why not more. The public sees none of this order for an embargoed election (the
// results package shows turnout only until the polls close), and live results are published on a clock,
// coalesced. Kafka's order cannot simply be shuffled by the relay: counting each ballot exactly once
// relies on positions increasing within a partition (see the relay and tally packages). Operators who need
// more against insiders should cast through a mixing delay (batches of many voters), keep database and
// Kafka access to the few roles that need it (README, "Securing Kafka"), and vacuum-freeze PostgreSQL.
//
// One ballot per voter, and it is that voter's own. A ballot is written only in the transaction that
// adds its voter to the voted set, and a voter is added once, across concurrent batches and processes: on
// SQLite every write transaction holds the whole database (one writer, BEGIN IMMEDIATE), so no batch marks
// a voter between another's read of the voted set and its commit, and voter numbers are unique (a counter
// in meta gives them out in the registering transaction); on PostgreSQL the voted table's primary key admits each voter
// once. Within a batch, the lookup sees each voter at most once (CastBatch settles the other requests naming
// that voter first, in batch order), and it matches the voter's row on that request's own credential
// hash and constituency; so the voter it returns, and the ballot written for it, belong to the request
// that proved the voter's credential, with that request's candidate. A request with a wrong credential
// can never be credited with another request's match. On SQLite the register is keyed by voter number,
// and a voter id names at most one row all the same (migrations/sqlite/008_register_by_number.sql
// argues it; registration refuses the one case the keys do not). SQLite's writer reads most voters from
// its copy of the register rather than the register itself; registercopy.go argues that the copy
// answers for a voter exactly as the register's row does, or not at all.
//
// What it must never do: store anything on a ballot that identifies a voter, count a voter twice, or write
// a ballot for any request but the one whose credential matched.
package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver
)

// Config says which database to open: Postgres when PostgresURL is set, otherwise SQLite at SQLitePath.
type Config struct {
	PostgresURL string
	SQLitePath  string
	// Existing opens only a ledger that exists already: nothing is created (no file, directory or
	// table), and a missing ledger is ErrNoLedger. Every command but registration sets it.
	Existing bool
	Logger   *slog.Logger
}

// ErrNoLedger: Config.Existing was set and there is no ledger there.
var ErrNoLedger = errors.New("no election is registered there")

func (c Config) validate() error {
	if c.PostgresURL == "" && c.SQLitePath == "" {
		return errors.New("ledger: neither a PostgreSQL URL nor an SQLite path was given")
	}
	if c.Logger == nil {
		return errors.New("ledger: no logger")
	}
	return nil
}

// Store is an open ledger.
type Store struct {
	d dialect
	// w is the pool writes go through; for SQLite it holds one connection, since SQLite has one writer
	// at a time and a second writer would only wait on the file lock.
	w *sql.DB
	// r serves reads; it may be the same pool as w.
	r   *sql.DB
	q   *queries
	log *slog.Logger
	cfg Config
	// stmts holds the write path's prepared statements (stmts.go); nil on PostgreSQL, whose driver
	// caches them itself.
	stmts *stmtCache
	// foldAt is how many recent marks of who has voted a cast batch leaves before it folds them into
	// the bitmap (SQLite; see voted.go).
	foldAt int64
	// voted is the SQLite writer's copy of who has voted (votedcopy.go); nil on PostgreSQL.
	voted *votedCopy
	// register is the SQLite writer's copy of the register for its lookups, from the first cast batch on
	// (registercopy.go); nil on PostgreSQL.
	register *registerCopy
	// awaitRegisterCopy makes every cast batch wait until the copy covers every voter (tests only:
	// AwaitRegisterCopyForTest), so that the copy answers for all of them.
	awaitRegisterCopy bool
	// ckpt copies SQLite's write-ahead log back into the database beside the writer, from the first
	// write transaction on (checkpoint.go); nil on PostgreSQL.
	ckpt *checkpointer
	// ballotCount is the ballots whose count is settled and the position the next count starts from
	// (BallotCount).
	ballotCount struct {
		mu     sync.Mutex
		n, pos int64
	}
}

// Open connects, applies migrations, and returns the store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	return open(ctx, cfg, 0)
}

func open(ctx context.Context, cfg Config, schema int) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Store{log: cfg.Logger, cfg: cfg, d: dialectFor(cfg), foldAt: foldRecentAt}
	var err error
	if s.q, err = loadQueries(s.d); err != nil {
		return nil, err
	}
	if s.w, s.r, err = s.d.open(ctx, cfg); err != nil {
		return nil, err
	}
	if s.d.name() == "sqlite" {
		s.stmts = newStmtCache(s.w)
		s.voted = &votedCopy{}
		s.ckpt = &checkpointer{dsn: checkpointDSN(cfg.SQLitePath), log: cfg.Logger}
		s.register = &registerCopy{path: cfg.SQLitePath, db: s.r, scan: s.q.ScanVoters, log: cfg.Logger}
	}
	if cfg.Existing {
		ok, err := s.d.hasLedger(ctx, s.r)
		if err == nil && !ok {
			err = fmt.Errorf("%w (`election up` or `election register` creates it)", ErrNoLedger)
		}
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("ledger: %s: %w", s.d.where(cfg), err)
		}
	}
	if err := s.migrate(ctx, schema); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the connections.
func (s *Store) Close() {
	if s.register != nil {
		s.register.close()
	}
	if s.ckpt != nil {
		s.ckpt.close()
	}
	if s.stmts != nil {
		s.stmts.close()
	}
	if s.r != nil && s.r != s.w {
		s.r.Close()
	}
	if s.w != nil {
		s.w.Close()
	}
}

// redact hides a password in a connection URL for error messages.
func redact(url string) string {
	at := strings.LastIndex(url, "@")
	scheme := strings.Index(url, "://")
	if at < 0 || scheme < 0 {
		return url
	}
	userinfo := url[scheme+3 : at]
	if i := strings.Index(userinfo, ":"); i >= 0 {
		return url[:scheme+3] + userinfo[:i] + ":***" + url[at:]
	}
	return url
}

// inTx runs fn in a write transaction, committing if it returns nil. Texts the transaction ran for the
// first time are prepared once it has ended (stmts.go).
func (s *Store) inTx(ctx context.Context, fn func(*wtx) error) error {
	if s.ckpt != nil {
		s.ckpt.start()
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if s.stmts != nil {
		defer s.stmts.prepare(context.WithoutCancel(ctx))
	}
	if err := fn(&wtx{Tx: tx, stmts: s.stmts}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
