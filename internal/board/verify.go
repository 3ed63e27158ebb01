package board

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/client"

	"github.com/election/election/internal/election"
	"github.com/election/election/internal/lots"
	"github.com/election/election/internal/progress"
	"github.com/election/election/internal/results"
)

// Info is what the API publishes about the board (GET /api/v1/board, and "board" in /api/v1/election).
type Info struct {
	Origin      string `json:"origin"`
	VerifierKey string `json:"verifier_key"`
	// Checkpoint is the path of the signed checkpoint; the tiles are beside it (tlog-tiles).
	Checkpoint string `json:"checkpoint"`
	// VotersVoted is how many voters the ledger records as having voted: the board can hold no more
	// ballots than that.
	VotersVoted int64 `json:"voters_voted"`
}

// VerifyConfig says what to verify.
type VerifyConfig struct {
	// From is the election API's base URL (e.g. http://127.0.0.1:8080): everything is read from its public
	// endpoints, nothing from a database or Kafka.
	From string
	// State, if set, is a file keeping the last checkpoint verified: the new one must be consistent with
	// it (the board only grew), and it is replaced once the new one verifies.
	State   string
	Out     io.Writer
	Logger  *slog.Logger
	Client  *http.Client
	Workers int // bundles fetched at once (8 if 0)
}

// VerifyReport is what the verifier found.
type VerifyReport struct {
	Entries uint64
	// Problems are the differences and failures, each a sentence; none means the board is verified.
	Problems []string
	// Discrepancy is the sum of the count differences with the results, plus one per other problem.
	Discrepancy int64
}

// state is what --state keeps between runs.
type state struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   []byte `json:"root"`
	// LotCommitment is the election's commitment to its lot seed: it must never change.
	LotCommitment string `json:"lot_commitment,omitempty"`
}

// Verify checks the board from the public endpoints alone: the checkpoint is signed with the election's
// board key; every entry is downloaded, parsed and hashed, and the tree recomputed to the checkpoint's
// root (each leaf also compared with the tree's own tiles, to say which entry was changed, removed, added
// or moved); with a state file, the first entries still hash to the root verified before (and the
// library's consistency proof agrees); every entry is recounted per candidate, party, constituency and
// state and compared with /api/v1/results once the count is final, and every race's winner decided again
// from the recount (a level race by lot, with the revealed seed checked against the commitment the
// election published, which a state file keeps); no tracking code appears twice; and the board holds no
// more ballots than voters who voted. It prints each problem and ends with "verified N ballots,
// discrepancy D".
func Verify(ctx context.Context, cfg VerifyConfig) (VerifyReport, error) {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: time.Minute}
	}
	// The server is the operator's, whom the verifier does not trust: no response may hold more than
	// maxResponse bytes, whatever it sends (the timeout alone let a server that never stops sending fill
	// the verifier's memory for a minute).
	limited := *cfg.Client
	limited.Transport = limitedTransport{base: cfg.Client.Transport, max: maxResponse}
	cfg.Client = &limited
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	v := &verifier{cfg: cfg, base: strings.TrimSuffix(cfg.From, "/")}
	rep, err := v.run(ctx)
	if err != nil {
		return rep, err
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(cfg.Out, p)
	}
	fmt.Fprintf(cfg.Out, "verified %d ballots, discrepancy %d\n", rep.Entries, rep.Discrepancy)
	return rep, nil
}

// maxResponse is the most bytes the verifier reads of one response: an entry bundle of 256 entries of
// the longest entry a bundle can hold (65,535 bytes) is under 17 MB, and the results of an election
// far larger than a national one are a few MB.
const maxResponse = 32 << 20

// limitedTransport fails a response body once it passes max bytes.
type limitedTransport struct {
	base http.RoundTripper
	max  int64
}

func (t limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: t.max, url: req.URL.String(), max: t.max}
	return resp, nil
}

// limitedBody reads at most max bytes, then fails.
type limitedBody struct {
	io.ReadCloser
	left, max int64
	url       string
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, b.tooLong()
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte past the limit tells a body that ends there from a longer one
	}
	n, err := b.ReadCloser.Read(p)
	if b.left -= int64(n); b.left < 0 {
		return n, b.tooLong()
	}
	return n, err
}

func (b *limitedBody) tooLong() error {
	return fmt.Errorf("the response from %s is longer than the %d bytes the verifier reads", b.url, b.max)
}

type verifier struct {
	cfg  VerifyConfig
	base string
	rep  VerifyReport
}

func (v *verifier) problem(format string, args ...any) {
	v.rep.Problems = append(v.rep.Problems, fmt.Sprintf(format, args...))
	v.rep.Discrepancy++
}

func (v *verifier) getJSON(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := v.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// counts is the board's recount.
type counts struct {
	candidates, constituencies, states, parties map[string]int64
}

func (v *verifier) run(ctx context.Context) (VerifyReport, error) {
	var def struct {
		election.Election
		Board         *Info  `json:"board"`
		LotCommitment string `json:"lot_commitment"`
	}
	if err := v.getJSON(ctx, "/api/v1/election", &def); err != nil {
		return v.rep, err
	}
	if def.Board == nil || def.Board.VerifierKey == "" {
		return v.rep, errors.New("the election publishes no bulletin board (no board in /api/v1/election)")
	}
	if err := def.Election.Validate(); err != nil {
		return v.rep, fmt.Errorf("the election's definition: %w", err)
	}
	ix := election.NewIndex(&def.Election)
	root, err := url.Parse(v.base + "/board/")
	if err != nil {
		return v.rep, err
	}
	fetcher, err := client.NewHTTPFetcher(root, v.cfg.Client)
	if err != nil {
		return v.rep, err
	}
	raw, err := fetcher.ReadCheckpoint(ctx)
	if err != nil {
		return v.rep, fmt.Errorf("read the checkpoint: %w", err)
	}
	cp, err := OpenCheckpoint(raw, def.Board.VerifierKey)
	if err != nil {
		v.problem("checkpoint: %v", err)
		return v.rep, nil
	}
	v.rep.Entries = cp.Size
	var old *state
	if v.cfg.State != "" {
		if old, err = readState(v.cfg.State); err != nil {
			return v.rep, err
		}
		if old != nil && old.Origin != cp.Origin {
			v.problem("the state file %s is of board %q, not %q", v.cfg.State, old.Origin, cp.Origin)
			return v.rep, nil
		}
		if old != nil && old.LotCommitment != "" && old.LotCommitment != def.LotCommitment {
			v.problem("the election's lot commitment changed since it was last verified: %s then, %q now", old.LotCommitment, def.LotCommitment)
			return v.rep, nil
		}
		if old != nil && old.Size > cp.Size {
			v.problem("the board shrank: it held %d entries when last verified and holds %d now", old.Size, cp.Size)
			return v.rep, nil
		}
	}

	c := counts{map[string]int64{}, map[string]int64{}, map[string]int64{}, map[string]int64{}}
	var codes codeSet
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	tree := rf.NewEmptyRange(0)
	var oldRoot []byte
	bar := progress.New("verifying the board", int64(cp.Size), v.cfg.Logger)
	defer bar.Finish()
	err = v.eachBundle(ctx, fetcher, cp.Size, func(b uint64, bundle api.EntryBundle, tileHashes [][]byte) error {
		for k, data := range bundle.Entries {
			i := b*256 + uint64(k)
			leaf := rfc6962.DefaultHasher.HashLeaf(data)
			if k < len(tileHashes) && !bytes.Equal(leaf, tileHashes[k]) {
				v.problem("entry %d differs from the one the board's tree commits to (changed, or entries removed, added or moved)", i)
			}
			if err := tree.Append(leaf, nil); err != nil {
				return err
			}
			if old != nil && i+1 == old.Size {
				if oldRoot, err = tree.GetRootHash(nil); err != nil {
					return err
				}
			}
			e, err := ParseEntry(data)
			if err != nil {
				v.problem("entry %d: %v", i, err)
				continue
			}
			codes.add(e.Code)
			v.count(ix, c, i, e)
		}
		bar.Set(int64(tree.End()))
		return nil
	})
	if err != nil {
		return v.rep, err
	}
	bar.Finish()
	if tree.End() != cp.Size {
		v.problem("the board's entry bundles hold %d entries, the signed checkpoint %d: entries were removed or added", tree.End(), cp.Size)
	} else if got, err := tree.GetRootHash(nil); err != nil || !bytes.Equal(got, cp.Hash) {
		v.problem("the entries do not hash to the signed checkpoint's root: an entry was changed, removed, added or reordered")
	}
	if old != nil && old.Size > 0 {
		v.consistent(ctx, fetcher, old, oldRoot, cp)
	}
	v.duplicates(&codes)
	if err := v.compare(ctx, ix, c, cp.Size, def.LotCommitment); err != nil {
		return v.rep, err
	}
	if v.cfg.State != "" && len(v.rep.Problems) == 0 {
		if err := writeState(v.cfg.State, state{Origin: cp.Origin, Size: cp.Size, Root: cp.Hash, LotCommitment: def.LotCommitment}); err != nil {
			return v.rep, err
		}
	}
	return v.rep, nil
}

// count adds an entry to the recount, checking that it makes sense for the election.
func (v *verifier) count(ix *election.Index, c counts, i uint64, e Entry) {
	cand, cons := ix.Candidate[e.Candidate], ix.Constituency[e.Constituency]
	switch {
	case cand == nil:
		v.problem("entry %d: unknown candidate %q", i, e.Candidate)
		return
	case cons == nil || cand.Constituency != e.Constituency:
		v.problem("entry %d: candidate %q does not stand in constituency %q", i, e.Candidate, e.Constituency)
		return
	case ix.State[e.State] == nil || cons.State != "" && cons.State != e.State:
		v.problem("entry %d: state %q is not where constituency %q votes", i, e.State, e.Constituency)
		return
	}
	c.candidates[e.Candidate]++
	c.constituencies[e.Constituency]++
	c.states[e.State]++
	c.parties[cand.Party]++
}

// eachBundle fetches every entry bundle and its level-0 hash tile, several at once, and hands them to fn
// in order.
func (v *verifier) eachBundle(ctx context.Context, f *client.HTTPFetcher, size uint64, fn func(b uint64, bundle api.EntryBundle, tile [][]byte) error) error {
	n := (size + 255) / 256
	type result struct {
		bundle api.EntryBundle
		tile   [][]byte
		err    error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Bundle b's result goes to slot b mod len(slots). The bundles handed out but not yet handed to fn
	// are at most the window's 4·Workers holding a place plus Workers waiting for one, so two of them
	// never share a slot. Nothing here is sized by the checkpoint, which the operator signs: a size of
	// 2^44 must not make the verifier allocate for it.
	slots := make([]chan result, 5*v.cfg.Workers+1)
	for i := range slots {
		slots[i] = make(chan result, 1)
	}
	next := make(chan uint64)
	go func() {
		defer close(next)
		for b := range n {
			select {
			case next <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	// A window keeps at most a few bundles ahead of the one being hashed in memory.
	window := make(chan struct{}, 4*v.cfg.Workers)
	for range v.cfg.Workers {
		go func() {
			for b := range next {
				select {
				case window <- struct{}{}:
				case <-ctx.Done():
					return
				}
				bundle, err := client.GetEntryBundle(ctx, f.ReadEntryBundle, b, size)
				var tile [][]byte
				if err == nil {
					var raw []byte
					if raw, err = f.ReadTile(ctx, 0, b, partial(b, size)); err == nil {
						var t api.HashTile
						if err = t.UnmarshalText(raw); err == nil {
							tile = t.Nodes
						}
					}
				}
				slots[b%uint64(len(slots))] <- result{bundle, tile, err}
			}
		}()
	}
	for b := range n {
		var r result
		select {
		case r = <-slots[b%uint64(len(slots))]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-window
		if r.err != nil {
			if errors.Is(r.err, os.ErrNotExist) {
				v.problem("entry bundle %d (entries %d to %d) is missing", b, b*256, min((b+1)*256, size)-1)
				continue
			}
			return fmt.Errorf("read entry bundle %d: %w", b, r.err)
		}
		want := int(min(256, size-b*256))
		if len(r.bundle.Entries) != want {
			v.problem("entry bundle %d holds %d entries; the signed checkpoint says %d: entries were removed or added", b, len(r.bundle.Entries), want)
		}
		if err := fn(b, r.bundle, r.tile); err != nil {
			return err
		}
	}
	return nil
}

// partial is the width of bundle (or level-0 tile) b of a tree of size when it is not full, else 0.
func partial(b, size uint64) uint8 {
	if (b+1)*256 <= size {
		return 0
	}
	return uint8(size % 256)
}

// consistent checks that the board only grew since the checkpoint kept in the state file: the first
// old.Size entries hash to the root verified then, and the library's consistency proof between the two
// checkpoints verifies.
func (v *verifier) consistent(ctx context.Context, f *client.HTTPFetcher, old *state, oldRoot []byte, cp log.Checkpoint) {
	if !bytes.Equal(oldRoot, old.Root) {
		v.problem("the board was rewritten: its first %d entries no longer hash to the root verified before (%s)", old.Size, base64.StdEncoding.EncodeToString(old.Root))
		return
	}
	if old.Size == cp.Size {
		return
	}
	pb, err := client.NewProofBuilder(ctx, cp.Size, f.ReadTile)
	if err == nil {
		var p [][]byte
		if p, err = pb.ConsistencyProof(ctx, old.Size, cp.Size); err == nil {
			err = proof.VerifyConsistency(rfc6962.DefaultHasher, old.Size, cp.Size, p, old.Root, cp.Hash)
		}
	}
	if err != nil {
		v.problem("the board's checkpoint of %d entries is not proven consistent with the one of %d verified before: %v", cp.Size, old.Size, err)
	}
}

// duplicates reports tracking codes that appear more than once.
func (v *verifier) duplicates(codes *codeSet) {
	if dup := codes.duplicates(); dup > 0 {
		v.problem("%d entries repeat a tracking code already on the board: a ballot appears twice", dup)
	}
}

// compare sets the recount beside the published results and the number of voters who voted.
func (v *verifier) compare(ctx context.Context, ix *election.Index, c counts, size uint64, commitment string) error {
	var info Info
	if err := v.getJSON(ctx, "/api/v1/board", &info); err != nil {
		return err
	}
	if int64(size) > info.VotersVoted {
		v.problem("the board holds %d ballots but only %d voters have voted", size, info.VotersVoted)
	}
	var res results.Results
	if err := v.getJSON(ctx, "/api/v1/results", &res); err != nil {
		return err
	}
	if !res.PollsClosed {
		fmt.Fprintf(v.cfg.Out, "the polls are open: the board (%d ballots) and the results (%d counted) are still moving, so their counts were not compared\n", size, res.BallotsCounted)
		return nil
	}
	if !res.Final {
		fmt.Fprintf(v.cfg.Out, "the polls are closed but the count is not final (%d counted): the board (%d ballots) was not compared with it; run again once it is\n", res.BallotsCounted, size)
		return nil
	}
	diff := func(what string, board, published int64) {
		if board != published {
			d := board - published
			if d < 0 {
				d = -d
			}
			v.rep.Problems = append(v.rep.Problems, fmt.Sprintf("difference: %s: board %d, results %d", what, board, published))
			v.rep.Discrepancy += d
		}
	}
	diff("ballots", int64(size), res.BallotsCounted)
	for _, r := range res.Candidates {
		diff("candidate "+r.CandidateID, c.candidates[r.CandidateID], r.Votes)
	}
	for _, r := range res.Parties {
		diff("party "+r.PartyID, c.parties[r.PartyID], r.Votes)
	}
	for _, r := range res.Constituencies {
		diff("constituency "+r.Constituency, c.constituencies[r.Constituency], r.Ballots)
	}
	for _, r := range res.States {
		diff("state "+r.State, c.states[r.State], r.Ballots)
	}
	v.winners(ix, c, res, commitment)
	return nil
}

// winners decides every race again from the board's recount and compares the winner with the results':
// the one with the most votes, or, for a level race, the one the lot draws (lots package) with the seed
// the results reveal, which must be the one the election committed to.
func (v *verifier) winners(ix *election.Index, c counts, res results.Results, commitment string) {
	var seed []byte
	if ix.DrawsLots() {
		var ok bool
		if seed, ok = lots.Matches(res.LotSeed, commitment); !ok {
			seed = nil
		}
	}
	seedChecked := false
	for _, r := range res.Constituencies {
		ballot := ix.Ballot[r.Constituency]
		if c.constituencies[r.Constituency] == 0 || len(ballot) == 0 {
			continue
		}
		var most int64
		for _, cand := range ballot {
			most = max(most, c.candidates[cand.ID])
		}
		var level []string
		for _, cand := range ballot {
			if c.candidates[cand.ID] == most {
				level = append(level, cand.ID)
			}
		}
		want, status := level[0], results.StatusDeclared
		switch {
		case len(level) > 1 && !ix.DrawsLots():
			want, status = "", results.StatusTied
		case len(level) > 1:
			if seed == nil {
				if !seedChecked {
					v.problem("the results reveal lot seed %q, which is not the one the election committed to (%q): no tie can be checked", res.LotSeed, commitment)
					seedChecked = true
				}
				continue
			}
			want = lots.Draw(seed, r.Constituency, level)
		}
		if r.Leader != want || r.Status != status {
			v.problem("race %s: the board's recount gives %s (%s), the results %s (%s)", r.Constituency, orNobody(want), status, orNobody(r.Leader), r.Status)
		}
	}
}

func orNobody(id string) string {
	if id == "" {
		return "no winner"
	}
	return id
}

func readState(path string) (*state, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--state: %w", err)
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("--state %s: %w", path, err)
	}
	return &s, nil
}

func writeState(path string, s state) error {
	data, _ := json.MarshalIndent(s, "", "  ")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	return os.Rename(tmp, path)
}
