package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/election/election/internal/cli"
	"github.com/election/election/internal/stream"
	"github.com/election/election/internal/testenv"
)

// A whole election on a real Kafka cluster reached over SASL_SSL (SCRAM-SHA-512 over TLS, the broker's
// certificate checked against a CA): every role's clients authenticate, the secret comes from a file, and
// the audit agrees. A wrong password fails in one line.
func TestElectionOverSASLAndTLS(t *testing.T) {
	addr, ca := testenv.KafkaSASLSSL(t)
	if addr == "" {
		t.Skip("no Kafka SASL_SSL listener (see the log line above)")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	user, password := "election-"+strings.TrimSuffix(testenv.Namespace(), "."), "pw-"+testenv.Namespace()
	// Creating the user is the cluster administrator's job, done here through the plaintext listener.
	admin, err := kgo.NewClient(kgo.SeedBrokers(testenv.KafkaBrokers(t)))
	testenv.Must(t, err, "admin client")
	defer admin.Close()
	_, err = kadm.NewClient(admin).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: user, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: password}})
	testenv.Must(t, err, "create SCRAM user")

	dir := t.TempDir()
	pwFile := filepath.Join(dir, "kafka-password")
	testenv.Must(t, os.WriteFile(pwFile, []byte(password+"\n"), 0o600), "password file")
	conn := []string{"--data", filepath.Join(dir, "data"), "--kafka", addr, "--kafka-tls", "--kafka-ca", ca,
		"--kafka-sasl", "SCRAM-SHA-512", "--kafka-user", user, "--kafka-password-file", pwFile, "--topic-prefix", testenv.Namespace()}
	// The broker learns of the new user a moment after the administrator's request returns.
	sec, err := stream.SecurityConfig{TLS: true, CAFile: ca, SASL: "SCRAM-SHA-512", User: user, PasswordFile: pwFile}.Load()
	testenv.Must(t, err, "security")
	sc := stream.Config{Brokers: []string{addr}, Security: sec, Logger: testenv.Logger(t)}
	for deadline := time.Now().Add(30 * time.Second); stream.Ping(ctx, sc) != nil; {
		if time.Now().After(deadline) {
			t.Fatalf("the new SCRAM user cannot log in: %v", stream.Ping(ctx, sc))
		}
		time.Sleep(100 * time.Millisecond) // the polling interval
	}

	var out, errs bytes.Buffer
	up := append([]string{"up", "--preset", "seed", "--voters", "600", "--rate", "0", "--exit-when-done", "--http", "127.0.0.1:0", "--instance", "sasl"}, conn...)
	if code := cli.Main(up, &out, &errs); code != 0 {
		t.Fatalf("up over SASL_SSL: exit %d\n%s", code, errs.String())
	}
	out.Reset()
	if code := cli.Main(append([]string{"audit", "--wait", "30s"}, conn...), &out, &errs); code != 0 || !strings.Contains(out.String(), "discrepancy 0") {
		t.Fatalf("audit over SASL_SSL: exit %d\n%s\n%s", code, out.String(), errs.String())
	}

	testenv.Must(t, os.WriteFile(pwFile, []byte("wrong"), 0o600), "wrong password")
	errs.Reset()
	if code := cli.Main(append([]string{"audit"}, conn...), &out, &errs); code == 0 || strings.Count(strings.TrimSpace(errs.String()), "\n") != 0 ||
		!strings.Contains(errs.String(), "cannot reach Kafka") {
		t.Fatalf("a wrong password: exit %d, stderr:\n%s", code, errs.String())
	}
	if strings.Contains(errs.String(), "wrong") || strings.Contains(errs.String(), password) {
		t.Fatalf("the password leaked into the error: %s", errs.String())
	}
}
