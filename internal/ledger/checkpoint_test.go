package ledger_test

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/testenv"
)

// The write-ahead log is copied back into the database file beside the writer (checkpoint.go), long
// before the writer would do it itself. The test writes far fewer pages than the writer's own threshold,
// so the database file can only catch up with the database if the checkpointer copies the log back.
func TestTheLogIsCopiedBackBesideTheWriter(t *testing.T) {
	ctx := testenv.Context(t)
	path := filepath.Join(t.TempDir(), "ledger.db")
	s, err := ledger.Open(ctx, ledger.Config{SQLitePath: path, Logger: testenv.Logger(t)})
	testenv.Must(t, err, "open")
	defer s.Close()
	seeded(t, s, 20_000)

	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	testenv.Must(t, err, "open a reader")
	defer db.Close()
	var pages, pageSize int64
	testenv.Must(t, db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages), "page_count")
	testenv.Must(t, db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize), "page_size")
	if pages >= ledger.WriterCheckpointPagesForTest {
		t.Fatalf("the test wrote %d pages, at least the writer's own threshold (%d): it would not tell the two apart", pages, ledger.WriterCheckpointPagesForTest)
	}
	want := pages * pageSize
	deadline := time.Now().Add(30 * time.Second)
	for {
		fi, err := os.Stat(path)
		testenv.Must(t, err, "stat the database file")
		if fi.Size() >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database file holds %d bytes of the database's %d after 30 s: nothing copied the log back", fi.Size(), want)
		}
		time.Sleep(20 * time.Millisecond) // polling a file nothing signals: the checkpointer runs every second
	}
}
