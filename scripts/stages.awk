# A row of the stage table (CPU a ballot by stage, µs; registration in µs a voter) from the output of
# `go tool pprof -tags BINARY PROFILE`: lines such as "  1.52mins (41.2%): caster" under
# "stage: Total X of Y". Variables: n, the voters; b, the ballots. "other" is the samples with no stage.
# Used by scale.sh and ab.sh.
function secs(v) {
  if (v ~ /mins$/) return v * 60; if (v ~ /hrs$/) return v * 3600; if (v ~ /ms$/) return v / 1000
  if (v ~ /us$/ || v ~ /µs$/) return v / 1e6; return v + 0
}
$1 == "stage:" && $2 == "Total" { on = 1; all = secs($5); next }
on && /%\): / { v = $1; sub(/^[^:]*\): /, ""); t[$0] = secs(v); labelled += secs(v); next }
{ on = 0 }
END {
  row = "| " n " | " sprintf("%.2f", t["register"] * 1e6 / n)
  m = split("simulator|caster|relay|broker|tally|board writer|results view|results publisher|web server", names, "|")
  for (i = 1; i <= m; i++) { row = row " | " sprintf("%.2f", t[names[i]] * 1e6 / b); rest += t[names[i]] }
  other = all - labelled
  printf "%s | %.2f | %.2f |\n", row, other * 1e6 / b, (rest + other) * 1e6 / b
}
