// Package testenv is the one backend matrix every conformance suite runs on: always SQLite and the
// in-process Kafka broker (kfake); PostgreSQL and a real Kafka broker too when ELECTION_TEST_POSTGRES and
// ELECTION_TEST_KAFKA name them (CI always sets both; scripts/services.sh starts them). A suite written
// once runs on each: EachDatabase for the ledger's, EachBroker for the stream's, EachBackend (a ledger
// and a Kafka together: sqlite+kfake, postgres+kafka) for the pipeline's. Each test gets its own database,
// broker or topic namespace, so tests run in parallel.
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"k8s.io/klog/v2"

	"github.com/election/election/internal/stream"
)

func init() {
	// tessera logs through klog, which writes to stderr unless told otherwise; tests keep quiet.
	klog.SetSlogLogger(slog.New(slog.DiscardHandler))
}

// Logger returns a logger that writes to the test log when -v is given, and is silent otherwise.
func Logger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Database is one ledger backend for a test: exactly one of SQLitePath and PostgresURL is set.
type Database struct {
	Name        string
	SQLitePath  string
	PostgresURL string
}

// Databases returns SQLite, and PostgreSQL when the environment provides it (a fresh database per call,
// dropped when the test ends).
func Databases(t testing.TB) []Database {
	t.Helper()
	dbs := []Database{{Name: "sqlite", SQLitePath: t.TempDir() + "/ledger.db"}}
	if u := PostgresURL(t); u != "" {
		dbs = append(dbs, Database{Name: "postgres", PostgresURL: u})
	}
	return dbs
}

// EachDatabase runs fn as a parallel subtest on each database of the matrix, each fresh.
func EachDatabase(t *testing.T, fn func(t *testing.T, db Database)) {
	t.Helper()
	names := []string{"sqlite"}
	if os.Getenv("ELECTION_TEST_POSTGRES") != "" {
		names = append(names, "postgres")
	} else {
		t.Log("PostgreSQL backend skipped: ELECTION_TEST_POSTGRES is not set (eval \"$(scripts/services.sh)\" sets it)")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := Database{Name: name, SQLitePath: t.TempDir() + "/ledger.db"}
			if name == "postgres" {
				db = Database{Name: name, PostgresURL: PostgresURL(t)}
			}
			fn(t, db)
		})
	}
}

// EachBroker runs fn as a parallel subtest on each Kafka of the matrix: a fresh embedded broker, and the
// real one when the environment provides it. Tests on the real broker must use a Namespace.
func EachBroker(t *testing.T, fn func(t *testing.T, brokers []string)) {
	t.Helper()
	for _, name := range BrokerNames(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, Brokers(t, name))
		})
	}
}

// BrokerNames are the Kafkas the environment provides ("kfake" always, "kafka" when ELECTION_TEST_KAFKA is
// set), for tests that run their own loop (benchmarks).
func BrokerNames(t testing.TB) []string {
	names := []string{"kfake"}
	if KafkaBrokers(t) != "" {
		names = append(names, "kafka")
	}
	return names
}

// Brokers returns the addresses of the named Kafka of the matrix: "kfake" starts a fresh embedded broker
// for this test, "kafka" is the real one.
func Brokers(t testing.TB, name string) []string {
	if name == "kafka" {
		return strings.Split(KafkaBrokers(t), ",")
	}
	emb, err := stream.StartEmbedded("127.0.0.1:0", t.TempDir()+"/kafka", Logger(t))
	Must(t, err, "embedded broker")
	t.Cleanup(emb.Stop)
	return []string{emb.Addr()}
}

// Backend is a ledger and a Kafka together. Brokers nil means the embedded broker, which the pipeline
// starts itself in its data directory.
type Backend struct {
	Name    string
	DB      Database
	Brokers []string
}

// EachBackend runs fn as a parallel subtest on each pairing of the matrix: sqlite+kfake always,
// postgres+kafka when both services are provided.
func EachBackend(t *testing.T, fn func(t *testing.T, b Backend)) {
	t.Helper()
	for _, name := range BackendNames(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, NewBackend(t, name))
		})
	}
}

// BackendNames are the pairings the environment provides, for tests that run their own loop (benchmarks,
// and tests that start child processes).
func BackendNames(t testing.TB) []string {
	names := []string{"sqlite+kfake"}
	if HasPostgres(t) && KafkaBrokers(t) != "" {
		names = append(names, "postgres+kafka")
	}
	return names
}

// NewBackend makes the named pairing fresh for this test.
func NewBackend(t testing.TB, name string) Backend {
	if name == "postgres+kafka" {
		return Backend{Name: name, DB: Database{Name: "postgres", PostgresURL: PostgresURL(t)}, Brokers: strings.Split(KafkaBrokers(t), ",")}
	}
	return Backend{Name: name, DB: Database{Name: "sqlite", SQLitePath: t.TempDir() + "/ledger.db"}}
}

// HasPostgres reports whether ELECTION_TEST_POSTGRES is set, logging why not.
func HasPostgres(t testing.TB) bool {
	if os.Getenv("ELECTION_TEST_POSTGRES") == "" {
		t.Log("PostgreSQL backend skipped: ELECTION_TEST_POSTGRES is not set (eval \"$(scripts/services.sh)\" sets it)")
		return false
	}
	return true
}

// PostgresURL creates a fresh database on the server named by ELECTION_TEST_POSTGRES and returns its URL,
// or "" (with a log line saying why) when the variable is unset.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("ELECTION_TEST_POSTGRES")
	if base == "" {
		t.Log("PostgreSQL backend skipped: ELECTION_TEST_POSTGRES is not set (eval \"$(scripts/services.sh)\" sets it)")
		return ""
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	defer admin.Close()
	name := "election_test_" + randomHex(6)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("testenv: ELECTION_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// KafkaBrokers returns the real broker's address from ELECTION_TEST_KAFKA, or "" with a log line.
func KafkaBrokers(t testing.TB) string {
	t.Helper()
	b := os.Getenv("ELECTION_TEST_KAFKA")
	if b == "" {
		t.Log("real Kafka backend skipped: ELECTION_TEST_KAFKA is not set (eval \"$(scripts/services.sh)\" sets it)")
	}
	return b
}

// KafkaSASLSSL returns the real broker's SASL_SSL listener and the CA that signed its certificate, from
// ELECTION_TEST_KAFKA_SASL_SSL and ELECTION_TEST_KAFKA_CA, or "" (with a log line) when they are not set.
func KafkaSASLSSL(t testing.TB) (addr, caFile string) {
	t.Helper()
	addr, caFile = os.Getenv("ELECTION_TEST_KAFKA_SASL_SSL"), os.Getenv("ELECTION_TEST_KAFKA_CA")
	if addr == "" || caFile == "" || KafkaBrokers(t) == "" {
		t.Log("Kafka over SASL_SSL skipped: ELECTION_TEST_KAFKA_SASL_SSL, ELECTION_TEST_KAFKA_CA or ELECTION_TEST_KAFKA is not set (eval \"$(scripts/services.sh)\" sets them)")
		return "", ""
	}
	return addr, caFile
}

// Namespace is a fresh prefix for topic and group names, so tests sharing one broker do not meet.
func Namespace() string { return "t" + randomHex(5) + "." }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Context returns a context cancelled when the test ends.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}

// Must fails the test on err.
func Must(t testing.TB, err error, what string, args ...any) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(what, args...), err)
	}
}

// IntEnv reads an integer tuning knob from the environment (benchmark sizes, kill counts), or def.
func IntEnv(t testing.TB, name string, def int64) int64 {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	Must(t, err, "%s", name)
	return n
}
