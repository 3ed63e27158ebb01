package board_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"

	"github.com/election/election/internal/board"
	"github.com/election/election/internal/election"
	"github.com/election/election/internal/ledger"
	"github.com/election/election/internal/lots"
	"github.com/election/election/internal/results"
	"github.com/election/election/internal/stream"
	"github.com/election/election/internal/testenv"
)

// site is what an election publishes: its board's directory, the definition and key, the results.
type site struct {
	dir         string
	ix          *election.Index
	vkey        string
	votersVoted int64
	results     *results.Results
	commitment  string // to the lot seed
	// changed is what a tampering site serves instead of the board's own files, by path.
	changed map[string][]byte
}

// lotSeed is the test election's seed for drawing lots: the seed election's 600 test ballots leave its
// three candidates level, so the race is decided by lot.
var lotSeed = bytes.Repeat([]byte{3}, lots.SeedBytes)

// honest builds a board of n ballots with the writer, and the final results that agree with it.
func honest(t *testing.T, n int) (*site, *memLedger, string) {
	t.Helper()
	b := writeBoard(t, n)
	return &site{dir: b.dir, ix: b.ix, vkey: b.vkey, votersVoted: int64(n), results: resultsOf(b.ix, b.l), commitment: lots.Commitment(lotSeed)}, b.l, b.skey
}

func resultsOf(ix *election.Index, l *memLedger) *results.Results {
	s := stream.NewSnapshot(0)
	for _, b := range l.ballots {
		s.Ballots++
		s.Candidates[b.Candidate]++
		s.States[b.State]++
	}
	reg := []ledger.Registered{{Constituency: "nation", State: "N", Voters: int64(len(l.ballots))}}
	return results.Compute(results.Inputs{Index: ix, Snapshots: map[int32]*stream.Snapshot{0: s}, Registered: reg, PollsClosed: true, LotSeed: lotSeed})
}

// serve publishes the site as the API does, over HTTP.
func (s *site) serve(t *testing.T) string { return s.serveB(t) }

func (s *site) serveB(t testing.TB) string {
	t.Helper()
	v, err := note.NewVerifier(s.vkey)
	testenv.Must(t, err, "verifier")
	mux := http.NewServeMux()
	write := func(w http.ResponseWriter, v any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /api/v1/election", func(w http.ResponseWriter, _ *http.Request) {
		write(w, struct {
			*election.Election
			Board         board.Info `json:"board"`
			LotCommitment string     `json:"lot_commitment"`
		}{s.ix.Election, board.Info{Origin: v.Name(), VerifierKey: s.vkey}, s.commitment})
	})
	mux.HandleFunc("GET /api/v1/board", func(w http.ResponseWriter, _ *http.Request) {
		write(w, board.Info{Origin: v.Name(), VerifierKey: s.vkey, Checkpoint: "/board/checkpoint", VotersVoted: s.votersVoted})
	})
	mux.HandleFunc("GET /api/v1/results", func(w http.ResponseWriter, _ *http.Request) { write(w, s.results) })
	mux.HandleFunc("GET /board/{path...}", func(w http.ResponseWriter, r *http.Request) {
		data, ok := s.changed[r.PathValue("path")]
		if !ok {
			var err error
			if data, err = board.ReadPublic(r.Context(), s.dir, r.PathValue("path")); err != nil {
				http.NotFound(w, r)
				return
			}
		}
		w.Write(data)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func verify(t *testing.T, base, state string) (board.VerifyReport, string) {
	t.Helper()
	var out bytes.Buffer
	rep, err := board.Verify(context.Background(), board.VerifyConfig{From: base, State: state, Out: &out, Logger: testenv.Logger(t)})
	testenv.Must(t, err, "verify")
	return rep, out.String()
}

// copyDir copies a board's directory, so each case tampers with its own.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	err := filepath.Walk(from, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), data, 0o600)
	})
	testenv.Must(t, err, "copy the board")
	return to
}

// rewriteBundle makes the site serve bundle b of a board of the given size with its entries changed.
func rewriteBundle(t *testing.T, s *site, b, size uint64, change func([][]byte) [][]byte) {
	t.Helper()
	p := layout.EntriesPath(b, layout.PartialTileSize(0, b, size))
	raw, err := board.ReadPublic(context.Background(), s.dir, p)
	testenv.Must(t, err, "read bundle")
	var bundle api.EntryBundle
	testenv.Must(t, bundle.UnmarshalText(raw), "parse bundle")
	var out []byte
	for _, e := range change(bundle.Entries) {
		out = binary.BigEndian.AppendUint16(out, uint16(len(e)))
		out = append(out, e...)
	}
	s.changed = map[string][]byte{p: out}
}

func TestVerifyAnHonestBoard(t *testing.T) {
	t.Parallel()
	s, _, _ := honest(t, 600)
	if r := s.results.Constituencies[0]; !r.ByLot {
		t.Fatalf("the test board's race is not level, so no lot is checked: %+v", r)
	}
	rep, out := verify(t, s.serve(t), filepath.Join(t.TempDir(), "state.json"))
	if len(rep.Problems) != 0 || rep.Discrepancy != 0 || rep.Entries != 600 || !strings.HasSuffix(out, "verified 600 ballots, discrepancy 0\n") {
		t.Fatalf("an honest board:\n%s", out)
	}
}

// Each tampering the verifier must catch, with the words that say what was found.
func TestVerifyFindsEachTampering(t *testing.T) {
	t.Parallel()
	const n = 600 // two full bundles and a partial one of 88
	s, l, skey := honest(t, n)
	other := func(cand string) string {
		for _, c := range s.ix.Candidates {
			if c.ID != cand {
				return c.ID
			}
		}
		return ""
	}
	cases := []struct {
		name   string
		tamper func(t *testing.T, s *site)
		want   []string
	}{
		{"an entry changed", func(t *testing.T, s *site) {
			rewriteBundle(t, s, 0, n, func(es [][]byte) [][]byte {
				e, _ := board.ParseEntry(es[5])
				e.Candidate = other(e.Candidate)
				es[5] = e.Marshal()
				return es
			})
		}, []string{"entry 5 differs from the one the board's tree commits to", "do not hash to the signed checkpoint's root"}},
		{"an entry removed", func(t *testing.T, s *site) {
			rewriteBundle(t, s, 0, n, func(es [][]byte) [][]byte { return append(es[:5:5], es[6:]...) })
		}, []string{"entry bundle 0 holds 255 entries; the signed checkpoint says 256", "entry 5 differs"}},
		{"an entry added", func(t *testing.T, s *site) {
			rewriteBundle(t, s, 2, n, func(es [][]byte) [][]byte { return append(es, es[0]) })
		}, []string{"entry bundle 2 holds 89 entries; the signed checkpoint says 88", "repeat a tracking code"}},
		{"entries reordered", func(t *testing.T, s *site) {
			rewriteBundle(t, s, 1, n, func(es [][]byte) [][]byte { es[3], es[4] = es[4], es[3]; return es })
		}, []string{"entry 259 differs", "entry 260 differs", "do not hash to the signed checkpoint's root"}},
		{"a checkpoint signed by another key", func(t *testing.T, s *site) {
			raw, _ := os.ReadFile(filepath.Join(s.dir, "checkpoint"))
			body, _, _ := strings.Cut(string(raw), "\n\n")
			otherKey, _ := newKey(t)
			signer, _ := note.NewSigner(otherKey)
			forged, err := note.Sign(&note.Note{Text: body + "\n"}, signer)
			testenv.Must(t, err, "sign")
			testenv.Must(t, os.WriteFile(filepath.Join(s.dir, "checkpoint"), forged, 0o600), "write")
		}, []string{"checkpoint: the checkpoint is not signed with the election's board key"}},
		{"results that disagree with the board", func(t *testing.T, s *site) {
			r := *s.results
			r.Candidates = append([]results.CandidateRow(nil), r.Candidates...)
			r.Candidates[0].Votes++
			s.results = &r
		}, []string{"difference: candidate cand-1: board"}},
		{"more ballots than voters who voted", func(t *testing.T, s *site) { s.votersVoted = n - 1 }, []string{"the board holds 600 ballots but only 599 voters have voted"}},
		{"a level race given to another candidate than the lot drew", func(t *testing.T, s *site) {
			r := *s.results
			r.Constituencies = append([]results.RaceRow(nil), r.Constituencies...)
			drawn := r.Constituencies[0].Leader
			r.Constituencies[0].Leader = other(drawn)
			s.results = &r
		}, []string{"race nation: the board's recount gives"}},
		{"lots drawn with another seed than the one committed to", func(t *testing.T, s *site) {
			r := *s.results
			r.LotSeed = strings.Repeat("44", lots.SeedBytes)
			s.results = &r
		}, []string{"which is not the one the election committed to"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tampered := *s
			tampered.dir = copyDir(t, s.dir)
			c.tamper(t, &tampered)
			rep, out := verify(t, tampered.serve(t), "")
			for _, want := range c.want {
				if !strings.Contains(out, want) {
					t.Errorf("the verifier did not say %q:\n%s", want, out)
				}
			}
			if len(rep.Problems) == 0 || rep.Discrepancy == 0 || strings.Contains(out, "discrepancy 0\n") {
				t.Fatalf("the verifier passed a tampered board:\n%s", out)
			}
		})
	}

	// A checkpoint signed with the election's own key that claims 2^44 entries. The operator holds that
	// key, so a size it claims must cost the verifier nothing until entries arrive: a slice made for it
	// was 256 TiB, and the process died. It stops at the first bundle the board cannot serve.
	t.Run("a checkpoint signed with the election's key that claims 2^44 entries", func(t *testing.T) {
		t.Parallel()
		tampered := *s
		tampered.dir = copyDir(t, s.dir)
		raw, _ := os.ReadFile(filepath.Join(tampered.dir, "checkpoint"))
		body, _, _ := strings.Cut(string(raw), "\n\n")
		lines := strings.Split(body, "\n")
		lines[1] = strconv.FormatUint(1<<44, 10)
		signer, err := note.NewSigner(skey)
		testenv.Must(t, err, "signer")
		forged, err := note.Sign(&note.Note{Text: strings.Join(lines, "\n") + "\n"}, signer)
		testenv.Must(t, err, "sign")
		testenv.Must(t, os.WriteFile(filepath.Join(tampered.dir, "checkpoint"), forged, 0o600), "write")
		var out bytes.Buffer
		_, err = board.Verify(context.Background(), board.VerifyConfig{From: tampered.serve(t), Out: &out, Logger: testenv.Logger(t)})
		if err == nil || !strings.Contains(err.Error(), "read entry bundle 2") {
			t.Fatalf("a checkpoint claiming 2^44 entries: %v\n%s", err, out.String())
		}
	})

	// A board rewritten between two checkpoints (same key, history replaced): the state kept from the
	// first verification catches it.
	t.Run("a board rewritten between two checkpoints", func(t *testing.T) {
		t.Parallel()
		state := filepath.Join(t.TempDir(), "state.json")
		if rep, out := verify(t, s.serve(t), state); len(rep.Problems) != 0 {
			t.Fatalf("the first verification:\n%s", out)
		}
		forged := &memLedger{}
		forged.add(s.ix, n+50)
		for i := range forged.ballots {
			forged.ballots[i].ID = "forged-" + forged.ballots[i].ID
		}
		dir := t.TempDir()
		w := startWriter(t, forged, dir, skey)
		waitPublished(t, dir, n+50)
		w.Stop()
		rewritten := &site{dir: dir, ix: s.ix, vkey: s.vkey, votersVoted: n + 50, results: resultsOf(s.ix, forged), commitment: s.commitment}
		rep, out := verify(t, rewritten.serve(t), state)
		if !strings.Contains(out, "the board was rewritten: its first 600 entries no longer hash to the root verified before") || len(rep.Problems) == 0 {
			t.Fatalf("a rewritten board:\n%s", out)
		}
		// The board as it really grew verifies against the same state, and a board with fewer entries
		// than verified before does not.
		grown := *s
		grown.dir = copyDir(t, s.dir)
		more := &memLedger{ballots: append(l.ballots[:0:0], l.ballots...)}
		more.add(s.ix, 40)
		w = startWriter(t, more, grown.dir, skey)
		waitPublished(t, grown.dir, n+40)
		w.Stop()
		grown.votersVoted, grown.results = n+40, resultsOf(s.ix, more)
		if rep, out := verify(t, grown.serve(t), state); len(rep.Problems) != 0 {
			t.Fatalf("the board as it grew:\n%s", out)
		}
		if rep, out := verify(t, s.serve(t), state); !strings.Contains(out, "the board shrank: it held 640 entries when last verified and holds 600 now") || len(rep.Problems) == 0 {
			t.Fatalf("a board that shrank:\n%s", out)
		}
		// The lot commitment the state kept cannot change: a new one would let the operator pick the seed
		// once the ties are known.
		recommitted := grown
		recommitted.commitment = lots.Commitment(bytes.Repeat([]byte{4}, lots.SeedBytes))
		if rep, out := verify(t, recommitted.serve(t), state); !strings.Contains(out, "the election's lot commitment changed since it was last verified") || len(rep.Problems) == 0 {
			t.Fatalf("a changed lot commitment:\n%s", out)
		}
	})
}

// A server that never stops sending (here, an election definition that never ends) gets an error once a
// response passes the verifier's limit, not the verifier's memory until the request times out.
func TestTheVerifierStopsReadingAnEndlessResponse(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"name":"`))
		chunk := bytes.Repeat([]byte("a"), 1<<16)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	var out bytes.Buffer
	_, err := board.Verify(context.Background(), board.VerifyConfig{From: srv.URL, Out: &out, Logger: testenv.Logger(t)})
	if err == nil || !strings.Contains(err.Error(), "is longer than the 33554432 bytes the verifier reads") {
		t.Fatalf("an endless response: %v\n%s", err, out.String())
	}
}

// The board is a standard C2SP tlog-tiles log: tessera's own client reads our checkpoint and tiles over
// HTTP, checks the checkpoint's signature, and verifies an inclusion proof it builds from the tiles.
func TestAStandardClientReadsTheBoard(t *testing.T) {
	t.Parallel()
	s, l, _ := honest(t, 300)
	base := s.serve(t)
	ctx := context.Background()
	root, _ := url.Parse(base + "/board/")
	f, err := client.NewHTTPFetcher(root, nil)
	testenv.Must(t, err, "fetcher")
	v, err := note.NewVerifier(s.vkey)
	testenv.Must(t, err, "verifier")
	cp, _, _, err := client.FetchCheckpoint(ctx, f.ReadCheckpoint, v, v.Name())
	testenv.Must(t, err, "checkpoint")
	if cp.Size != 300 {
		t.Fatalf("checkpoint size %d", cp.Size)
	}
	pb, err := client.NewProofBuilder(ctx, cp.Size, f.ReadTile)
	testenv.Must(t, err, "proof builder")
	for _, i := range []uint64{0, 255, 256, 299} {
		bundle, err := client.GetEntryBundle(ctx, f.ReadEntryBundle, i/256, cp.Size)
		testenv.Must(t, err, "bundle")
		data := bundle.Entries[i%256]
		if e, err := board.ParseEntry(data); err != nil || e.Code != l.ballots[i].ID {
			t.Fatalf("entry %d: %s (%v)", i, data, err)
		}
		p, err := pb.InclusionProof(ctx, i)
		testenv.Must(t, err, "inclusion proof")
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, i, cp.Size, rfc6962.DefaultHasher.HashLeaf(data), p, cp.Hash); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
}
