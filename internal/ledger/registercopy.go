package ledger

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// registerCopy is the SQLite writer's copy of the register, for its lookups: a file of fixed-width
// records, one per voter number, each the voter's credential hash and a place (constituency and state,
// by index into a list in memory), read with one pread a voter. Every cast looks its voter up; in the
// register, a B-tree of ~3.6 GB at 100M voters, that is a walk to a leaf the writer's cache seldom holds
// (a page read from the OS, a page recycled in SQLite's cache, a search of the page): about 8 of the
// writer's 16-17 µs a ballot at 100M voters, whose whole cost was 9 µs at 1M; the one stage whose cost
// grew with the voters. A pread of 20 bytes from a file the OS caches cost 0.75 µs at 1M voters and
// 0.95 at 100M on this machine; with the copy the writer's cost was 9.0, 9.1 and 10.2 µs a ballot at
// 1M, 10M and 100M (docs/measured.md, "The register's copy for the writer's lookups").
//
// The database stays the record. The copy only answers, for a voter number, what the register's row
// says; whoever is not in it, or whose row it cannot hold, is looked up in the database as before
// (LookupVoters). Why its answer is always the register's:
//   - A voter's row never changes once committed: the register is only ever inserted into, and a
//     voter number is given out once (a counter in meta, advanced in the registering transaction). The
//     migrations that rewrote rows (007 shortened the hashes, 008 re-keyed the table) run when a process
//     opens the ledger, before its copy exists; a migration that changed a voter's hash or place under a
//     process already casting would have to say so here.
//   - The copy is written only from committed rows, read by a connection of the ledger's read pool in
//     chunks of voter numbers, and a number is covered only once its row was read: covered is one past
//     the largest number read so far. A number with no row in a chunk whose larger numbers have one will
//     never have one (numbers are given out in order, a transaction's together); its record says "ask
//     the database" all the same, as does the row of a voter who keeps an id of their own (a voter_ids
//     voter: the copy holds no ids) and a row whose hash is not 16 bytes.
//   - The file is this process's own: created in the data directory and removed at once (it lives while
//     the process holds it open, and a crash leaves nothing), never read by another process or run, so
//     no stale copy of another ledger or another day can answer.
//   - A record is written (pwrite) before the view that covers it is published (an atomic pointer), so
//     the writer never reads a record not yet written.
//   - The writer uses the copy only for an id the number gives (voter.Number) and only in a batch whose
//     transaction finds voter_ids empty (AnyVoterIDs): then no id names another voter, and a voter is
//     that number's row, which must hold the request's hash and constituency, exactly as LookupVoters
//     matches them.
//
// What it costs: 20 bytes of disk a voter while the process casts (2.0 GB at 100M voters, gone when it
// exits); its pages live in the OS's cache, not the process's memory; building it reads the whole
// register once, beside the writer, on the read pool (9.7 s at 10M voters, 99 s at 100M while casting
// went on), and voters it does not cover yet are looked up in the database meanwhile.
//
// Secret ballot: it holds what the register holds (who may vote, where), nothing of who voted or how.
//
// It must never answer for a voter number what that number's committed row does not say.
type registerCopy struct {
	path string // the ledger's file: the copy is made beside it
	db   *sql.DB
	scan string // ScanVoters
	log  *slog.Logger

	mu      sync.Mutex
	started bool // tried once, whether or not it could start
	closed  bool
	running bool     // started, and not closed
	file    *os.File // set once by start; never changed after (lookup reads it without mu)
	stop    chan struct{}
	done    chan struct{}
	changed chan struct{} // closed and replaced whenever a view is published

	more chan struct{} // the writer met a number the copy does not cover: look for new rows
	view atomic.Pointer[copyView]
}

// copyView is what the copy covers: voter numbers [0, covered), their records in the file, their places
// in places (never changed once published: the scanner only appends).
type copyView struct {
	covered int64
	places  []place
}

type place struct{ constituency, state string }

const (
	// copyRecordSize is a record's size: the credential hash (credentialHashSize, 16 bytes:
	// 007_short_credential_hash.sql) and a little-endian uint32, the index of the voter's place, or
	// askDatabase.
	copyRecordSize = credentialHashSize + 4
	askDatabase    = ^uint32(0)
	// copyChunk voters are read in one query: short enough that no read transaction holds back the
	// log's checkpoints for long (about 40 ms of reading).
	copyChunk = 1 << 16
	// copyRecheck is how soon after finding no new rows the scanner looks again when asked: a hostile
	// voter id with a large number costs at most one empty query that often.
	copyRecheck = 200 * time.Millisecond
	copyPattern = "-register-copy-*"
)

// start creates the copy's file and starts filling it, once; a later call does nothing. On any error
// the writer looks every voter up in the database, as without a copy.
func (c *registerCopy) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started || c.closed {
		return
	}
	c.started = true
	// Files left by a process that died between creating its copy and removing it: unlinking one that a
	// running process holds changes nothing for that process.
	if old, _ := filepath.Glob(c.path + copyPattern); len(old) > 0 {
		for _, name := range old {
			os.Remove(name)
		}
	}
	f, err := os.CreateTemp(filepath.Dir(c.path), filepath.Base(c.path)+copyPattern)
	if err != nil {
		c.log.Warn("ledger: no copy of the register for the writer; every voter is looked up in the database", "err", err)
		return
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		c.log.Warn("ledger: no copy of the register for the writer; every voter is looked up in the database", "err", err)
		return
	}
	c.file, c.running = f, true
	c.stop, c.done, c.changed = make(chan struct{}), make(chan struct{}), make(chan struct{})
	c.more = make(chan struct{}, 1)
	go c.run()
}

// close stops the scanner, if it runs, and closes the file (which frees its disk).
func (c *registerCopy) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.running {
		c.running = false
		close(c.stop)
		<-c.done
		c.view.Store(nil)
		c.file.Close() // a lookup under way gets an error: it asks the database
	}
}

// lookup answers for voter number no with the request's credential hash and constituency: covered says
// whether the copy can answer at all (if not, ask the database), and then ok whether the voter's row
// holds that hash and constituency, and state is the voter's state.
func (c *registerCopy) lookup(no int64, hash []byte, constituency string) (state string, ok, covered bool) {
	v := c.view.Load()
	if v == nil || no < 0 {
		return "", false, false
	}
	if no >= v.covered {
		select { // registered since the copy last looked, or no voter at all: the scanner looks again
		case c.more <- struct{}{}:
		default:
		}
		return "", false, false
	}
	var rec [copyRecordSize]byte
	if _, err := c.file.ReadAt(rec[:], no*copyRecordSize); err != nil {
		return "", false, false
	}
	at := binary.LittleEndian.Uint32(rec[credentialHashSize:])
	if at == askDatabase || int(at) >= len(v.places) {
		return "", false, false
	}
	p := v.places[at]
	return p.state, bytes.Equal(rec[:credentialHashSize], hash) && p.constituency == constituency, true
}

// run fills the copy from the register, chunk by chunk, then waits to be asked for more.
func (c *registerCopy) run() {
	defer close(c.done)
	var (
		next   int64 // the first number not covered yet
		places []place
		index  = map[string]uint32{}
		buf    = make([]byte, 0, copyChunk*copyRecordSize)
		idle   bool      // the last look found nothing new (or failed): wait to be asked
		idleAt time.Time // when
		from   int64     // covered when this catch-up began
		began  = time.Now()
		warned time.Time
	)
	for {
		if idle {
			select {
			case <-c.stop:
				return
			case <-c.more:
			}
			select {
			case <-c.stop:
				return
			case <-time.After(copyRecheck - time.Since(idleAt)):
			}
			idle, began, from = false, time.Now(), next
		}
		buf = buf[:0]
		last, err := c.chunk(next, &buf, &places, index)
		if err == nil && last >= next {
			_, err = c.file.WriteAt(buf, next*copyRecordSize)
		}
		select {
		case <-c.stop:
			return
		default:
		}
		switch {
		case err != nil:
			if time.Since(warned) > time.Minute {
				warned = time.Now()
				c.log.Warn("ledger: the copy of the register stops here for now; voters beyond it are looked up in the database",
					"covered", next, "err", err)
			}
			idle, idleAt = true, time.Now()
		case last < next: // no row beyond what is covered
			if next > from {
				c.log.Info("ledger: the writer's copy of the register is up to date", "voters", next, "added", next-from,
					"bytes", next*copyRecordSize, "took", time.Since(began).Round(time.Millisecond))
			}
			idle, idleAt = true, time.Now()
		default:
			next = last + 1
			c.publish(&copyView{covered: next, places: places})
		}
	}
}

// chunk reads the rows of numbers [from, from+copyChunk) and appends their records to buf, one per
// number from `from` to the last row read; it returns that last number, or from-1 if there was none.
// index finds a place by its key: the constituency's length (a uvarint), the constituency, the state;
// no two places have the same key, whatever bytes their names hold.
func (c *registerCopy) chunk(from int64, buf *[]byte, places *[]place, index map[string]uint32) (int64, error) {
	rows, err := c.db.QueryContext(context.Background(), c.scan, from, from+copyChunk)
	if err != nil {
		return 0, fmt.Errorf("read the register: %w", err)
	}
	defer rows.Close()
	var (
		no               int64
		keeps            bool
		hash, cons, stat sql.RawBytes // valid until the next row: copied where kept
		key              []byte
		rec              [copyRecordSize]byte
	)
	last := from - 1
	for rows.Next() {
		if err := rows.Scan(&no, &keeps, &cons, &stat, &hash); err != nil {
			return 0, fmt.Errorf("read the register: %w", err)
		}
		if no <= last {
			return 0, fmt.Errorf("read the register: voter number %d after %d", no, last)
		}
		for ; last+1 < no; last++ { // no row: ask the database
			*buf = appendAsk(*buf)
		}
		at := askDatabase
		if !keeps && len(hash) == credentialHashSize {
			key = append(append(binary.AppendUvarint(key[:0], uint64(len(cons))), cons...), stat...)
			i, ok := index[string(key)]
			if !ok && len(*places) < int(askDatabase) {
				i, ok = uint32(len(*places)), true
				index[string(key)] = i
				*places = append(*places, place{string(cons), string(stat)})
			}
			if ok {
				at = i
			}
		}
		if at == askDatabase {
			*buf = appendAsk(*buf)
		} else {
			copy(rec[:credentialHashSize], hash)
			binary.LittleEndian.PutUint32(rec[credentialHashSize:], at)
			*buf = append(*buf, rec[:]...)
		}
		last = no
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read the register: %w", err)
	}
	return last, nil
}

func appendAsk(buf []byte) []byte {
	var rec [copyRecordSize]byte
	binary.LittleEndian.PutUint32(rec[credentialHashSize:], askDatabase)
	return append(buf, rec[:]...)
}

func (c *registerCopy) publish(v *copyView) {
	c.view.Store(v)
	c.mu.Lock()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// covers waits until the copy covers voter numbers [0, n), for tests; false if ctx ends first or the copy
// is not running.
func (c *registerCopy) covers(ctx context.Context, n int64) bool {
	if n <= 0 {
		return true
	}
	for {
		c.mu.Lock()
		ch, running := c.changed, c.running
		c.mu.Unlock()
		if !running {
			return false
		}
		if v := c.view.Load(); v != nil && v.covered >= n {
			return true
		}
		select {
		case c.more <- struct{}{}:
		default:
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}
