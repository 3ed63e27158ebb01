#!/usr/bin/env bash
# What the bulletin board costs the embedded pipeline: PAIRS pairs (default 10) of BenchmarkPipeline's
# board and no-board runs, each run a process of its own, the order alternating from pair to pair (the
# first run of a pair is not always the same variant). One line per pair, then the median of the pairs'
# ratios. A single pair says little on this machine: runs of the same code vary by 10-25%.
#
#   scripts/board-cost.sh                                 # 300,000 voters, 10 pairs
#   ELECTION_BENCH_VOTERS=1000000 PAIRS=6 scripts/board-cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-10}
bin=$(mktemp -d)/pipeline.test
go test -c -o "$bin" ./internal/pipeline/
cd internal/pipeline
run() { # run PATTERN: the benchmark's line
  "$bin" -test.run '^$' -test.bench "BenchmarkPipeline/sqlite/$1" -test.benchtime 1x 2>&1 | grep '^Benchmark' ||
    { echo "board-cost.sh: the benchmark failed" >&2; exit 1; }
}
metric() { awk -v m="$2" '{for (i = 2; i < NF; i++) if ($(i+1) == m) print $i}' <<<"$1"; }
echo "| pair | board on: ballots/s | cast → on the board p50 / p99 | board off: ballots/s | on / off |"
echo "|---|---|---|---|---|"
ratios=()
for i in $(seq "$PAIRS"); do
  if ((i % 2)); then order="on off"; else order="off on"; fi
  for v in $order; do
    if [ "$v" = on ]; then on=$(run '^board$'); else off=$(run 'no-board'); fi
  done
  r=$(awk -v a="$(metric "$on" ballots/s)" -v b="$(metric "$off" ballots/s)" 'BEGIN {printf "%.3f", a/b}')
  ratios+=("$r")
  echo "| $i ($order) | $(metric "$on" ballots/s) | $(metric "$on" board-p50-ms) / $(metric "$on" board-p99-ms) ms | $(metric "$off" ballots/s) | $r |"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{r[NR] = $1} END {m = NR % 2 ? r[(NR+1)/2] : (r[NR/2] + r[NR/2+1]) / 2;
  printf "median on / off: %.3f (the board costs %.1f%%); range %.3f to %.3f\n", m, (1-m)*100, r[1], r[NR]}'
rm -rf "$(dirname "$bin")"
