package ledger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/note"
)

// Meta keys of the bulletin board (see the board package).
const (
	metaBoardSigner   = "board_signer_key"   // the note signer key (secret) that signs the board's checkpoints
	metaBoardVerifier = "board_verifier_key" // its public verifier key
)

// BoardKeys returns the election's board signing key and its public verifier key, in the signed-note
// format (golang.org/x/mod/sumdb/note), made the first time they are asked for and kept in the ledger. The
// key's name is the board's origin: "election-board/" and 16 random hex digits.
func (s *Store) BoardKeys(ctx context.Context) (signer, verifier string, err error) {
	err = s.inTx(ctx, func(tx *wtx) error {
		sk, ok, err := s.getMeta(ctx, tx, metaBoardSigner)
		if err != nil {
			return err
		}
		if !ok {
			skey, vkey, err := newBoardKey()
			if err != nil {
				return err
			}
			// Two processes may race here: the first key written wins, and both read it back.
			for _, kv := range [][2]string{{metaBoardSigner, skey}, {metaBoardVerifier, vkey}} {
				if _, err := tx.ExecContext(ctx, s.q.InsertMetaIfAbsent, kv[0], kv[1]); err != nil {
					return fmt.Errorf("ledger: write %s: %w", kv[0], err)
				}
			}
			if sk, _, err = s.getMeta(ctx, tx, metaBoardSigner); err != nil {
				return err
			}
		}
		signer = sk
		verifier, _, err = s.getMeta(ctx, tx, metaBoardVerifier)
		return err
	})
	return signer, verifier, err
}

// newBoardKey makes a board signing key and its verifier key.
func newBoardKey() (skey, vkey string, err error) {
	b := make([]byte, 8)
	rand.Read(b)
	skey, vkey, err = note.GenerateKey(rand.Reader, "election-board/"+hex.EncodeToString(b))
	if err != nil {
		return "", "", fmt.Errorf("ledger: make the board's key: %w", err)
	}
	return skey, vkey, nil
}

// BoardVerifierKey is the board's public verifier key, or "" if the board has none yet.
func (s *Store) BoardVerifierKey(ctx context.Context) (string, error) {
	v, _, err := s.getMeta(ctx, s.r, metaBoardVerifier)
	return v, err
}

// ErrBoardTaken: another process writes this election's board.
var ErrBoardTaken = errors.New("another process writes this election's bulletin board; stop it first (one writer per election)")

// LockBoard makes this process the election's only board writer until unlock is called (or the process
// ends, whatever the way). On PostgreSQL it is a session advisory lock held on a connection of its own;
// on SQLite, whose ledger one process owns at a time (the embedded broker's lock on the data directory),
// a lock on a file beside the ledger.
func (s *Store) LockBoard(ctx context.Context) (unlock func(), err error) {
	return s.d.lockBoard(ctx, s)
}
