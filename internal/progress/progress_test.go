package progress

import "testing"

func TestETA(t *testing.T) {
	for _, c := range []struct {
		rest int64
		rate float64
		want string
	}{
		{0, 100, ""},
		{100, 0, ""},
		{100, 100, "1s"},
		{150, 100, "2s"}, // rounded up: never promise less than is left
		{9_000_000, 80_000, "1m53s"},
	} {
		if got := eta(c.rest, c.rate); got != c.want {
			t.Errorf("eta(%d, %v) = %q, want %q", c.rest, c.rate, got, c.want)
		}
	}
}
