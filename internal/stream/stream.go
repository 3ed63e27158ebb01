// Package stream is the Kafka side of the pipeline: the topics and their record shapes, client settings
// shared by every role, idempotent topic creation, and the embedded broker used by `election up`.
//
// Topics are typed values, never bare strings: code and tests refer to Topics.Votes and so on.
package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Config says which brokers to use and how to lay out the topics.
type Config struct {
	Brokers []string
	// Prefix is put before every topic, group and transactional id, so several elections (or tests)
	// can share one cluster. Empty for the tutorial-compatible names.
	Prefix string
	// Partitions of the ballots topic and of the tally's state topic; fixed at creation.
	Partitions int32
	// ReplicationFactor of created topics; -1 uses the broker's default.
	ReplicationFactor int16
	// Incarnation, when set, is appended to transactional ids so each start of the process gets fresh
	// producer ids. The embedded broker needs it: after a crash, kfake aborts a dead producer's open
	// transaction without writing an abort marker, and read-committed consumers then drop that
	// producer id's later, committed, records up to its next marker. A fresh producer id is unaffected.
	// Real Kafka writes the marker; leave this empty there, so a restarted relay fences its predecessor.
	Incarnation string
	// PublicURL is where readers of the topics reach the API (e.g. http://results.example.org): the
	// photos the election serves itself are written to records as absolute URLs on it.
	PublicURL string
	// Security is how to reach external brokers (TLS, SASL); the zero value is plaintext.
	Security Security
	Logger   *slog.Logger
}

func (c *Config) validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("stream: no Kafka brokers given")
	}
	if c.Partitions <= 0 {
		c.Partitions = 6
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = -1
	}
	if c.Logger == nil {
		return errors.New("stream: no logger")
	}
	return nil
}

// Names used for groups and transactional ids.
func (c Config) TallyGroup() string { return c.Prefix + "election-tally" }
func (c Config) RelayTxnID() string { return c.TxnID("election-relay") }
func (c Config) Topics() Topics     { return TopicsFor(c.Prefix) }
func (c Config) Validate() error    { return c.validate() }
func (c Config) String() string     { return strings.Join(c.Brokers, ",") }

// TxnID is the transactional id for a role's name.
func (c Config) TxnID(name string) string {
	if c.Incarnation != "" {
		return c.Prefix + name + "." + c.Incarnation
	}
	return c.Prefix + name
}

// ClientOpts are the options every client of ours starts from.
func (c Config) ClientOpts(extra ...kgo.Opt) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.WithLogger(kslog{c.Logger}),
		kgo.ProducerLinger(2 * time.Millisecond),
		kgo.ProducerBatchMaxBytes(4 << 20),
		// zstd rather than franz-go's default, snappy: the JSON of voters_topic and votes_topic takes a
		// third and a quarter less disk (docs/measured.md), at no cost in speed measured. Its fastest
		// level (1), not its default: at 2M voters the default's encoder was a ninth of all CPU, and
		// level 1 wrote the topics 0.5% larger for 5-15% less CPU. The tutorial's readers of those topics
		// (confluent-kafka, Spark) read zstd; the topics the tutorial's dashboard reads with kafka-python
		// are written with gzip, the one codec it reads without an extra library (results.Publisher).
		kgo.ProducerBatchCompression(kgo.ZstdCompression().WithLevel(1), kgo.NoCompression()),
		kgo.MaxBufferedRecords(200_000),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
	}
	opts = append(opts, c.Security.opts...)
	return append(opts, extra...)
}

// EnsureTopics creates the topics that do not exist yet and checks the ballots topic's partition count.
func EnsureTopics(ctx context.Context, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	cl, err := kgo.NewClient(cfg.ClientOpts()...)
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	t := cfg.Topics()
	for _, s := range t.specs() {
		parts := s.partitions
		if parts == 0 {
			parts = cfg.Partitions
		}
		resp, err := adm.CreateTopic(ctx, parts, cfg.ReplicationFactor, s.configs(), s.name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("stream: cannot create topic %s on %s: %w", s.name, cfg, err)
		}
	}
	// The tally writes partition p of the ballots topic's state to partition p of the state topic, so
	// the two must agree; they could differ only if someone created one by hand.
	// A topic just created can take a moment to appear in every broker's metadata.
	var votes, state int
	for wait := 10 * time.Millisecond; ; wait *= 2 {
		details, err := adm.ListTopics(ctx, t.Votes.Name, t.TallyState.Name)
		if err != nil {
			return fmt.Errorf("stream: describe topics on %s: %w", cfg, err)
		}
		votes, state = len(details[t.Votes.Name].Partitions), len(details[t.TallyState.Name].Partitions)
		if votes > 0 && state > 0 || wait > 5*time.Second {
			break
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if votes != state {
		return fmt.Errorf("stream: topic %s has %d partitions but %s has %d; they must be equal", t.Votes.Name, votes, t.TallyState.Name, state)
	}
	return nil
}

// Ping checks that the brokers answer, with a clear error when they do not.
func Ping(ctx context.Context, cfg Config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	// No logger: the failure is the one line this returns, not a retry log as well.
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, cfg.Security.opts...)...)
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("stream: cannot reach Kafka at %s: %w", cfg, err)
	}
	return nil
}

// kslog adapts slog to franz-go's logger, one level quieter: franz-go's info is our debug.
type kslog struct{ l *slog.Logger }

func (k kslog) Level() kgo.LogLevel {
	if k.l.Enabled(context.Background(), slog.LevelDebug) {
		return kgo.LogLevelInfo
	}
	return kgo.LogLevelWarn
}

func (k kslog) Log(level kgo.LogLevel, msg string, kv ...any) {
	lv := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lv = slog.LevelError
	case kgo.LogLevelWarn:
		lv = slog.LevelWarn
	}
	k.l.Log(context.Background(), lv, msg, kv...)
}

// PartitionFor is the votes partition of a constituency: FNV-1a of its id, modulo the partition count.
// The relay and anything that needs to know where a constituency's ballots are use this one function.
func PartitionFor(key string, partitions int32) int32 {
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return int32(h % uint32(partitions))
}

// PartitionCount is how many partitions topic has.
func PartitionCount(ctx context.Context, cfg Config, topic string) (int32, error) {
	cl, err := kgo.NewClient(cfg.ClientOpts()...)
	if err != nil {
		return 0, fmt.Errorf("stream: %w", err)
	}
	defer cl.Close()
	details, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("stream: describe %s: %w", topic, err)
	}
	d, ok := details[topic]
	if !ok || d.Err != nil || len(d.Partitions) == 0 {
		return 0, fmt.Errorf("stream: topic %s is missing (%v)", topic, d.Err)
	}
	return int32(len(d.Partitions)), nil
}
