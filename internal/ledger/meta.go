package ledger

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Meta keys: the election's definition and secrets, and progress markers.
const (
	metaElection    = "election"
	metaSimSecret   = "simulation_secret"
	metaRecordKey   = "record_key"        // authenticates vote records (RecordKey)
	metaVoters      = "voters_registered" // synthetic voters registered so far (resumable registration)
	metaPollsClosed = "polls_closed"
	metaLotSeed     = "lot_seed" // decides ties by lot (LotSeed)
	metaSimPosition = "simulation_position"
	metaVoterSource = "voter_source" // VotersSynthetic or VotersImported, from the first voters registered
	metaSimSettings = "simulation_settings"
	// metaVotersNumbered counts voter numbers given out: each voter's bit in the voted set (numberVoters).
	metaVotersNumbered = "voters_numbered"
)

// SimSettings are how a simulation was last started: a restart goes on at the same pace and with the same
// turnout (which voters vote depends on it) unless told otherwise.
type SimSettings struct {
	Rate    float64 `json:"rate"`
	Paced   bool    `json:"paced"`
	Turnout float64 `json:"turnout"`
}

// SimSettings returns the settings the simulation was last started with; ok is false before the first.
func (s *Store) SimSettings(ctx context.Context) (SimSettings, bool, error) {
	v, ok, err := s.getMeta(ctx, s.r, metaSimSettings)
	if err != nil || !ok {
		return SimSettings{}, false, err
	}
	var st SimSettings
	if err := json.Unmarshal([]byte(v), &st); err != nil {
		return SimSettings{}, false, fmt.Errorf("ledger: %s: %w", metaSimSettings, err)
	}
	return st, true, nil
}

// SetSimSettings records the settings a simulation starts with.
func (s *Store) SetSimSettings(ctx context.Context, st SimSettings) error {
	b, _ := json.Marshal(st) // numbers and a bool: cannot fail
	return s.putMeta(ctx, s.w, metaSimSettings, string(b))
}

// Where an election's voters came from (Store.VoterSource). An election is a simulation exactly when its
// voters are synthetic: the simulator may cast for them (it can derive their credentials); it never runs on
// an election whose roll was imported.
const (
	VotersSynthetic = "synthetic"
	VotersImported  = "imported"
)

// querier is a pool or a transaction.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// getMeta reads a meta key from db (a pool or a transaction); ok is false when the key is not set.
func (s *Store) getMeta(ctx context.Context, db querier, key string) (value string, ok bool, err error) {
	switch err := db.QueryRowContext(ctx, s.q.GetMeta, key).Scan(&value); err {
	case nil:
		return value, true, nil
	case sql.ErrNoRows:
		return "", false, nil
	default:
		return "", false, fmt.Errorf("ledger: read %s: %w", key, err)
	}
}

// putMeta sets a meta key.
func (s *Store) putMeta(ctx context.Context, db querier, key, value string) error {
	if _, err := db.ExecContext(ctx, s.q.PutMeta, key, value); err != nil {
		return fmt.Errorf("ledger: write %s: %w", key, err)
	}
	return nil
}

// metaInt reads a counter kept in meta; an unset one is 0.
func (s *Store) metaInt(ctx context.Context, key string) (int64, error) {
	v, ok, err := s.getMeta(ctx, s.r, key)
	if err != nil || !ok {
		return 0, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("ledger: %s: %w", key, err)
	}
	return n, nil
}

// VoterSource says where the election's voters came from: VotersSynthetic, VotersImported, or "" while none
// is registered.
func (s *Store) VoterSource(ctx context.Context) (string, error) {
	v, _, err := s.getMeta(ctx, s.r, metaVoterSource)
	return v, err
}

// claimVoterSource records, in tx, that voters come from source; an election's voters all come from one
// source, so registering synthetic voters into an imported roll, or importing a roll into a simulation, is
// refused.
func (s *Store) claimVoterSource(ctx context.Context, tx querier, source string) error {
	have, ok, err := s.getMeta(ctx, tx, metaVoterSource)
	switch {
	case err != nil:
		return err
	case ok && have == source:
		return nil
	case ok && have == VotersImported:
		return errors.New("ledger: this election's voters were imported from a roll; synthetic voters cannot be added to it")
	case ok:
		return errors.New("ledger: this election is a simulation with synthetic voters; a roll cannot be imported into it (use a new data directory or database)")
	}
	return s.putMeta(ctx, tx, metaVoterSource, source)
}
