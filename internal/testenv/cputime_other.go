//go:build !unix

package testenv

import "time"

// CPUTime is not measured here: benchmarks report no CPU figures.
func CPUTime() time.Duration { return 0 }
