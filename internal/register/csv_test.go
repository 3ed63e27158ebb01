package register_test

import (
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/register"
	"github.com/election/election/internal/testenv"
)

const header = "voter_id,voter_name,date_of_birth,address_state,constituency_id,registered_age\n"

// eachStore runs fn on a ledger holding the national election, on every database of the matrix.
func eachStore(t *testing.T, fn func(t *testing.T, s *ledger.Store, ix *election.Index)) {
	testenv.EachDatabase(t, func(t *testing.T, db testenv.Database) {
		s, ix := newStore(t, db)
		fn(t, s, ix)
	})
}

func newStore(t *testing.T, db testenv.Database) (*ledger.Store, *election.Index) {
	t.Helper()
	s, err := ledger.Open(testenv.Context(t), ledger.Config{SQLitePath: db.SQLitePath, PostgresURL: db.PostgresURL, Logger: testenv.Logger(t)})
	testenv.Must(t, err, "open")
	t.Cleanup(s.Close)
	e, _ := election.Preset("national")
	testenv.Must(t, s.RegisterElection(testenv.Context(t), e), "register")
	return s, election.NewIndex(e)
}

func write(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "voters.csv")
	testenv.Must(t, os.WriteFile(p, []byte(body), 0o644), "write")
	return p
}

func TestImportCSV(t *testing.T) {
	t.Parallel()
	eachStore(t, testImportCSV)
}

func testImportCSV(t *testing.T, s *ledger.Store, ix *election.Index) {
	ctx := testenv.Context(t)
	path := write(t, header+
		"A1,Asha Rao,1980-02-03,UP,UP-01,44\n"+
		"A2,\"Ravi, Jr.\",,UP,UP-02,\n"+
		"A3,Mira Das,1999-12-31,KL,KL-20,24\n")
	creds := path + ".creds"
	n, err := register.ImportCSV(ctx, s, ix, path, creds)
	testenv.Must(t, err, "import")
	if n != 3 {
		t.Fatalf("imported %d, want 3", n)
	}
	info, err := os.Stat(creds)
	testenv.Must(t, err, "credentials file")
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode %v, want 0600", info.Mode().Perm())
	}
	f, _ := os.Open(creds)
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	testenv.Must(t, err, "read credentials")
	if len(rows) != 4 || rows[1][0] != "A1" || len(rows[1][1]) != 20 {
		t.Fatalf("credentials: %v", rows)
	}
	// The credential works, and only for its voter.
	_, errs, err := s.CastBatch(ctx, ix, []ledger.CastRequest{
		{VoterID: "A1", Credential: rows[1][1], CandidateID: ix.Ballot["UP-01"][0].ID},
		{VoterID: "A2", Credential: rows[1][1], CandidateID: ix.Ballot["UP-02"][0].ID},
	}, time.Now())
	testenv.Must(t, err, "cast")
	if errs[0] != nil || !errors.Is(errs[1], ledger.ErrInvalidCredential) {
		t.Fatalf("casts: %v", errs)
	}
}

func TestImportCSVBadRowsImportNothing(t *testing.T) {
	t.Parallel()
	good := "B1,Good Row,1980-01-01,UP,UP-01,40\n"
	cases := []struct {
		name, body, want string
	}{
		{"unknown state", header + good + "B2,X Y,1980-01-01,ZZ,UP-01,40\n", `:3: column address_state: unknown state "ZZ"`},
		{"constituency elsewhere", header + good + "B2,X Y,1980-01-01,KL,UP-01,40\n", `:3: column constituency_id: constituency "UP-01" is in state "UP"`},
		{"bad date", header + good + "B2,X Y,1980-13-01,UP,UP-01,40\n", `:3: column date_of_birth: "1980-13-01" is not a date`},
		{"bad age", header + good + "B2,X Y,,UP,UP-01,old\n", `:3: column registered_age: "old" is not an age`},
		{"bad id", header + good + "B 2,X Y,,UP,UP-01,\n", `:3: column voter_id: "B 2" may contain only`},
		{"empty name", header + good + "B2,,,UP,UP-01,\n", `:3: column voter_name: must not be empty`},
		{"wrong field count", header + good + "B2,X Y,UP\n", `:3: column`},
		{"unknown column", "voter_id,voter_name,shoe_size,address_state,constituency_id\n", `:1: column 3: unknown column "shoe_size"`},
		{"missing column", "voter_id,voter_name,address_state\n", `:1: column constituency_id: required column missing`},
		{"repeated id", header + good + "B2,X Y,,UP,UP-01,\nB1,Again,,UP,UP-01,\n", `:4: column voter_id: voter_id "B1" appears again (first on line 2)`},
		{"empty file", "", `:1: the file is empty`},
	}
	// One ledger per database for every case: each failed import must leave it as it was.
	eachStore(t, func(t *testing.T, s *ledger.Store, ix *election.Index) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				ctx := testenv.Context(t)
				path := write(t, c.body)
				_, err := register.ImportCSV(ctx, s, ix, path, path+".creds")
				if err == nil || !strings.Contains(err.Error(), path+c.want) || !strings.Contains(err.Error(), "nothing was imported") {
					t.Fatalf("got %v\nwant it to contain %q", err, path+c.want)
				}
				reg, err := s.RegisteredCounts(ctx)
				testenv.Must(t, err, "counts")
				if len(reg) != 0 {
					t.Fatalf("a failed import registered voters: %v", reg)
				}
				if _, err := os.Stat(path + ".creds"); !os.IsNotExist(err) {
					t.Fatalf("a failed import left a credentials file (%v)", err)
				}
			})
		}
	})
}

func TestImportCSVRefusesRegisteredIDs(t *testing.T) {
	t.Parallel()
	eachStore(t, testImportCSVRefusesRegisteredIDs)
}

func testImportCSVRefusesRegisteredIDs(t *testing.T, s *ledger.Store, ix *election.Index) {
	ctx := testenv.Context(t)
	first := write(t, header+"C1,One,,UP,UP-01,\n")
	_, err := register.ImportCSV(ctx, s, ix, first, first+".creds")
	testenv.Must(t, err, "first import")
	second := write(t, header+"C2,Two,,UP,UP-01,\nC1,One again,,UP,UP-01,\n")
	_, err = register.ImportCSV(ctx, s, ix, second, second+".creds")
	if err == nil || !strings.Contains(err.Error(), second+`:3: column voter_id: voter_id "C1" is already registered`) {
		t.Fatalf("got %v", err)
	}
	reg, _ := s.RegisteredCounts(ctx)
	if len(reg) != 1 || reg[0].Voters != 1 {
		t.Fatalf("registered after the refused import: %v", reg)
	}
}
