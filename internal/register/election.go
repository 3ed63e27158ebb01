package register

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
)

// Want is the election a command asks for: a preset name or an election file, and optionally a CSV of
// candidates added to it. The zero Want asks for whatever election the ledger holds.
type Want struct {
	Preset     string // "seed", "national", or a path to an election file; "" for the registered one
	Candidates string // a candidates CSV added to Preset's candidates
}

// Check loads the election w names without connecting anywhere, so a bad preset name, election file or
// candidates CSV is reported before anything is created.
func (w Want) Check() error {
	if w.Candidates != "" && w.Preset == "" {
		return errors.New("--candidates needs --preset: the election (file) whose parties and constituencies the candidates stand for")
	}
	if w.Preset == "" {
		return nil
	}
	_, err := w.load()
	return err
}

// load resolves Preset (a built-in name or a file path) and adds the candidates of Candidates.
func (w Want) load() (*election.Election, error) {
	name := w.Preset
	if name == "" {
		name = "seed"
	}
	var e *election.Election
	var err error
	switch {
	case slices.Contains(election.Presets, name):
		e, err = election.Preset(name)
	case strings.ContainsAny(name, "/.") && w.Candidates == "":
		e, err = election.Load(name)
	case strings.ContainsAny(name, "/."):
		// Not validated yet: the file may list no candidates, as they come from the CSV.
		e, err = election.LoadDraft(name)
	default:
		e, err = election.Preset(name) // unknown name: Preset's error lists the presets
	}
	if err != nil || w.Candidates == "" {
		return e, err
	}
	cands, err := ReadCandidatesCSV(w.Candidates, e)
	if err != nil {
		return nil, err
	}
	e.Candidates = append(e.Candidates, cands...)
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("election %s with the candidates of %s: %w", name, w.Candidates, err)
	}
	return e, nil
}

// Election returns the election the ledger holds. When it holds none yet, or when w names one, w's
// election is registered first (the seed preset if w is zero); registering the same definition again
// changes nothing and a different one is refused.
func Election(ctx context.Context, store *ledger.Store, w Want) (*election.Election, error) {
	e, err := store.Election(ctx)
	switch {
	case err == nil && w.Preset == "":
		return e, nil
	case err != nil && !errors.Is(err, ledger.ErrNoElection):
		return nil, err
	}
	want, err := w.load()
	if err != nil {
		return nil, err
	}
	if err := store.RegisterElection(ctx, want); err != nil {
		return nil, err
	}
	return store.Election(ctx)
}

// DefaultVoters is how many synthetic voters an election gets when the command does not say: a million
// for a national election (more than 100 constituencies), a thousand otherwise.
func DefaultVoters(e *election.Election) int64 {
	if len(e.Constituencies) > 100 {
		return 1_000_000
	}
	return 1000
}
