package ledger_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/testenv"
)

// The writer keeps a page cache large enough for the register's inner pages and the voted bitmap (see
// writerCacheKiB); the read connections keep SQLite's default, so the cache is paid for once.
func TestTheSQLiteWriterHasItsOwnLargerPageCache(t *testing.T) {
	ctx := testenv.Context(t)
	s, err := ledger.Open(ctx, ledger.Config{SQLitePath: filepath.Join(t.TempDir(), "ledger.db"), Logger: testenv.Logger(t)})
	testenv.Must(t, err, "open")
	defer s.Close()
	w, r, err := s.CacheSizesForTest(ctx)
	testenv.Must(t, err, "read cache_size")
	// A negative cache_size is in KiB.
	if w != -ledger.WriterCacheKiBForTest {
		t.Errorf("writer cache_size = %d, want -%d (KiB)", w, ledger.WriterCacheKiBForTest)
	}
	if r == w {
		t.Errorf("a read connection has the writer's cache_size %d; each of the pool's connections would hold its own", r)
	}
}

// BenchmarkSQLitePageCacheMemory is what a page cache costs in resident memory with this driver, where
// SQLite's pages live in the memory of modernc.org/libc's allocator, outside Go's heap. It fills a
// connection's cache with SQLite's default size (2,000 KiB) and then another's with the writer's, both
// with a full scan of a table larger than either, and reports the resident bytes each byte of the
// difference cost (rss-bytes/cache-byte). A page is 4 KiB, plus SQLite's header for it, and the
// allocator rounds that up to an 8 KiB slot; a factor near 2 is what the RSS figures in
// docs/measured.md are read against.
func BenchmarkSQLitePageCacheMemory(b *testing.B) {
	if _, err := residentKiB(); err != nil {
		b.Skipf("no resident memory to read on this system: %v", err)
	}
	path := filepath.Join(b.TempDir(), "cache.db")
	db, err := sql.Open("sqlite", "file:"+path)
	testenv.Must(b, err, "open")
	defer db.Close()
	db.SetMaxOpenConns(1)
	// 1.5 times the writer's cache in rows of 200 random bytes, so that a scan fills it.
	rows := ledger.WriterCacheKiBForTest * 1024 * 3 / 2 / 200
	_, err = db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO t (v) SELECT randomblob(200) FROM n`, rows)
	testenv.Must(b, err, "fill the table")
	// fill opens a connection with the cache size given (in KiB), reads every page of the table through
	// it, and returns how much the process's resident memory grew. The connection stays open (and its
	// cache full) until the benchmark ends, so that the next one cannot reuse its memory.
	fill := func(kib int) int {
		c, err := sql.Open("sqlite", "file:"+path+"?_pragma=cache_size(-"+strconv.Itoa(kib)+")")
		testenv.Must(b, err, "open")
		b.Cleanup(func() { c.Close() })
		c.SetMaxOpenConns(1)
		testenv.Must(b, c.Ping(), "ping")
		before, err := residentKiB()
		testenv.Must(b, err, "resident memory")
		var n int64
		testenv.Must(b, c.QueryRow(`SELECT sum(length(v)) FROM t`).Scan(&n), "scan")
		after, err := residentKiB()
		testenv.Must(b, err, "resident memory")
		return after - before
	}
	small := fill(2000)
	large := fill(ledger.WriterCacheKiBForTest)
	factor := float64(large-small) / float64(ledger.WriterCacheKiBForTest-2000)
	if factor < 1 {
		b.Fatalf("the writer's cache of %d KiB grew resident memory by %d KiB more than the default's: less than the cache holds",
			ledger.WriterCacheKiBForTest, large-small)
	}
	b.ReportMetric(factor, "rss-bytes/cache-byte")
	b.ReportMetric(float64(large)/1024, "writer-cache-rss-MiB")
}

// residentKiB is the process's resident memory (VmRSS), in KiB.
func residentKiB() (int, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			return strconv.Atoi(f[1])
		}
	}
	return 0, errors.New("no VmRSS line in /proc/self/status")
}
