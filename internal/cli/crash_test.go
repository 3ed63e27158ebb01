package cli_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/election/election/internal/cli"
	"github.com/election/election/internal/testenv"
)

// The crash test runs `election up` as a child process (this test binary, re-executed), kills it with
// SIGKILL at random moments, restarts it on the same data, lets it finish, and audits.
func TestMain(m *testing.M) {
	if args := os.Getenv("ELECTION_TEST_CHILD_ARGS"); args != "" {
		os.Exit(cli.Main(strings.Split(args, "\x1f"), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	testenv.Must(t, err, "listen")
	defer ln.Close()
	return ln.Addr().String()
}

// reusablePort is a free port below Linux's default ephemeral range (32768-60999), for a child that is
// restarted on the same port many times: between two lives the kernel would otherwise be free to hand it
// to another test's listener on port 0, or to a connection as its source port, and the next life could
// not listen.
func reusablePort(t testing.TB) string {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	for range 100 {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", 20000+rng.IntN(12000)))
		if err == nil {
			defer ln.Close()
			return ln.Addr().String()
		}
	}
	t.Fatal("no free port found below the ephemeral range")
	return ""
}

func child(t testing.TB, logs *bytes.Buffer, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ELECTION_TEST_CHILD_ARGS="+strings.Join(args, "\x1f"))
	cmd.Stdout, cmd.Stderr = logs, logs
	testenv.Must(t, cmd.Start(), "start child")
	return cmd
}

func TestCrashAndRestartLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	t.Parallel()
	testenv.EachBackend(t, func(t *testing.T, b testenv.Backend) {
		{
			conn := append([]string{"--data", t.TempDir(), "--partitions", "4"}, backendArgs(t, b)...)
			up := append([]string{"up", "--preset", "national", "--voters", "20000", "--turnout", "0.9", "--rate", "3000",
				"--http", "127.0.0.1:0", "--instance", "crash", "--exit-when-done"}, conn...)
			rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
			var logs bytes.Buffer
			n := int(testenv.IntEnv(t, "ELECTION_CRASH_KILLS", 5))
			for i := range n + 1 { // n SIGKILLs, then one SIGTERM
				cmd := child(t, &logs, up...)
				// The sleep is the point here: it picks the random moment of the kill.
				time.Sleep(time.Duration(300+rng.IntN(2000)) * time.Millisecond)
				sig := syscall.SIGKILL
				if i == n {
					sig = syscall.SIGTERM // once, the clean stop Ctrl-C gives
				}
				cmd.Process.Signal(sig)
				cmd.Wait()
				t.Logf("life %d: stopped with %v", i+1, sig)
			}
			finish(t, child(t, &logs, up...), "final run", &logs)
			var out, errs bytes.Buffer
			code := cli.Main(append([]string{"audit", "--wait", "30s"}, conn...), &out, &errs)
			if code != 0 || !strings.Contains(out.String(), "discrepancy 0") {
				t.Fatalf("audit exit %d:\n%s\n%s\nchild logs:\n%s", code, out.String(), errs.String(), tail(logs.String(), 80))
			}
			if !strings.Contains(out.String(), "ballots tallied") || !strings.Contains(out.String(), "ballots on the bulletin board") {
				t.Fatalf("audit output: %s", out.String())
			}
			t.Log(out.String())
			// The board survived the kills too: an independent verifier, from the public endpoints of the
			// election served again, finds every ballot once and the counts the results publish.
			http := freePort(t)
			var again []string
			for _, a := range up {
				if a != "--exit-when-done" {
					again = append(again, a)
				}
			}
			serve := child(t, &logs, append(again, "--http", http)...)
			defer func() { serve.Process.Kill(); serve.Wait() }()
			waitFinal(t, "http://"+http, &logs)
			out.Reset()
			if code := cli.Main([]string{"verify", "--from", "http://" + http}, &out, &errs); code != 0 || !strings.Contains(out.String(), "discrepancy 0") {
				t.Fatalf("verify exit %d:\n%s\n%s", code, out.String(), errs.String())
			}
			t.Log(out.String())
		}
	})
}

// backendArgs are the command-line flags that put a child process on backend b: the embedded broker on
// a port it can have again after each restart, or PostgreSQL and real Kafka under a fresh prefix.
func backendArgs(t *testing.T, b testenv.Backend) []string {
	if b.Brokers == nil {
		return []string{"--kafka-listen", reusablePort(t)}
	}
	return []string{"--postgres", b.DB.PostgresURL, "--kafka", strings.Join(b.Brokers, ","), "--topic-prefix", testenv.Namespace()}
}

// finish waits up to four minutes for a child to exit successfully; a child still running then is asked
// for a goroutine dump (SIGQUIT), which the failure shows with the child's logs.
func finish(t testing.TB, cmd *exec.Cmd, what string, logs *bytes.Buffer) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v\n%s", what, err, tail(logs.String(), 80))
		}
	case <-time.After(4 * time.Minute):
		cmd.Process.Signal(syscall.SIGQUIT)
		<-done
		t.Fatalf("%s did not finish\n%s", what, tail(logs.String(), 400))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return fmt.Sprint(strings.Join(lines, "\n"))
}
