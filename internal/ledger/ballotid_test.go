package ledger

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// A ballot id's text is the UUID's usual form, byte for byte as the formatting it replaces gave.
func TestFormatBallotID(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 10_000 {
		b := make([]byte, 16)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		want := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
		if got := formatBallotID(b); got != want {
			t.Fatalf("formatBallotID(%x) = %s, want %s", b, got, want)
		}
	}
	raw, text := newBallotID()
	if formatBallotID(raw) != text || text[14] != '4' {
		t.Fatalf("newBallotID: %x and %s", raw, text)
	}
}

// A stored minute reads back as the minute it was cast in, in UTC.
func TestMinuteRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 17, 42, 5, time.FixedZone("IST", 5*3600+1800))
	if got, want := CastMinute(minuteTime(minuteOf(at))), "2026-11-24 04:47:00"; got != want {
		t.Fatalf("minute of %v: %s, want %s", at, got, want)
	}
}
