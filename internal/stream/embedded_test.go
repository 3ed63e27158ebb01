package stream_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/election/election/internal/stream"
	"github.com/election/election/internal/testenv"
)

// One process at a time on a data directory: a second embedded broker there is refused with a message
// that names the holder, and the directory is free again once the first stops.
func TestEmbeddedBrokerHoldsItsDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data", "kafka")
	first, err := stream.StartEmbedded("127.0.0.1:0", dir, testenv.Logger(t))
	testenv.Must(t, err, "first broker")
	_, err = stream.StartEmbedded("127.0.0.1:0", dir, testenv.Logger(t))
	want := fmt.Sprintf("the data directory %s is in use by another election process (pid %d)", filepath.Dir(dir), os.Getpid())
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("second broker on the same directory: got %v, want %q", err, want)
	}
	first.Stop()
	again, err := stream.StartEmbedded("127.0.0.1:0", dir, testenv.Logger(t))
	testenv.Must(t, err, "a broker after the first stopped")
	again.Stop()
}
