package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/election/election/internal/cli"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/testenv"
)

// An organisation's own election: the definition from a file, its candidates and its roll from CSV files.
func TestRegisterFromCSVFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "union.json")
	cands := filepath.Join(dir, "candidates.csv")
	voters := filepath.Join(dir, "voters.csv")
	testenv.Must(t, os.WriteFile(file, []byte(unionElection), 0o644), "write")
	testenv.Must(t, os.WriteFile(cands, []byte("candidate_id,candidate_name,party_affiliation,constituency_id,biography\n"+
		"asha,Asha Rao,slate-a,floor-1,Steward since 2019\nravi,Ravi Iyer,ind,floor-1,\nmira,Mira Das,slate-a,floor-2,\n"), 0o644), "write")
	testenv.Must(t, os.WriteFile(voters, []byte("voter_id,voter_name,address_state,constituency_id\n"+
		"m-1,One,HQ,floor-1\nm-2,Two,HQ,floor-1\nm-3,Three,HQ,floor-2\n"), 0o644), "write")
	data := filepath.Join(dir, "data")
	run := func(args ...string) (int, string, string) {
		var out, errs bytes.Buffer
		code := cli.Main(append(args, "--data", data, "--kafka-listen", "127.0.0.1:0"), &out, &errs)
		return code, out.String(), errs.String()
	}
	code, out, errs := run("register", "--preset", file, "--candidates", cands, "--csv", voters)
	if code != 0 || !strings.Contains(out, "imported 3 voters") {
		t.Fatalf("register: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	s, err := ledger.Open(testenv.Context(t), ledger.Config{SQLitePath: filepath.Join(data, "ledger.db"), Logger: testenv.Logger(t)})
	testenv.Must(t, err, "open ledger")
	e, err := s.Election(testenv.Context(t))
	testenv.Must(t, err, "election")
	reg, err := s.RegisteredCounts(testenv.Context(t))
	testenv.Must(t, err, "registered")
	s.Close()
	var got []string
	for _, c := range e.Candidates {
		got = append(got, c.ID+"/"+c.Party+"/"+c.Constituency)
	}
	if strings.Join(got, " ") != "asha/slate-a/floor-1 ravi/ind/floor-1 mira/slate-a/floor-2" || e.Candidates[0].Biography != "Steward since 2019" {
		t.Fatalf("registered candidates: %v (%+v)", got, e.Candidates[0])
	}
	var n int64
	for _, r := range reg {
		n += r.Voters
	}
	if n != 3 {
		t.Fatalf("registered voters: %d, want 3 (%v)", n, reg)
	}

	// The election's voters were imported: the simulator never runs on it and no synthetic voter is added.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"up", "--rate", "0", "--exit-when-done", "--http", "127.0.0.1:0"}, "--exit-when-done waits for a simulation"},
		{[]string{"up", "--voters", "1000", "--http", "127.0.0.1:0"}, "--voters: this election's voters were imported from a roll"},
		{[]string{"simulate", "--rate", "0"}, "the simulator runs only on simulated elections"},
		{[]string{"register", "--voters", "10"}, "--voters: this election's voters were imported from a roll"},
	} {
		code, _, errs := run(c.args...)
		if code == 0 || !strings.Contains(errs, c.want) || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
			t.Errorf("%v on an imported roll: exit %d, stderr:\n%s\nwant one line containing %q", c.args, code, errs, c.want)
		}
	}
	s, err = ledger.Open(testenv.Context(t), ledger.Config{SQLitePath: filepath.Join(data, "ledger.db"), Logger: testenv.Logger(t)})
	testenv.Must(t, err, "open ledger")
	tot, err := s.Totals(testenv.Context(t))
	testenv.Must(t, err, "totals")
	closed, err := s.PollsClosed(testenv.Context(t))
	testenv.Must(t, err, "polls")
	reg, err = s.RegisteredCounts(testenv.Context(t))
	testenv.Must(t, err, "registered")
	s.Close()
	n = 0
	for _, r := range reg {
		n += r.Voters
	}
	if n != 3 || tot.Ballots != 0 || closed {
		t.Fatalf("after the refused commands: %d voters registered, %d ballots, polls closed %v; want 3, 0, false", n, tot.Ballots, closed)
	}

	// The registered election is fixed: a different candidate list is refused, and nothing changes.
	other := filepath.Join(dir, "other.csv")
	testenv.Must(t, os.WriteFile(other, []byte("candidate_id,candidate_name,party_affiliation,constituency_id\n"+
		"asha,Asha Rao,slate-a,floor-1\nzed,Zed,ind,floor-2\n"), 0o644), "write")
	if code, _, errs := run("register", "--preset", file, "--candidates", other, "--voters", "3"); code == 0 || !strings.Contains(errs, "already holds the election") {
		t.Fatalf("a second candidate list: exit %d, stderr %s", code, errs)
	}
}

// The data directory holds voters' personal data, credential hashes and the election's secrets: it is
// readable by its owner only, also when an older version left it open.
func TestDataIsPrivate(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	var out, errs bytes.Buffer
	if code := cli.Main([]string{"register", "--voters", "10", "--data", data, "--kafka-listen", "127.0.0.1:0"}, &out, &errs); code != 0 {
		t.Fatalf("register: %s", errs.String())
	}
	check := func(when string) {
		t.Helper()
		err := filepath.WalkDir(data, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if want := os.FileMode(0o600); d.IsDir() && info.Mode().Perm() != 0o700 || !d.IsDir() && info.Mode().Perm()&^want != 0 {
				t.Errorf("%s: %s has mode %v", when, p, info.Mode().Perm())
			}
			return nil
		})
		testenv.Must(t, err, "walk")
	}
	check("after register")
	// As an older version left it.
	testenv.Must(t, os.Chmod(data, 0o755), "chmod")
	testenv.Must(t, os.Chmod(filepath.Join(data, "ledger.db"), 0o644), "chmod")
	if code := cli.Main([]string{"audit", "--wait", "1s", "--data", data, "--kafka-listen", "127.0.0.1:0"}, &out, &errs); code != 0 {
		t.Fatalf("audit: %s\n%s", out.String(), errs.String())
	}
	for _, p := range []string{data, filepath.Join(data, "ledger.db")} {
		info, err := os.Stat(p)
		testenv.Must(t, err, "stat")
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("after opening it again, %s has mode %v", p, info.Mode().Perm())
		}
	}
}
