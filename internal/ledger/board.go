package ledger

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/mod/sumdb/note"

	"github.com/election/election/internal/ballot"
)

// Meta keys of the bulletin board (see the board package).
const (
	metaBoardSigner   = "board_signer_key"   // the note signer key (secret) that signs the board's checkpoints
	metaBoardVerifier = "board_verifier_key" // its public verifier key
	metaBoardSize     = "board_size"         // entries on the board when the writer last recorded its progress
	metaBoardPosition = "board_position"     // the ledger position of the ballot of the last of those entries
)

// BoardKeys returns the election's board signing key and its public verifier key, in the signed-note
// format (golang.org/x/mod/sumdb/note), made the first time they are asked for and kept in the ledger. The
// key's name is the board's origin: "election-board/" and 16 random hex digits.
func (s *Store) BoardKeys(ctx context.Context) (signer, verifier string, err error) {
	err = s.inTx(ctx, func(tx *sql.Tx) error {
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

// BoardProgress is how far the board writer had got when it last recorded its progress: the board's
// size then, and the ledger position of the ballot of its last entry.
func (s *Store) BoardProgress(ctx context.Context) (uint64, ballot.Position, error) {
	size, ok, err := s.getMeta(ctx, s.r, metaBoardSize)
	if err != nil || !ok {
		return 0, ballot.Position{}, err
	}
	n, err := strconv.ParseUint(size, 10, 64)
	if err != nil {
		return 0, ballot.Position{}, fmt.Errorf("ledger: %s: %w", metaBoardSize, err)
	}
	pos, _, err := s.getMeta(ctx, s.r, metaBoardPosition)
	if err != nil {
		return 0, ballot.Position{}, err
	}
	p, err := ballot.ParsePosition(pos)
	if err != nil {
		return 0, ballot.Position{}, fmt.Errorf("ledger: %s: %w", metaBoardPosition, err)
	}
	return n, p, nil
}

// SetBoardProgress records that the board holds size entries, the last for the ballot at pos.
func (s *Store) SetBoardProgress(ctx context.Context, size uint64, pos ballot.Position) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.putMeta(ctx, tx, metaBoardSize, strconv.FormatUint(size, 10)); err != nil {
			return err
		}
		return s.putMeta(ctx, tx, metaBoardPosition, pos.String())
	})
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
