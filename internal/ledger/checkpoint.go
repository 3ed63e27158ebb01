package ledger

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sync"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// A SQLite ledger in WAL mode writes each commit to the write-ahead log, and a checkpoint copies the log
// back into the database file. By default the connection whose commit makes the log long enough does it,
// at the end of that commit: here the one writer, whose transactions every cast waits for. The copy
// (reading frames from the log, writing pages to the file, syncing it) has nothing to do with the
// writer's transaction, and SQLite lets it run beside the writer (a PASSIVE checkpoint takes the
// checkpoint lock, not the write lock, and copies only frames every reader has moved past). So a
// process that writes the ledger runs the checkpoints on a connection of its own, in a goroutine of its
// own, on whichever core is free.
//
// The writer still checkpoints itself once the log is writerCheckpointPages long, and that is what
// keeps the log's file from growing without end: SQLite starts the log again from its beginning only
// when a write begins with every frame copied back, which a checkpoint beside a writer that commits
// every few tens of milliseconds seldom achieves (the writer has added frames meanwhile). So the log
// grows to the backstop, where the writer's own checkpoint finds nearly everything copied already, and
// starts again (at 100M voters the log's file reached 294 MB; docs/measured.md, "Where the writer's
// time goes at 100M voters").
//
// Nothing here changes what a commit means: a transaction is durable once its frames are synced to the
// log (synchronous=FULL), whether or not they have been copied back yet, and a reader sees the same
// snapshot either way.

// checkpointEvery is how often the checkpointer copies the log back: a page dirtied by many batches
// within a second (the voted set's recent marks, the last page of the ballots) is copied back once.
const checkpointEvery = time.Second

// writerCheckpointPages is the log's length, in pages, past which the writer checkpoints itself after
// a commit (wal_autocheckpoint): 64,000 pages, 256 MiB, by when the checkpointer has copied back all but
// its last second.
const writerCheckpointPages = 64_000

// checkpointer runs PASSIVE checkpoints on its own connection until stopped.
type checkpointer struct {
	db   *sql.DB
	log  *slog.Logger
	stop chan struct{}
	done chan struct{}
}

// startCheckpointer opens a connection to the database at dsn and checkpoints every checkpointEvery.
func startCheckpointer(dsn string, log *slog.Logger) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c, nil
}

func (c *checkpointer) run() {
	defer close(c.done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var warned time.Time
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		if err := c.checkpoint(); err != nil && time.Since(warned) > time.Minute {
			warned = time.Now()
			c.log.Warn("ledger: checkpoint failed; the writer will copy the log back itself once it is long", "err", err)
		}
	}
}

// checkpoint copies back what every reader has moved past. Another connection checkpointing at the same
// moment (the writer's backstop, another process) makes SQLite answer SQLITE_BUSY: that one does it.
func (c *checkpointer) checkpoint() error {
	var busy, frames, copied int64
	err := c.db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
	if e := (*msqlite.Error)(nil); errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY {
		return nil
	}
	return err
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() {
	close(c.stop)
	<-c.done
	c.db.Close()
}

// lazyCheckpointer starts a checkpointer the first time a process writes; a process that only reads
// (audit, serve on another process's ledger) never checkpoints. Close may come more than once.
type lazyCheckpointer struct {
	dsn string
	log *slog.Logger

	mu      sync.Mutex
	started bool // tried once, whether or not it could start
	closed  bool
	c       *checkpointer
}

func (l *lazyCheckpointer) start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started || l.closed {
		return
	}
	l.started = true
	c, err := startCheckpointer(l.dsn, l.log)
	if err != nil {
		l.log.Warn("ledger: no checkpointer; the writer copies the log back itself", "err", err)
		return
	}
	l.c = c
}

func (l *lazyCheckpointer) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if l.c != nil {
		l.c.close()
		l.c = nil
	}
}
