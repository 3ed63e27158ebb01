package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
)

func importCSV(ctx context.Context, f *flags, log *slog.Logger, stdout io.Writer) error {
	return errors.New("--csv: not implemented yet")
}
