package cli

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Version describes this build from what the Go toolchain recorded in the binary: the module version
// ("(devel)" for a build from a checkout), the commit and its time, whether the tree had uncommitted
// changes, and the Go version. `go run` and tests record no commit; the line says so rather than guess.
func Version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "election (no build information)"
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	parts := []string{"election", info.Main.Version}
	switch rev := settings["vcs.revision"]; {
	case rev == "":
		parts = append(parts, "commit unknown")
	default:
		c := "commit " + rev[:min(12, len(rev))]
		if t := settings["vcs.time"]; t != "" {
			c += " (" + t + ")"
		}
		if settings["vcs.modified"] == "true" {
			c += " with uncommitted changes"
		}
		parts = append(parts, c)
	}
	return fmt.Sprintf("%s, %s", strings.Join(parts[:2], " "), strings.Join(append(parts[2:], info.GoVersion), ", "))
}
