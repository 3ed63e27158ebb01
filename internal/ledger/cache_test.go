package ledger_test

import (
	"path/filepath"
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
