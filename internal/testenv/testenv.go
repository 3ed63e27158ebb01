// Package testenv gives tests the backends to run against: always SQLite and the in-process Kafka broker
// (kfake); PostgreSQL and a real Kafka broker too when ELECTION_TEST_POSTGRES and ELECTION_TEST_KAFKA name
// them (CI always sets both; scripts/services.sh starts them). Each test gets its own database and its own
// topic namespace, so tests run in parallel.
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
)

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

// HasPostgres reports whether ELECTION_TEST_POSTGRES is set, logging why not.
func HasPostgres(t testing.TB) bool {
	if os.Getenv("ELECTION_TEST_POSTGRES") == "" {
		t.Log("PostgreSQL backend skipped: ELECTION_TEST_POSTGRES is not set (make services sets it)")
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
		t.Log("PostgreSQL backend skipped: ELECTION_TEST_POSTGRES is not set (make services sets it)")
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
		t.Log("real Kafka backend skipped: ELECTION_TEST_KAFKA is not set (make services sets it)")
	}
	return b
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
