package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/pipeline"
	"github.com/election/election/internal/register"
)

// importCSV registers the election (if needed) and imports the voters in f.csvPath.
func importCSV(ctx context.Context, f *flags, log *slog.Logger, stdout io.Writer) error {
	cfg := f.config(pipeline.Roles{Register: true}, log)
	cfg.Turnout = 1
	if err := pipeline.CheckElection(&cfg); err != nil {
		return err
	}
	store, _, done, err := pipeline.Connect(ctx, &cfg)
	if err != nil {
		return err
	}
	defer done()
	e, err := pipeline.Election(ctx, &cfg, store)
	if err != nil {
		return err
	}
	creds := f.credentials
	if creds == "" {
		creds = f.csvPath + ".credentials.csv"
	}
	n, err := register.ImportCSV(ctx, store, election.NewIndex(e), f.csvPath, creds)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d voters from %s; their credentials are in %s (keep it secret)\n", n, f.csvPath, creds)
	return nil
}
