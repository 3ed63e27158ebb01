package web

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/election/election/internal/board"
	"github.com/election/election/internal/election"
)

// Board is what the server publishes of the bulletin board: the directory the board writer fills (served
// read-only under /board/), and where the board's key and the count of voters who voted come from.
type Board struct {
	Dir string
	// Info returns the board's origin, its verifier key and how many voters have voted.
	Info func(ctx context.Context) (board.Info, error)
}

// boardInfo caches Info for a few seconds: counting who has voted reads a whole table.
type boardInfo struct {
	mu   sync.Mutex
	at   time.Time
	info board.Info
}

func (s *Server) boardInfo(ctx context.Context) (board.Info, error) {
	b := &s.board
	b.mu.Lock()
	defer b.mu.Unlock()
	if time.Since(b.at) < 5*time.Second {
		return b.info, nil
	}
	info, err := s.cfg.Board.Info(ctx)
	if err != nil {
		return info, err
	}
	info.Checkpoint = "/board/" + board.CheckpointPath
	b.info, b.at = info, time.Now()
	return info, nil
}

func (s *Server) getBoard(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Board == nil {
		writeError(w, http.StatusNotFound, "", "this instance does not serve the bulletin board")
		return
	}
	info, err := s.boardInfo(r.Context())
	if err != nil {
		s.cfg.Logger.Error("board info", "err", err)
		writeError(w, http.StatusServiceUnavailable, "", "the board's details could not be read; try again")
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// getElection is the election's definition, with the board's origin and verifier key.
func (s *Server) getElection(w http.ResponseWriter, r *http.Request) {
	out := struct {
		*election.Election
		Board *board.Info `json:"board,omitempty"`
		// LotCommitment commits to the seed that breaks ties by lot, revealed in the results once the count
		// is final (see the lots package).
		LotCommitment string `json:"lot_commitment,omitempty"`
	}{Election: s.cfg.Index.Election, LotCommitment: s.cfg.LotCommitment}
	if s.cfg.Board != nil {
		if info, err := s.boardInfo(r.Context()); err == nil {
			out.Board = &board.Info{Origin: info.Origin, VerifierKey: info.VerifierKey, Checkpoint: info.Checkpoint}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// boardFile serves the board's checkpoint and tiles (tlog-tiles) as far as the published checkpoint
// covers them, nothing else of its directory. Full tiles and bundles never change; partial ones and the
// checkpoint do.
func (s *Server) boardFile(w http.ResponseWriter, r *http.Request) {
	p := r.PathValue("path")
	if s.cfg.Board == nil {
		http.NotFound(w, r)
		return
	}
	data, err := board.ReadPublic(r.Context(), s.cfg.Board.Dir, p)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.cfg.Logger.Warn("reading the board", "path", p, "err", err)
		}
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	switch {
	case p == board.CheckpointPath:
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
	case strings.Contains(p, ".p/"):
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Cache-Control", "no-cache")
	default:
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// getReceipt answers "is my ballot on the board?" with the entry and its inclusion proof.
func (s *Server) getReceipt(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Board == nil {
		writeError(w, http.StatusNotFound, "", "this instance does not serve the bulletin board")
		return
	}
	code := r.PathValue("code")
	if election.CheckID(code) != nil {
		writeError(w, http.StatusBadRequest, "code", "a tracking code is letters, digits and '-' (the code you were given when you voted)")
		return
	}
	// A lookup takes a place or is refused at once: a made-up code costs as much as a real one.
	select {
	case s.lookups <- struct{}{}:
		defer func() { <-s.lookups }()
	default:
		s.cfg.Metrics.Refused.WithLabelValues("receipt", "busy").Inc()
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "", "too many receipts are being looked up; try again in a moment")
		return
	}
	rec, err := board.MakeReceipt(r.Context(), s.cfg.Board.Dir, code)
	switch {
	case errors.Is(err, board.ErrNotOnBoard):
		writeJSON(w, http.StatusNotFound, map[string]any{"code": code, "on_board": false, "status": "not on the board",
			"error": err.Error()})
	case err != nil:
		s.cfg.Logger.Error("receipt", "err", err)
		writeError(w, http.StatusServiceUnavailable, "", "the board could not be read; try again")
	default:
		writeJSON(w, http.StatusOK, rec)
	}
}
