package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/election/election/internal/ledger"
)

// ErrBadRequest: the API refused the request itself (400, 415): trying it again would not help.
var ErrBadRequest = errors.New("the election API refused the request as malformed")

// HTTPCaster casts through an election API's POST /api/v1/ballots, as a real client does: through one
// API instance, or in turn through several (each its own casting process at scale).
type HTTPCaster struct {
	urls   []string
	next   atomic.Uint64
	client *http.Client
}

// NewHTTPCaster returns a caster for the APIs at bases (e.g. http://127.0.0.1:8080), with conns casts in
// flight in all, spread over the APIs in turn: at most conns/len(bases) connections (rounded up) to each.
func NewHTTPCaster(bases []string, conns int) *HTTPCaster {
	per := (conns + len(bases) - 1) / max(len(bases), 1)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Every connection in flight is kept for the next cast: the default keeps 100 idle in all, so with
	// more workers than that each cast past the hundredth opened a connection and closed it, and the
	// server, still counting the closed ones for a moment, refused some new ones as over its limit.
	tr.MaxIdleConnsPerHost = per
	tr.MaxIdleConns = per * len(bases)
	// And no API gets more than its share: casts go to the APIs in turn, but which of them are in
	// flight at a moment is not even, and an API refuses connections past its limit for one client (256
	// by default, the simulator's share of each). Without this cap, 512 casts in flight to two APIs had
	// 148,603 connections refused in six minutes (each cast retried; docs/measured.md), each refusal
	// arriving on a connection the client took for idle; with it, none, and 5 in a run of four APIs (a
	// connection the client has closed, still counted for a moment). A cast beyond its API's share
	// waits for a connection.
	tr.MaxConnsPerHost = per
	h := &HTTPCaster{client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	for _, b := range bases {
		h.urls = append(h.urls, strings.TrimSuffix(b, "/")+"/api/v1/ballots")
	}
	return h
}

// Cast posts one ballot, to the APIs in turn, and maps the API's refusals back to the ledger's errors.
func (h *HTTPCaster) Cast(ctx context.Context, r ledger.CastRequest) (ledger.Receipt, error) {
	body, _ := json.Marshal(map[string]string{"voter_id": r.VoterID, "credential": r.Credential, "candidate_id": r.CandidateID})
	url := h.urls[int(h.next.Add(1)%uint64(len(h.urls)))]
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return ledger.Receipt{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return ledger.Receipt{}, fmt.Errorf("sim: POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch resp.StatusCode {
	case http.StatusCreated:
		var rec ledger.Receipt
		if err := json.Unmarshal(data, &rec); err != nil {
			return ledger.Receipt{}, fmt.Errorf("sim: POST %s: bad receipt: %w", url, err)
		}
		return rec, nil
	case http.StatusConflict:
		return ledger.Receipt{}, ledger.ErrAlreadyVoted
	case http.StatusUnauthorized:
		return ledger.Receipt{}, ledger.ErrInvalidCredential
	case http.StatusForbidden:
		return ledger.Receipt{}, ledger.ErrPollsClosed
	case http.StatusUnprocessableEntity:
		return ledger.Receipt{}, ledger.ErrNotOnBallot
	case http.StatusBadRequest, http.StatusUnsupportedMediaType:
		return ledger.Receipt{}, fmt.Errorf("%w: %s: %s", ErrBadRequest, resp.Status, bytes.TrimSpace(data))
	}
	return ledger.Receipt{}, fmt.Errorf("sim: POST %s: %s: %s", url, resp.Status, bytes.TrimSpace(data))
}
