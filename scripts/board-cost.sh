#!/usr/bin/env bash
# What the bulletin board costs the embedded pipeline: PAIRS pairs (default 10) of BenchmarkPipeline's
# board and no-board runs, each run a process of its own, the order alternating from pair to pair (the
# first run of a pair is not always the same variant). One line per pair, then the median of the pairs'
# ratios: of ballots/s (until the board's checkpoint holds the last ballot, and the results count it),
# and of cast/s (casting alone, until the last cast returns), which leaves out the wait at the end for
# the board's last round and checkpoint. Beside them, the process's CPU time a ballot in each run (user and
# system, until the end) and the cores it kept busy: when the cores are near 2, the run is bound by CPU,
# and the board costs throughput in proportion to the CPU it adds a ballot. A single pair says little on
# this machine: runs of the same code vary by 10-25%.
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
echo "| pair | board on: ballots/s | cast → on the board p50 / p99 | board off: ballots/s | on / off | casting alone: on / off | CPU a ballot, on / off (cores) |"
echo "|---|---|---|---|---|---|---|"
ratios=() castratios=() cpuratios=()
for i in $(seq "$PAIRS"); do
  if ((i % 2)); then order="on off"; else order="off on"; fi
  for v in $order; do
    if [ "$v" = on ]; then on=$(run '^board$'); else off=$(run 'no-board'); fi
  done
  r=$(awk -v a="$(metric "$on" ballots/s)" -v b="$(metric "$off" ballots/s)" 'BEGIN {printf "%.3f", a/b}')
  c=$(awk -v a="$(metric "$on" cast/s)" -v b="$(metric "$off" cast/s)" 'BEGIN {printf "%.3f", a/b}')
  u=$(awk -v a="$(metric "$on" cpu-µs/ballot)" -v b="$(metric "$off" cpu-µs/ballot)" 'BEGIN {printf "%.3f", b/a}')
  ratios+=("$r") castratios+=("$c") cpuratios+=("$u")
  echo "| $i ($order) | $(metric "$on" ballots/s) | $(metric "$on" board-p50-ms) / $(metric "$on" board-p99-ms) ms | $(metric "$off" ballots/s) | $r | $c | $(metric "$on" cpu-µs/ballot) / $(metric "$off" cpu-µs/ballot) µs ($(metric "$on" cores) / $(metric "$off" cores)) |"
done
median() { sort -n | awk -v what="$1" '{r[NR] = $1} END {m = NR % 2 ? r[(NR+1)/2] : (r[NR/2] + r[NR/2+1]) / 2;
  printf "median on / off, %s: %.3f (the board costs %.1f%%); range %.3f to %.3f\n", what, m, (1-m)*100, r[1], r[NR]}'; }
printf '%s\n' "${ratios[@]}" | median "until the board holds the last ballot"
printf '%s\n' "${castratios[@]}" | median "casting alone (cast/s: until the last cast returns)"
printf '%s\n' "${cpuratios[@]}" | median "CPU a ballot, off / on (what throughput would be if it followed CPU alone)"
rm -rf "$(dirname "$bin")"
