package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/election/election/internal/lifecycle"
)

// Embedded is the in-process Kafka-protocol broker (franz-go's kfake) that `election up` runs when no
// external brokers are given. It persists to a directory and reloads from it on start, and listens on a
// loopback address so ordinary Kafka tools (kcat, rpk, kafka-console-consumer) can read the topics.
type Embedded struct {
	cluster *kfake.Cluster
	addr    string
	unlock  func()
}

// StartEmbedded starts the broker listening on addr (host:port; port 0 picks a free one), storing its
// data in dir. One process at a time may use dir: two brokers writing one directory would corrupt it, and
// two relays on one ledger and broker would not fence each other (each run gets fresh transactional ids).
func StartEmbedded(addr, dir string, log *slog.Logger) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("stream: embedded broker: %w", err)
	}
	unlock, err := lockFile(dir + ".lock")
	if errors.Is(err, errInUse) {
		return nil, fmt.Errorf("stream: the data directory %s is %w: stop that process first, or use its broker with --kafka", filepath.Dir(dir), err)
	}
	if err != nil {
		return nil, fmt.Errorf("stream: embedded broker: lock %s: %w", dir+".lock", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("stream: embedded broker cannot listen on %s: %w (pass --kafka-listen with a free address)", addr, err)
	}
	used := false
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.DataDir(dir),
		// On start kfake reads every partition's segments back, all partitions at once and each segment
		// whole, so its peak memory is about one segment per partition. With the default 100 MiB
		// segments, restarting a 10M-voter election (1.2 GiB of voters_topic) peaked at 1.25 GB RSS.
		//
		// And it never compacts (see neverCompactMs).
		kfake.BrokerConfigs(map[string]string{"log.segment.bytes": strconv.Itoa(segmentBytes), "log.cleaner.backoff.ms": strconv.FormatInt(neverCompactMs, 10)}),
		kfake.ListenFn(func(string, string) (net.Listener, error) {
			if used {
				return nil, fmt.Errorf("embedded broker: one listener only")
			}
			used = true
			return ln, nil
		}),
		kfake.WithLogger(kfakeLog{log}),
	}
	// Started under a stage label of its own, which the broker's goroutines inherit: its share of a CPU
	// profile (lifecycle.InStage).
	var c *kfake.Cluster
	err = lifecycle.InStage(context.Background(), "broker", func(context.Context) (err error) {
		c, err = kfake.NewCluster(opts...)
		return err
	})
	if err != nil {
		ln.Close()
		unlock()
		return nil, fmt.Errorf("stream: embedded broker (data in %s): %w", dir, err)
	}
	return &Embedded{cluster: c, addr: ln.Addr().String(), unlock: unlock}, nil
}

// Addr is the broker's listening address.
func (e *Embedded) Addr() string { return e.addr }

// segmentBytes is the embedded broker's log segment size (see StartEmbedded).
const segmentBytes = 8 << 20

// neverCompactMs is the embedded broker's log.cleaner.backoff.ms: a century. kfake compacts topics with
// cleanup.policy=compact every log.cleaner.backoff.ms (an hour by default), and its compaction is not
// transaction-aware: a record of a transaction still open supersedes the key's last committed record,
// and when that transaction then aborts the key has no value left (TestKfakeCompactionLosesCommitted
// Records shows it). The tally's state topic is compacted and written only in transactions: today each
// transaction writes one record per partition, and kfake never cleans a partition's last batch, which
// is all that saves it; a second record in one transaction and one compaction before an abort would
// lose a partition's committed count. Real Kafka cleans only below the last stable offset. On the
// embedded broker nothing is compacted.
const neverCompactMs = 100 * 365 * 24 * 3600 * 1000

// errInUse: another process holds the data directory.
var errInUse = errors.New("in use by another election process")

// Stop closes the broker, flushing its data to disk, and then lets another process use the directory.
func (e *Embedded) Stop() {
	e.cluster.Close()
	e.unlock()
}

type kfakeLog struct{ l *slog.Logger }

func (k kfakeLog) Logf(level kfake.LogLevel, msg string, args ...any) {
	switch level {
	case kfake.LogLevelError:
		k.l.Error(fmt.Sprintf(msg, args...))
	case kfake.LogLevelWarn:
		k.l.Warn(fmt.Sprintf(msg, args...))
	}
}
