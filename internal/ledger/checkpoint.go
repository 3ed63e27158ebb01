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

// checkpointer runs PASSIVE checkpoints on a connection of its own, from the first time the process
// writes (start, called by every write transaction) until close: a process that only reads (audit,
// serve on another process's ledger) never checkpoints. Close may come more than once.
type checkpointer struct {
	dsn string
	log *slog.Logger

	mu      sync.Mutex
	started bool // tried once, whether or not it could start
	closed  bool
	db      *sql.DB // nil until started, and if it could not start
	stop    chan struct{}
	done    chan struct{}
}

func (c *checkpointer) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started || c.closed {
		return
	}
	c.started = true
	db, err := sql.Open("sqlite", c.dsn)
	if err != nil {
		c.log.Warn("ledger: no checkpointer; the writer copies the log back itself", "err", err)
		return
	}
	db.SetMaxOpenConns(1)
	c.db, c.stop, c.done = db, make(chan struct{}), make(chan struct{})
	go c.run()
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

// close stops the checkpointer, if it runs, and closes its connection.
func (c *checkpointer) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.db != nil {
		close(c.stop)
		<-c.done
		c.db.Close()
		c.db = nil
	}
}
