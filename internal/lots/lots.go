// Package lots breaks ties by lot, as an election's tie rule ("lots", election.TieRule) says: when a race
// ends with two or more candidates level at the top, one of them is drawn, in a way anyone can check
// from the public endpoints.
//
// How: at registration the ledger makes a secret seed of 32 random bytes, and from then on the API
// publishes its commitment, SHA-256(seed), in /api/v1/election (and `election verify --state` keeps it, so
// a later change is caught). Once the count is final (the polls have closed and every ballot in the
// ledger is counted) the results reveal the seed, and a tied race's lot is
//
//	HMAC-SHA256(seed, "election lots v1\n" + constituency id + "\n" + level candidate ids, sorted, "\n"-joined)
//
// whose first 8 bytes, read as a big-endian unsigned integer modulo the number of level candidates, pick
// the winner among them in sorted order. `election verify` checks that the seed matches the commitment,
// recounts every race from the bulletin board, and redraws every tie.
//
// Why nobody can steer it: the seed is fixed (committed) before the first ballot, and the draw depends on
// nothing else but which candidates are level, which the ballots decide. The operator, who holds the
// seed, could work out beforehand which of two level candidates would win a tie, but can change neither
// the seed nor the ballots (the bulletin board and receipts catch that). A stronger ceremony would draw
// from public randomness published after the polls close; this one needs no outside service.
//
// What it must never do: reveal the seed before the count is final (a seed known early would tell
// everyone how each possible tie falls, and invite tactical voting), or decide a race that is not level.
package lots

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"
)

// SeedBytes is the length of a seed.
const SeedBytes = 32

// Commitment is the published commitment to a seed: its SHA-256, hex.
func Commitment(seed []byte) string {
	h := sha256.Sum256(seed)
	return hex.EncodeToString(h[:])
}

// Matches reports whether a revealed seed (hex) is the one committed to; it returns the seed's bytes.
func Matches(seedHex, commitment string) ([]byte, bool) {
	seed, err := hex.DecodeString(seedHex)
	if err != nil || len(seed) != SeedBytes {
		return nil, false
	}
	return seed, Commitment(seed) == commitment
}

// Draw picks the winner among the level candidates of one race. The order of level does not matter.
func Draw(seed []byte, constituency string, level []string) string {
	if len(level) == 0 {
		return ""
	}
	sorted := slices.Clone(level)
	slices.Sort(sorted)
	mac := hmac.New(sha256.New, seed)
	mac.Write([]byte("election lots v1\n" + constituency + "\n" + strings.Join(sorted, "\n")))
	n := binary.BigEndian.Uint64(mac.Sum(nil))
	return sorted[n%uint64(len(sorted))]
}
