package relay

import "time"

// SetAfterForTest replaces time.After for the relay's pacing waits; call it before Start.
func (r *Relay) SetAfterForTest(after func(time.Duration) <-chan time.Time) { r.after = after }
