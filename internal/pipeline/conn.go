package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/stream"
)

// ConnConfig says where the ledger and Kafka are.
type ConnConfig struct {
	DataDir     string   // SQLite ledger and embedded broker data
	PostgresURL string   // use PostgreSQL instead of SQLite
	Brokers     []string // use these Kafka brokers instead of the embedded one
	KafkaListen string   // the embedded broker's address
	Prefix      string   // topic, group and transactional id prefix
	Partitions  int32    // partitions of votes_topic when it is created
	// Kafka is how to reach external brokers: TLS, SASL.
	Kafka stream.SecurityConfig
	// PublicURL is where readers of the topics reach the API (see stream.Config.PublicURL).
	PublicURL string
	// Existing connects only to an election that exists already: nothing is created. Every command
	// but registration sets it.
	Existing bool
}

func (c *ConnConfig) validate() error {
	if c.PostgresURL == "" && c.DataDir == "" {
		return errors.New("--data is needed for the SQLite ledger (or give --postgres)")
	}
	if len(c.Brokers) == 0 && c.DataDir == "" {
		return errors.New("--data is needed for the embedded Kafka broker (or give --kafka)")
	}
	if len(c.Brokers) == 0 && c.Kafka != (stream.SecurityConfig{}) {
		return errors.New("--kafka-tls, --kafka-sasl and the like are for external brokers: give --kafka too")
	}
	if c.Partitions <= 0 {
		c.Partitions = 6
	}
	return nil
}

// Conn is an open ledger and a reachable Kafka (the embedded broker, when no brokers were given).
type Conn struct {
	Store  *ledger.Store
	Stream stream.Config
	close  []func()
}

// Close closes what Connect opened, in reverse order.
func (c *Conn) Close() {
	for i := len(c.close) - 1; i >= 0; i-- {
		c.close[i]()
	}
	c.close = nil
}

// Connect opens the ledger and reaches Kafka (ConnectLedger, then ConnectKafka).
func Connect(ctx context.Context, cfg ConnConfig, log *slog.Logger) (*Conn, error) {
	c, err := ConnectLedger(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if err := c.ConnectKafka(ctx, cfg, log); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// ConnectLedger checks that external brokers answer (so an unreachable one is reported before anything is
// created) and opens the ledger. Kafka is reached by ConnectKafka, once the command has checked what it
// can from the ledger alone.
func ConnectLedger(ctx context.Context, cfg ConnConfig, log *slog.Logger) (*Conn, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Conn{Stream: stream.Config{Brokers: cfg.Brokers, Prefix: cfg.Prefix, Partitions: cfg.Partitions, PublicURL: cfg.PublicURL,
		Logger: component(log, "kafka")}}
	if len(cfg.Brokers) > 0 {
		sec, err := cfg.Kafka.Load()
		if err != nil {
			return nil, err
		}
		c.Stream.Security = sec
		if err := stream.Ping(ctx, c.Stream); err != nil {
			return nil, err
		}
	}
	store, err := ledger.Open(ctx, ledger.Config{PostgresURL: cfg.PostgresURL, SQLitePath: filepath.Join(cfg.DataDir, "ledger.db"),
		Existing: cfg.Existing, Logger: component(log, "ledger")})
	if err != nil {
		return nil, err
	}
	c.Store = store
	c.close = append(c.close, store.Close)
	return c, nil
}

// ConnectKafka starts the embedded broker unless brokers are given, checks Kafka, and creates the topics.
func (c *Conn) ConnectKafka(ctx context.Context, cfg ConnConfig, log *slog.Logger) error {
	if len(cfg.Brokers) == 0 {
		dir := filepath.Join(cfg.DataDir, "kafka")
		emb, err := stream.StartEmbedded(cfg.KafkaListen, dir, component(log, "embedded-kafka"))
		if err != nil {
			return err
		}
		c.close = append(c.close, emb.Stop)
		c.Stream.Brokers = []string{emb.Addr()}
		// Fresh producer ids on every start (see stream.Config.Incarnation).
		c.Stream.Incarnation = strconv.FormatInt(time.Now().UnixNano(), 36)
		log.Info("embedded Kafka broker listening", "addr", emb.Addr(), "data", dir)
	}
	if err := stream.Ping(ctx, c.Stream); err != nil {
		return err
	}
	return stream.EnsureTopics(ctx, c.Stream)
}

// component is the logger a part of the process logs through: every line names the part.
func component(log *slog.Logger, name string) *slog.Logger { return log.With("component", name) }
