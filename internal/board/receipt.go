package board

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"

	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// Receipt is the answer to "is my ballot on the board?": the entry with the voter's tracking code, where
// it is, and the proof that it is included in a checkpoint signed with the election's board key. Anyone
// can check it with the published verifier key (VerifyReceipt; the page does the same in the browser).
type Receipt struct {
	Code string `json:"code"`
	// OnBoard is false while the ballot is not yet in a published checkpoint (it is counted, and will
	// be within a checkpoint interval); then only Code and Status are set.
	OnBoard bool   `json:"on_board"`
	Status  string `json:"status"`
	Index   uint64 `json:"index"`
	// Entry is the entry's bytes exactly as on the board (canonical JSON, see Entry).
	Entry string `json:"entry,omitempty"`
	// Proof is the RFC 6962 inclusion proof of entry Index in the checkpoint's tree, base64 hashes.
	Proof []string `json:"inclusion_proof"`
	// Checkpoint is the signed checkpoint (a C2SP signed note) the proof is against.
	Checkpoint string `json:"checkpoint,omitempty"`
}

// ErrNotOnBoard: no entry has that tracking code (yet).
var ErrNotOnBoard = errors.New("no ballot with that tracking code is on the board (yet): a ballot appears within seconds of being counted")

// MakeReceipt builds the receipt for a tracking code from the board in dir.
func MakeReceipt(ctx context.Context, dir, code string) (Receipt, error) {
	r := Receipt{Code: code}
	candidates, err := lookup(dir, code)
	if err != nil {
		return r, err
	}
	if len(candidates) == 0 {
		return r, ErrNotOnBoard
	}
	fetcher := Files{Dir: dir}
	raw, err := fetcher.ReadCheckpoint(ctx)
	if err != nil {
		return r, fmt.Errorf("board: read the checkpoint: %w", err)
	}
	cp, err := parseCheckpoint(raw)
	if err != nil {
		return r, err
	}
	pending := false
	for _, index := range candidates {
		if index >= cp.Size {
			pending = true
			continue
		}
		bundle, err := client.GetEntryBundle(ctx, fetcher.ReadEntryBundle, index/256, cp.Size)
		if err != nil {
			return r, fmt.Errorf("board: read entry %d: %w", index, err)
		}
		e, err := entryIn(bundle, index)
		if err != nil {
			return r, err
		}
		if e.Code != code {
			continue // another code whose hash begins with the same 9 bytes
		}
		return proveEntry(ctx, r, fetcher, cp, raw, index, bundle)
	}
	if pending {
		r.Status = "counted; on the board within seconds, once the next checkpoint is signed"
		return r, nil
	}
	return r, ErrNotOnBoard
}

// proveEntry completes the receipt of the entry at index, in its bundle, with its inclusion proof
// against the checkpoint cp (raw: the signed note).
func proveEntry(ctx context.Context, r Receipt, fetcher Files, cp log.Checkpoint, raw []byte, index uint64, bundle api.EntryBundle) (Receipt, error) {
	pb, err := client.NewProofBuilder(ctx, cp.Size, fetcher.ReadTile)
	if err != nil {
		return r, fmt.Errorf("board: %w", err)
	}
	hashes, err := pb.InclusionProof(ctx, index)
	if err != nil {
		return r, fmt.Errorf("board: inclusion proof of entry %d: %w", index, err)
	}
	r.OnBoard, r.Status, r.Index, r.Entry, r.Checkpoint = true, "on the board", index, string(bundle.Entries[index%256]), string(raw)
	r.Proof = []string{} // a board of one entry has an empty proof, which is not a missing one
	for _, h := range hashes {
		r.Proof = append(r.Proof, base64.StdEncoding.EncodeToString(h))
	}
	return r, nil
}

// parseCheckpoint reads a checkpoint note's body without checking its signature (the server reads its
// own file; clients check with VerifyReceipt or Verify).
func parseCheckpoint(raw []byte) (log.Checkpoint, error) {
	var cp log.Checkpoint
	body, _, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		return cp, errors.New("board: the checkpoint is not a signed note")
	}
	if _, err := cp.Unmarshal(append(body, '\n')); err != nil {
		return cp, fmt.Errorf("board: the checkpoint: %w", err)
	}
	return cp, nil
}

// OpenCheckpoint checks a signed checkpoint against the board's verifier key and reads it.
func OpenCheckpoint(raw []byte, verifierKey string) (log.Checkpoint, error) {
	v, err := note.NewVerifier(verifierKey)
	if err != nil {
		return log.Checkpoint{}, fmt.Errorf("the board's verifier key: %w", err)
	}
	cp, _, _, err := log.ParseCheckpoint(raw, v.Name(), v)
	if err != nil {
		return log.Checkpoint{}, fmt.Errorf("the checkpoint is not signed with the election's board key %s: %w", v.Name(), err)
	}
	return *cp, nil
}

// VerifyReceipt checks a receipt as a voter (or anyone) would: the checkpoint is signed with the board
// key, and the entry, which carries the receipt's tracking code, is included in the checkpoint's tree at
// the receipt's index. It returns the entry.
func VerifyReceipt(r Receipt, verifierKey string) (Entry, error) {
	if !r.OnBoard {
		return Entry{}, errors.New("the receipt says the ballot is not on the board yet")
	}
	cp, err := OpenCheckpoint([]byte(r.Checkpoint), verifierKey)
	if err != nil {
		return Entry{}, err
	}
	e, err := ParseEntry([]byte(r.Entry))
	if err != nil {
		return Entry{}, err
	}
	if e.Code != r.Code {
		return Entry{}, fmt.Errorf("the entry is for tracking code %s, not %s", e.Code, r.Code)
	}
	hashes := make([][]byte, len(r.Proof))
	for i, p := range r.Proof {
		if hashes[i], err = base64.StdEncoding.DecodeString(p); err != nil || len(hashes[i]) != sha256.Size {
			return Entry{}, fmt.Errorf("the inclusion proof's hash %d is not a SHA-256 hash", i)
		}
	}
	leaf := rfc6962.DefaultHasher.HashLeaf([]byte(r.Entry))
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, r.Index, cp.Size, leaf, hashes, cp.Hash); err != nil {
		return Entry{}, fmt.Errorf("the entry is not proven to be on the board: %w", err)
	}
	return e, nil
}

// PublishedSize is how many entries the board's published checkpoint in dir commits to (0 before the
// first checkpoint).
func PublishedSize(dir string) (uint64, error) {
	raw, err := Files{Dir: dir}.ReadCheckpoint(context.Background())
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("board: read the checkpoint: %w", err)
	}
	cp, err := parseCheckpoint(raw)
	return cp.Size, err
}

// Recount is the board's own count of what it holds.
type Recount struct {
	Size         uint64
	PerCandidate map[string]int64
	PerState     map[string]int64
	// Duplicates is how many entries repeat a tracking code already on the board.
	Duplicates int64
}

// RecountDir counts the entries of the board in dir up to its published checkpoint (the operator's
// audit reads its own copy; anyone else uses Verify).
func RecountDir(ctx context.Context, dir string) (Recount, error) {
	rc := Recount{PerCandidate: map[string]int64{}, PerState: map[string]int64{}}
	size, err := PublishedSize(dir)
	if err != nil {
		return rc, err
	}
	f := Files{Dir: dir}
	var codes codeSet
	for b := uint64(0); b*256 < size; b++ {
		bundle, err := client.GetEntryBundle(ctx, f.ReadEntryBundle, b, size)
		if err != nil {
			return rc, fmt.Errorf("board: read bundle %d: %w", b, err)
		}
		for k, data := range bundle.Entries {
			e, err := ParseEntry(data)
			if err != nil {
				return rc, fmt.Errorf("board: entry %d: %w", b*256+uint64(k), err)
			}
			codes.add(e.Code)
			rc.PerCandidate[e.Candidate]++
			rc.PerState[e.State]++
			rc.Size++
		}
	}
	rc.Duplicates = int64(codes.duplicates())
	return rc, nil
}
