//go:build !unix

package pipeline_test

import "time"

// cpuTime is not measured here: the benchmark reports no CPU figures.
func cpuTime() time.Duration { return 0 }
