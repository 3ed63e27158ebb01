package cli_test

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/election/election/internal/cli"
)

// Each bad input gets one clear line on stderr, a non-zero exit, and leaves nothing behind.
func TestBadInputFailsCleanly(t *testing.T) {
	// Not parallel: one case sets an environment variable.
	dir := t.TempDir()
	badFile := filepath.Join(dir, "bad.json")
	os.WriteFile(badFile, []byte("{\n  \"name\": \"x\",\n  \"parties\": [,]\n}"), 0o644)
	// An election file whose candidates come from a CSV, and a CSV with a bad third line.
	noCandidates := filepath.Join(dir, "union.json")
	os.WriteFile(noCandidates, []byte(unionElection), 0o644)
	badCandidates := filepath.Join(dir, "candidates.csv")
	os.WriteFile(badCandidates, []byte("candidate_id,candidate_name,party_affiliation,constituency_id\n"+
		"asha,Asha Rao,slate-a,floor-1\nravi,Ravi Iyer,greens,floor-2\n"), 0o644)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown preset", []string{"register", "--preset", "nowhere"}, `unknown preset "nowhere"`},
		{"malformed election file", []string{"register", "--preset", badFile}, badFile + ": line 3 column"},
		{"missing election file", []string{"register", "--preset", filepath.Join(dir, "none.json")}, "no such file"},
		{"unreachable kafka", []string{"register", "--kafka", "127.0.0.1:1"}, "cannot reach Kafka at 127.0.0.1:1"},
		{"unreachable postgres", []string{"register", "--postgres", "postgres://u:secret@127.0.0.1:1/db?connect_timeout=2"}, "cannot reach PostgreSQL at postgres://u:***@127.0.0.1:1/db"},
		{"bad candidates CSV", []string{"register", "--preset", noCandidates, "--candidates", badCandidates}, badCandidates + `:3: column party_affiliation: unknown party "greens" (the election's party ids: slate-a, ind); nothing was imported`},
		{"election file without candidates", []string{"register", "--preset", noCandidates}, `constituencies[0]: "floor-1" has no candidates`},
		{"candidates without an election", []string{"register", "--candidates", badCandidates}, "--candidates needs --preset"},
		{"candidates without an election, with a roll", []string{"register", "--candidates", badCandidates, "--csv", badCandidates}, "--candidates needs --preset"},
		{"bad flag value", []string{"up", "--turnout", "2"}, "--turnout 2: must be more than 0 and at most 1"},
		{"not a part", []string{"simulate", "--part", "2"}, `--part "2": want K/N with 1 ≤ K ≤ N, such as 2/4`},
		{"a part beyond the parts", []string{"simulate", "--part", "3/2"}, `--part "3/2": want K/N with 1 ≤ K ≤ N`},
		{"part zero", []string{"simulate", "--part", "0/2"}, `--part "0/2": want K/N with 1 ≤ K ≤ N`},
		{"a part of election up", []string{"up", "--part", "1/2"}, "--part 1/2: election up closes the polls when its simulation ends"},
		{"bad environment", []string{"up"}, `environment variable ELECTION_VOTERS="many"`},
		{"unknown command", []string{"vote"}, `unknown command "vote"`},
		{"unknown log format", []string{"audit", "--log-format", "xml"}, `--log-format "xml": want text or json`},
		{"a preset as an argument", []string{"up", "national"}, `unexpected argument "national": did you mean --preset national?`},
		{"a stray argument", []string{"relay", "now"}, `unexpected argument "now": election relay takes flags only`},
		{"a mistyped flag", []string{"up", "--vorters", "5"}, `unknown flag --vorters: did you mean --voters? ("election up -h" lists its flags)`},
		{"a flag of another command", []string{"audit", "--turnout", "0.5"}, `unknown flag --turnout ("election audit -h" lists its flags)`},
		{"not a number", []string{"up", "--voters", "many"}, `--voters "many": not a whole number`},
		{"not a duration", []string{"audit", "--wait", "5"}, `--wait "5": not a duration (say 30s, 5m or 1h)`},
		// Commands that need an election never create one (a mistyped --data used to make an empty ledger).
		{"close without an election", []string{"close"}, "no election is registered there (is --data right?"},
		{"audit without an election", []string{"audit"}, "no election is registered there (is --data right?"},
		{"relay without an election", []string{"relay"}, "no election is registered there (is --data right?"},
		{"tally without an election", []string{"tally"}, "no election is registered there (is --data right?"},
		{"serve without an election", []string{"serve"}, "no election is registered there (is --data right?"},
		{"simulate without an election", []string{"simulate"}, "no election is registered there (is --data right?"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			var out, errs bytes.Buffer
			args := append(append([]string{}, c.args...), "--data", data, "--kafka-listen", "127.0.0.1:0")
			if c.name == "unknown command" {
				args = c.args
			}
			if c.name == "bad environment" {
				t.Setenv("ELECTION_VOTERS", "many")
			}
			code := cli.Main(args, &out, &errs)
			if code == 0 || !strings.Contains(errs.String(), c.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant it to contain %q", code, errs.String(), c.want)
			}
			if c.name != "unknown command" && strings.Count(strings.TrimSpace(errs.String()), "\n") != 0 {
				t.Errorf("more than one line on stderr:\n%s", errs.String())
			}
			if strings.Contains(errs.String(), "secret") {
				t.Errorf("the password leaked into the error: %s", errs.String())
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("the failed command created %s", data)
			}
		})
	}
}

// unionElection lists no candidates: they are imported from a CSV with it.
const unionElection = `{
  "name": "Union steward election",
  "parties": [{"id": "slate-a", "name": "Slate A", "short": "A"}, {"id": "ind", "name": "Independent", "short": "IND"}],
  "states": [{"code": "HQ", "name": "Headquarters"}],
  "constituencies": [{"id": "floor-1", "name": "Floor 1", "state": "HQ"}, {"id": "floor-2", "name": "Floor 2", "state": "HQ"}]
}`

// `election version` names the build in one line; a build from a checkout without VCS stamping says the
// commit is unknown rather than inventing one.
func TestVersion(t *testing.T) {
	var out, errs bytes.Buffer
	if code := cli.Main([]string{"version"}, &out, &errs); code != 0 || errs.Len() != 0 {
		t.Fatalf("version: exit %d, stderr %q", code, errs.String())
	}
	line := strings.TrimSpace(out.String())
	if !strings.HasPrefix(line, "election ") || !strings.Contains(line, ", go1.") || strings.Count(out.String(), "\n") != 1 {
		t.Fatalf("version printed %q", out.String())
	}
	if !strings.Contains(line, "commit ") {
		t.Fatalf("version names no commit (or says it is unknown): %q", line)
	}
}

// A command's help lists its own flags, each with its environment variable, and no other command's.
func TestCommandHelp(t *testing.T) {
	var out, errs bytes.Buffer
	if code := cli.Main([]string{"audit", "-h"}, &out, &errs); code != 0 {
		t.Fatalf("audit -h: exit %d", code)
	}
	help := errs.String()
	for _, want := range []string{"Usage: election audit [flags]", "--wait duration   (ELECTION_WAIT)", "--data string   (ELECTION_DATA)"} {
		if !strings.Contains(help, want) {
			t.Errorf("audit -h does not say %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, "--turnout") {
		t.Errorf("audit -h lists up's --turnout:\n%s", help)
	}
}

// An address in use is refused before anything is registered, naming the flag that moves it.
func TestAddressInUseFailsFirst(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, c := range []struct{ flag, other string }{{"--http", "--kafka-listen"}, {"--kafka-listen", "--http"}} {
		data := filepath.Join(t.TempDir(), "data")
		var out, errs bytes.Buffer
		code := cli.Main([]string{"up", "--data", data, c.flag, ln.Addr().String(), c.other, "127.0.0.1:0"}, &out, &errs)
		want := c.flag + " " + ln.Addr().String() + ": the address is in use (another election running?); choose another with " + c.flag
		if code == 0 || !strings.Contains(errs.String(), want) {
			t.Errorf("exit %d, stderr %q; want %q", code, errs.String(), want)
		}
		if _, err := os.Stat(data); !os.IsNotExist(err) {
			t.Errorf("%s in use: the command created %s", c.flag, data)
		}
	}
}
