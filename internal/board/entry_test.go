package board_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"unicode/utf8"

	"github.com/election/election/internal/board"
)

// An entry's bytes are exactly encoding/json's, whatever its fields hold: the election's own ids (written
// directly) and anything else (quotes, backslashes, HTML's characters, control characters, non-ASCII,
// invalid UTF-8), and ParseEntry takes back exactly what Marshal writes (of valid UTF-8).
func TestEntryMarshalIsEncodingJSON(t *testing.T) {
	check := func(e board.Entry) {
		t.Helper()
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.Marshal(); !bytes.Equal(got, want) {
			t.Fatalf("entry %+v marshals as %s, encoding/json as %s", e, got, want)
		}
		if e.Code == "" || e.Constituency == "" || e.Candidate == "" || e.State == "" ||
			!utf8.ValidString(e.Code) || !utf8.ValidString(e.Constituency) || !utf8.ValidString(e.Candidate) ||
			!utf8.ValidString(e.State) { // JSON has no invalid UTF-8 to read back
			return
		}
		back, err := board.ParseEntry(e.Marshal())
		if err != nil || back != e {
			t.Fatalf("entry %q reads back as %q, %v (bytes %q)", []string{e.Code, e.Constituency, e.Candidate, e.State}, []string{back.Code, back.Constituency, back.Candidate, back.State}, err, e.Marshal())
		}
	}
	check(board.Entry{Code: "0190a6f2-8c1b-7e3d-9f40-1a2b3c4d5e6f", Constituency: "KA-17", Candidate: "cand-0042", State: "KA"})
	check(board.Entry{})
	for _, hostile := range []string{`"`, `\`, "<script>", "a&b", ">", "\x00", "\x1f", "\x7f", "é", "\u2028", "\xff", "tab\there", "~ !#$%'()*+,-./:;=?@[]^_`{|}"} {
		check(board.Entry{Code: hostile, Constituency: "c", Candidate: "k", State: "s"})
		check(board.Entry{Code: "x", Constituency: "c", Candidate: "k", State: hostile})
	}
	rng := rand.New(rand.NewPCG(5, 6))
	field := func() string {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			if rng.IntN(4) == 0 {
				b[i] = byte(rng.IntN(256))
			} else {
				b[i] = byte(0x20 + rng.IntN(0x5f))
			}
		}
		return string(b)
	}
	for range 20_000 {
		check(board.Entry{Code: field(), Constituency: field(), Candidate: field(), State: field()})
	}
}

// BenchmarkEntryMarshal: an entry's bytes as the writer and the verifier make them, against
// encoding/json's.
func BenchmarkEntryMarshal(b *testing.B) {
	e := board.Entry{Code: "0190a6f2-8c1b-7e3d-9f40-1a2b3c4d5e6f", Constituency: "KA-17", Candidate: "cand-0042", State: "KA"}
	b.Run("Marshal", func(b *testing.B) {
		for b.Loop() {
			e.Marshal()
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			json.Marshal(e)
		}
	})
}
