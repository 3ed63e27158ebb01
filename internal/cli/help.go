package cli

import (
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/election/election/internal/election"
)

// printHelp writes a command's flags: each with its environment variable, its meaning and its default.
func (f *flags) printHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s [flags]\n\n", f.fs.Name())
	f.fs.VisitAll(func(fl *flag.Flag) {
		kind, usage := flag.UnquoteUsage(fl)
		line := "  --" + fl.Name
		if kind != "" {
			line += " " + kind
		}
		fmt.Fprintf(w, "%s   (%s)\n      %s", line, envName(fl.Name), usage)
		if fl.DefValue != "" && fl.DefValue != "0" && fl.DefValue != "false" {
			fmt.Fprintf(w, " (default %s)", fl.DefValue)
		}
		fmt.Fprintln(w)
	})
}

func envName(flagName string) string {
	return "ELECTION_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseError turns the flag package's messages into one line that says what was wrong and what to do.
func (f *flags) parseError(err error) error {
	help := fmt.Sprintf(`"%s -h" lists its flags`, f.fs.Name())
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		name = strings.TrimLeft(name, "-")
		if near := f.nearest(name); near != "" {
			return fmt.Errorf("unknown flag --%s: did you mean --%s? (%s)", name, near, help)
		}
		return fmt.Errorf("unknown flag --%s (%s)", name, help)
	}
	if m := invalidValue.FindStringSubmatch(msg); m != nil {
		reason := m[3]
		if fl := f.fs.Lookup(m[2]); fl != nil && reason == "parse error" {
			switch kind, _ := flag.UnquoteUsage(fl); kind {
			case "int", "uint":
				reason = "not a whole number"
			case "float":
				reason = "not a number"
			case "duration":
				reason = "not a duration (say 30s, 5m or 1h)"
			case "":
				reason = "not true or false"
			}
		}
		return fmt.Errorf("--%s %s: %s (%s)", m[2], m[1], reason, help)
	}
	return fmt.Errorf("%s (%s)", msg, help)
}

// invalidValue is the flag package's message for a value it could not parse.
var invalidValue = regexp.MustCompile(`^invalid (?:boolean )?value (".*") for (?:flag )?-(\S+): (.*)$`)

// nearest is the command's flag closest to a mistyped name (at most two edits away, or one that contains
// it), or "".
func (f *flags) nearest(name string) string {
	best, bestD := "", 3
	f.fs.VisitAll(func(fl *flag.Flag) {
		d := editDistance(name, fl.Name)
		if len(name) >= 3 && strings.Contains(fl.Name, name) {
			d = min(d, 2)
		}
		if d < bestD {
			best, bestD = fl.Name, d
		}
	})
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// argumentError explains a word the command line did not expect: commands take flags only.
func (f *flags) argumentError(arg string) error {
	if _, err := election.Preset(arg); err == nil || strings.HasSuffix(arg, ".json") {
		if f.fs.Lookup("preset") != nil {
			return fmt.Errorf("unexpected argument %q: did you mean --preset %s?", arg, arg)
		}
	}
	return fmt.Errorf("unexpected argument %q: %s takes flags only (\"%s -h\" lists them)", arg, f.fs.Name(), f.fs.Name())
}
