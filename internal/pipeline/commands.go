package pipeline

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/election/election/internal/audit"
	"github.com/election/election/internal/board"
	"github.com/election/election/internal/election"
	"github.com/election/election/internal/register"
)

// Register registers the election and its synthetic voters (cfg.Roles is ignored), then returns.
func Register(ctx context.Context, cfg Config) error {
	cfg.Roles = Roles{Register: true}
	if err := cfg.validate(); err != nil {
		return err
	}
	conn, err := ConnectLedger(ctx, cfg.Conn, cfg.Logger)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = prepare(ctx, cfg, conn)
	return err
}

// ImportVoters registers the election cfg.Election names (if the ledger holds none yet) and imports the
// voters of the CSV file at path, writing their credentials to credentials. It returns how many voters
// were imported.
func ImportVoters(ctx context.Context, cfg Config, path, credentials string) (int64, error) {
	cfg.Roles = Roles{}
	if err := cfg.validate(); err != nil {
		return 0, err
	}
	if err := cfg.Election.Check(); err != nil {
		return 0, err
	}
	conn, err := Connect(ctx, cfg.Conn, cfg.Logger)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	e, err := register.Election(ctx, conn.Store, cfg.Election)
	if err != nil {
		return 0, err
	}
	return register.ImportCSV(ctx, conn.Store, election.NewIndex(e), path, credentials)
}

// ClosePolls closes the polls of an existing election.
func ClosePolls(ctx context.Context, cfg ConnConfig, log *slog.Logger) error {
	cfg.Existing = true
	conn, err := Connect(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Store.ClosePolls(ctx, time.Now())
}

// Audit reconciles an existing election's ledger with Kafka and, when boardDir holds one, with the
// bulletin board, printing the report to out.
func Audit(ctx context.Context, cfg ConnConfig, boardDir string, log *slog.Logger, wait time.Duration, out io.Writer) (audit.Report, error) {
	cfg.Existing = true
	conn, err := Connect(ctx, cfg, log)
	if err != nil {
		return audit.Report{}, err
	}
	defer conn.Close()
	e, err := conn.Store.Election(ctx)
	if err != nil {
		return audit.Report{}, err
	}
	if boardDir == "" && cfg.DataDir != "" {
		boardDir = filepath.Join(cfg.DataDir, "board")
	}
	if _, err := os.Stat(filepath.Join(boardDir, board.CheckpointPath)); err != nil {
		boardDir = "" // no board here to audit
	}
	return audit.Run(ctx, audit.Config{Store: conn.Store, Index: election.NewIndex(e), Stream: conn.Stream, Wait: wait, Out: out, Board: boardDir})
}
