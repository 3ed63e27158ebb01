package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// dialect is everything that differs between SQLite and PostgreSQL, in one place; the rest of the package
// speaks to the database only through it and through the queries (see queries.go). Each method says why
// the two differ.
type dialect interface {
	// name is "sqlite" or "postgres": the folder of its migrations and the file of its own queries.
	name() string
	// open returns the pool writes go through and the pool reads go through (the same on PostgreSQL).
	open(ctx context.Context, cfg Config) (w, r *sql.DB, err error)
	// where names the database in messages, without secrets.
	where(cfg Config) string
	// placeholders rewrites a query's $1, $2, ... into the dialect's placeholders.
	placeholders(query string) string
	// tuples is n parenthesised lists of cols placeholders, numbered from 1, comma-separated, for the
	// VALUES lists built at run time.
	tuples(n, cols int) string
	// markVoted marks the voters whose id, credential hash and constituency match (parallel lists, sorted
	// by voter id, each voter once) and who have not voted yet, in the dialect's layout of the voted set
	// (voted.go), and returns the state of each voter it marked.
	markVoted(ctx context.Context, s *Store, tx *wtx, ids []string, hashes [][]byte, cons []string) (map[string]string, error)
	// countVoted counts the voters in the voted set.
	countVoted(ctx context.Context, s *Store, tx *sql.Tx) (int64, error)
	// lockMigrations keeps two processes from migrating one database at once.
	lockMigrations(ctx context.Context, conn *sql.Conn) (unlock func(), err error)
	// consistentRead makes a read transaction see one moment across several queries.
	consistentRead(ctx context.Context, tx *sql.Tx) error
	// hasLedger reports whether the database holds a ledger (its schema version table).
	hasLedger(ctx context.Context, db *sql.DB) (bool, error)
	// writers is how many cast batches may commit at once.
	writers() int
	// lockBoard makes this process the only board writer (Store.LockBoard).
	lockBoard(ctx context.Context, s *Store) (func(), error)
	// registerByNumber reports whether the register is keyed by voter number, keeping a voter's id only
	// when the number does not give it (SQLite, 008_register_by_number.sql: each lookup is an integer's
	// walk down a smaller tree, for the one writer). PostgreSQL's is keyed by voter id, so queries there
	// take the id alone.
	registerByNumber() bool
}

func dialectFor(cfg Config) dialect {
	if cfg.PostgresURL != "" {
		return postgres{}
	}
	return sqlite{}
}

// sqlite: one writer at a time (a second would only wait on the file lock), readers beside it (WAL).
type sqlite struct{}

func (sqlite) name() string            { return "sqlite" }
func (sqlite) where(cfg Config) string { return cfg.SQLitePath }
func (sqlite) writers() int            { return 1 }
func (sqlite) registerByNumber() bool  { return true }

// writerCacheKiB is the writer connection's page cache (see open). At 100M voters the register's inner
// pages are an estimated 30 MB and the voted bitmap 27.6 MB (read now only when a batch folds the recent
// marks into it; the figures below are from before the writer kept who has voted in memory). With 64
// MiB the writer still made 2.7 read calls a ballot there; with 256 MiB, 1.2 (about one leaf of the
// register a ballot), and cast 2-10% faster in three of four pairs (docs/measured.md, "One statement a
// batch, a larger writer cache"). Full, it takes about twice that in resident memory: the driver's C
// allocator rounds a 4 KiB page and its header up to an 8 KiB slot (BenchmarkSQLitePageCacheMemory).
// SQLite fills it only as pages are read, so a small election uses less.
const writerCacheKiB = 256 << 10

func (d sqlite) open(ctx context.Context, cfg Config) (*sql.DB, *sql.DB, error) {
	path := cfg.SQLitePath
	if cfg.Existing {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("ledger: %s: %w (is --data right? `election up` or `election register` creates it)", path, ErrNoLedger)
		}
	} else if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, nil, fmt.Errorf("ledger: %w", err)
	}
	// busy_timeout first so the other pragmas wait rather than fail; WAL lets readers run beside the
	// writer; synchronous=FULL makes a commit durable before a voter is told their ballot is counted.
	// wal_autocheckpoint: the writer copies the WAL back into the database itself only past
	// writerCheckpointPages; a checkpointer on a connection of its own does it every second
	// (checkpoint.go), beside the writer rather than at the end of its commits. Copying back rarely
	// matters too: a page dirtied by many batches between two checkpoints is copied once (checkpoints
	// every 16,000 pages rather than SQLite's 1,000 took 2M voters from 33k to 38k ballots/s).
	//
	// cache_size: the writer keeps up to 256 MiB of pages (writerCacheKiB), not SQLite's 2 MiB. Every cast
	// looks its voter up in the register (and, until 81bb2f2, read the voter's block of the voted bitmap,
	// which the writer now keeps in memory: votedcopy.go). With 2 MiB, once the register's inner pages and
	// the bitmap outgrew the cache, each lookup read two or three pages from the OS (pread) rather than
	// one, its leaf. At 10M voters: 2.6 reads a ballot against 1.5,
	// and 9% less CPU a ballot (docs/measured.md, "The writer's page cache"). SQLite fills the cache only
	// as pages are read, so a small election uses less.
	dsn := "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_pragma=wal_autocheckpoint(" + strconv.Itoa(writerCheckpointPages) + ")" +
		"&_pragma=cache_size(-" + strconv.Itoa(writerCacheKiB) + ")&_txlock=immediate"
	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("ledger: open sqlite database %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, nil, fmt.Errorf("ledger: sqlite %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	if err := private(path); err != nil {
		w.Close()
		r.Close()
		return nil, nil, err
	}
	return w, r, nil
}

// checkpointDSN is the checkpointer's connection (checkpoint.go): synchronous=FULL, as the writer's, so
// a checkpoint syncs the log before it copies and the database after.
func checkpointDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)"
}

// private makes the ledger readable by its owner only: it holds voters' personal data, credential hashes
// and the election's secrets. The data directory becomes 0700 and the database files 0600, also for a
// ledger an older version left readable by others.
func private(path string) error {
	if err := os.Chmod(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("ledger: make the data directory private: %w", err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(f, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("ledger: make %s private: %w", f, err)
		}
	}
	return nil
}

func (sqlite) placeholders(q string) string { return placeholder.ReplaceAllString(q, "?$1") }

// tuples uses anonymous ? placeholders: SQLite binds numbered ?NNN far more slowly in long lists.
func (sqlite) tuples(n, cols int) string {
	return tupleList(n, cols, func(b *strings.Builder, _ int) { b.WriteByte('?') })
}

// lockMigrations: opening the database takes its file lock for each write already.
func (sqlite) lockMigrations(context.Context, *sql.Conn) (func(), error) { return func() {}, nil }

// consistentRead: a SQLite read transaction sees one snapshot of the WAL already.
func (sqlite) consistentRead(context.Context, *sql.Tx) error { return nil }

func (sqlite) hasLedger(ctx context.Context, db *sql.DB) (bool, error) {
	var ok bool
	err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')`).Scan(&ok)
	return ok, err
}

func (sqlite) lockBoard(_ context.Context, s *Store) (func(), error) {
	unlock, err := lockFile(s.cfg.SQLitePath + ".board-lock")
	if errors.Is(err, errLocked) {
		return nil, ErrBoardTaken
	}
	return unlock, err
}

// postgres: one pool for reads and writes, several cast batches committing at once.
type postgres struct{}

func (postgres) name() string            { return "postgres" }
func (postgres) where(cfg Config) string { return redact(cfg.PostgresURL) }
func (postgres) writers() int            { return 4 }
func (postgres) registerByNumber() bool  { return false }

func (postgres) open(ctx context.Context, cfg Config) (*sql.DB, *sql.DB, error) {
	db, err := sql.Open("pgx", cfg.PostgresURL)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: postgres: %w", err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("ledger: cannot reach PostgreSQL at %s: %w", redact(cfg.PostgresURL), err)
	}
	return db, db, nil
}

func (postgres) placeholders(q string) string { return q }

func (postgres) tuples(n, cols int) string {
	return tupleList(n, cols, func(b *strings.Builder, p int) { fmt.Fprintf(b, "$%d", p) })
}

// lockMigrations: several processes may start at once against one database; one migrates, the others
// wait on an advisory lock.
func (postgres) lockMigrations(ctx context.Context, conn *sql.Conn) (func(), error) {
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(726172)`); err != nil {
		return nil, err
	}
	return func() { conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(726172)`) }, nil
}

// consistentRead: PostgreSQL's default (READ COMMITTED) takes a new snapshot for every statement.
func (postgres) consistentRead(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
	return err
}

func (postgres) hasLedger(ctx context.Context, db *sql.DB) (bool, error) {
	var ok bool
	err := db.QueryRowContext(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&ok)
	return ok, err
}

// The ledger's PostgreSQL advisory locks, one key each: 726172 keeps two processes from migrating at
// once (lockMigrations); boardLockKey is held by the board writer for as long as it runs; 726174 is the
// polls guard (PollsGuardCast and PollsGuardClose in queries/postgres.sql).
const boardLockKey = 726173

func (postgres) lockBoard(ctx context.Context, s *Store) (func(), error) {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger: lock the board: %w", err)
	}
	var got bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, boardLockKey).Scan(&got); err != nil {
		conn.Close()
		return nil, fmt.Errorf("ledger: lock the board: %w", err)
	}
	if !got {
		conn.Close()
		return nil, ErrBoardTaken
	}
	return func() {
		conn.ExecContext(context.Background(), `SELECT pg_advisory_unlock($1)`, boardLockKey)
		conn.Close()
	}, nil
}

// tupleList writes n lists of cols placeholders; write writes the p-th (1-based).
func tupleList(n, cols int, write func(b *strings.Builder, p int)) string {
	var b strings.Builder
	p := 1
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteByte(',')
			}
			write(&b, p)
			p++
		}
		b.WriteByte(')')
	}
	return b.String()
}
