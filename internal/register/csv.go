package register

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/voter"
)

// CSVColumns are the columns a voters CSV may have (the tutorial's voter fields and the constituency).
// The header row names them, in any order; voter_id, voter_name, address_state and constituency_id are
// required, the others may be left out.
var CSVColumns = []string{"voter_id", "voter_name", "date_of_birth", "gender", "nationality", "registration_number",
	"address_street", "address_city", "address_state", "address_country", "address_postcode", "email",
	"phone_number", "cell_number", "picture", "registered_age", "constituency_id"}

var requiredColumns = []string{"voter_id", "voter_name", "address_state", "constituency_id"}

// CSVError says where in which file a CSV import went wrong.
type CSVError struct {
	File   string
	Line   int
	Column string // column name, when one is to blame
	Msg    string
}

func (e *CSVError) Error() string {
	if e.Column != "" {
		return fmt.Sprintf("%s:%d: column %s: %s; nothing was imported", e.File, e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s; nothing was imported", e.File, e.Line, e.Msg)
}

// csvReader reads and checks voter rows.
type csvReader struct {
	file string
	ix   *election.Index
	r    *csv.Reader
	col  map[string]int
}

func openCSV(path string, ix *election.Index) (*csvReader, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("voters CSV: %w", err)
	}
	r := csv.NewReader(f)
	r.ReuseRecord = true
	cr := &csvReader{file: path, ix: ix, r: r}
	if cr.col, err = readHeader(r, path, CSVColumns, requiredColumns); err != nil {
		f.Close()
		return nil, nil, err
	}
	return cr, f, nil
}

// readHeader reads the header row, which names the columns (from known, in any order; all of required).
// It returns each column's position.
func readHeader(r *csv.Reader, path string, known, required []string) (map[string]int, error) {
	header, err := r.Read()
	if err != nil {
		if err == io.EOF {
			return nil, &CSVError{File: path, Line: 1, Msg: "the file is empty; a header row naming the columns is needed"}
		}
		return nil, wrapCSV(path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if !slices.Contains(known, h) {
			return nil, &CSVError{File: path, Line: 1, Column: strconv.Itoa(i + 1), Msg: fmt.Sprintf("unknown column %q (known: %s)", h, strings.Join(known, ", "))}
		}
		if _, dup := col[h]; dup {
			return nil, &CSVError{File: path, Line: 1, Column: h, Msg: "column named twice"}
		}
		col[h] = i
	}
	for _, req := range required {
		if _, ok := col[req]; !ok {
			return nil, &CSVError{File: path, Line: 1, Column: req, Msg: "required column missing from the header"}
		}
	}
	return col, nil
}

// wrapCSV gives a CSV syntax error its file, line and column.
func wrapCSV(path string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &CSVError{File: path, Line: pe.Line, Column: strconv.Itoa(pe.Column), Msg: pe.Err.Error()}
	}
	return fmt.Errorf("CSV %s: %w", path, err)
}

func (cr *csvReader) wrap(err error) error { return wrapCSV(cr.file, err) }

// next reads and checks one row; it returns nil at the end of the file.
func (cr *csvReader) next() (*voter.Voter, int, error) {
	rec, err := cr.r.Read()
	if err == io.EOF {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, cr.wrap(err)
	}
	line, _ := cr.r.FieldPos(0)
	get := func(c string) string {
		if i, ok := cr.col[c]; ok {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	bad := func(col, format string, args ...any) (*voter.Voter, int, error) {
		return nil, line, &CSVError{File: cr.file, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
	}
	v := &voter.Voter{ID: get("voter_id"), Name: get("voter_name"), DateOfBirth: get("date_of_birth"), Gender: get("gender"),
		Nationality: get("nationality"), RegistrationNumber: get("registration_number"), Street: get("address_street"),
		City: get("address_city"), State: get("address_state"), Country: get("address_country"), Postcode: get("address_postcode"),
		Email: get("email"), Phone: get("phone_number"), Cell: get("cell_number"), Picture: get("picture"), Constituency: get("constituency_id")}
	if err := election.CheckID(v.ID); err != nil {
		return bad("voter_id", "%v", err)
	}
	if v.Name == "" {
		return bad("voter_name", "must not be empty")
	}
	if v.DateOfBirth != "" {
		if _, err := time.Parse(time.DateOnly, v.DateOfBirth); err != nil {
			return bad("date_of_birth", "%q is not a date in the form YYYY-MM-DD", v.DateOfBirth)
		}
	}
	if a := get("registered_age"); a != "" {
		n, err := strconv.Atoi(a)
		if err != nil || n < 0 || n > 150 {
			return bad("registered_age", "%q is not an age (a whole number from 0 to 150)", a)
		}
		v.RegisteredAge = n
	}
	if cr.ix.State[v.State] == nil {
		return bad("address_state", "unknown state %q", v.State)
	}
	cons := cr.ix.Constituency[v.Constituency]
	if cons == nil {
		return bad("constituency_id", "unknown constituency %q", v.Constituency)
	}
	if cons.State != "" && cons.State != v.State {
		return bad("constituency_id", "constituency %q is in state %q, but the voter's address_state is %q", v.Constituency, cons.State, v.State)
	}
	return v, line, nil
}

// ImportCSV registers the voters in a CSV file: all of them, or (on any bad row) none. It reads the file
// twice, so it never holds the roll in memory: once to check every row, once to import in one
// transaction. Each voter gets a random credential, written with their id to credentialsPath (created
// with mode 0600 only once the import has committed); the ledger keeps only a hash.
func ImportCSV(ctx context.Context, store *ledger.Store, ix *election.Index, path, credentialsPath string) (int64, error) {
	// Pass 1: every row well-formed and referring to this election.
	cr, closer, err := openCSV(path, ix)
	if err != nil {
		return 0, err
	}
	for {
		v, _, err := cr.next()
		if err != nil {
			closer.Close()
			return 0, err
		}
		if v == nil {
			break
		}
	}
	closer.Close()

	// Pass 2: import in one transaction, writing credentials to a temporary file beside the target.
	cr, closer, err = openCSV(path, ix)
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	tmp, err := os.CreateTemp(filepath.Dir(credentialsPath), ".credentials-*")
	if err != nil {
		return 0, fmt.Errorf("credentials file: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := tmp.Chmod(0o600); err != nil {
		return 0, fmt.Errorf("credentials file: %w", err)
	}
	cw := csv.NewWriter(tmp)
	cw.Write([]string{"voter_id", "credential"})
	n, err := store.ImportVoters(ctx, func() (*ledger.ImportRow, error) {
		v, line, err := cr.next()
		if err != nil || v == nil {
			return nil, err
		}
		cred := newCredential()
		if err := cw.Write([]string{v.ID, cred}); err != nil {
			return nil, fmt.Errorf("credentials file: %w", err)
		}
		return &ledger.ImportRow{Voter: ledger.RegisteredVoter{Voter: *v, CredentialHash: ledger.HashCredential(cred)}, Line: line}, nil
	})
	if err != nil {
		var ie *ledger.ErrImportRow
		if errors.As(err, &ie) {
			return 0, &CSVError{File: path, Line: ie.Line, Column: "voter_id", Msg: ie.Msg}
		}
		return 0, err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return n, fmt.Errorf("credentials file: %w (the voters were imported; their credentials could not be saved)", err)
	}
	if err := tmp.Close(); err != nil {
		return n, fmt.Errorf("credentials file: %w (the voters were imported; their credentials could not be saved)", err)
	}
	if err := os.Rename(tmp.Name(), credentialsPath); err != nil {
		return n, fmt.Errorf("credentials file: %w (the voters were imported; their credentials are in %s)", err, tmp.Name())
	}
	return n, nil
}

// newCredential is 100 random bits in base32: enough that guessing one is hopeless.
func newCredential() string {
	b := make([]byte, 13)
	rand.Read(b)
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)[:20]
}
