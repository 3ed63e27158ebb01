package ledger

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// migrate applies the dialect's numbered migrations in order, each in its own transaction, recording the
// version reached. A database from a newer binary (a version we do not know) is refused untouched. upTo
// stops at that version (tests of an upgrade start from an older schema); 0 means the latest.
func (s *Store) migrate(ctx context.Context, upTo int) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("ledger: migrate: %w", err)
	}
	defer conn.Close()
	unlock, err := s.d.lockMigrations(ctx, conn)
	if err != nil {
		return fmt.Errorf("ledger: migrate: lock: %w", err)
	}
	defer unlock()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("ledger: migrate: %w", err)
	}
	var current int
	err = conn.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&current)
	switch {
	case err == sql.ErrNoRows:
		if _, err := conn.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return fmt.Errorf("ledger: migrate: %w", err)
		}
	case err != nil:
		return fmt.Errorf("ledger: migrate: read schema version: %w", err)
	}
	files, err := fs.Glob(sqlFiles, "migrations/"+s.d.name()+"/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	latest := 0
	for _, f := range files {
		v := version(f)
		latest = max(latest, v)
	}
	if current > latest {
		return fmt.Errorf("ledger: the database has schema version %d, newer than this binary knows (%d): use a newer election binary", current, latest)
	}
	for _, f := range files {
		v := version(f)
		if v <= current || upTo > 0 && v > upTo {
			continue
		}
		body, err := sqlFiles.ReadFile(f)
		if err != nil {
			return err
		}
		err = applyMigration(ctx, conn, string(body), v)
		if err != nil {
			return fmt.Errorf("ledger: migration %s: %w", f, err)
		}
		s.log.Debug("ledger migrated", "version", v)
	}
	return nil
}

func version(file string) int {
	base := file[strings.LastIndex(file, "/")+1:]
	n, _ := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
	return n
}

// stripComments drops whole-line "--" comments.
func stripComments(sql string) string {
	var b strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func applyMigration(ctx context.Context, conn *sql.Conn, body string, v int) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Comment lines go first, so a ';' inside a comment does not split a statement.
	for _, stmt := range strings.Split(stripComments(body), ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = `+strconv.Itoa(v)); err != nil {
		return err
	}
	return tx.Commit()
}
