#!/usr/bin/env bash
# What the bulletin board costs the embedded pipeline: PAIRS pairs (default 10) of BenchmarkPipeline's
# board and no-board runs, each run a process of its own, the order alternating from pair to pair (the
# first run of a pair is not always the same variant). One line per pair, then the median of the pairs'
# ratios: of ballots/s (until the board's checkpoint holds the last ballot, and the results count it),
# and of cast/s (casting alone, until the last cast returns), which leaves out the wait at the end for
# the board's last round and checkpoint. Beside them, the process's CPU time a ballot in each run (user and
# system, until the end) and the cores it kept busy: when the cores are near 2, the run is bound by CPU,
# and the board costs throughput in proportion to the CPU it adds a ballot. A single pair says little on
# this machine: runs of the same code vary by 10-25%. Each median comes with the interval that 9 in 10 of
# 10,000 resamples of the pairs (a bootstrap) put it in.
#
# TOGETHER=1 runs the two of a pair at the same time instead, sharing the two cores, so that both see the
# same minutes of this machine, whose speed moves by 10-25% from one minute to the next. The pair's ratio
# of CPU a ballot is then the board's cost in CPU without that noise. Their throughputs are not compared:
# the two share the cores, and the one that ends first leaves the other both. (The board-on run is the
# one left alone at the end, with both cores, which if anything adds to its CPU a ballot.)
#
#   scripts/board-cost.sh                                 # 300,000 voters, 10 pairs
#   ELECTION_BENCH_VOTERS=1000000 PAIRS=6 scripts/board-cost.sh
#   ELECTION_BENCH_VOTERS=1000000 PAIRS=20 TOGETHER=1 scripts/board-cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-10}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT # the test binary and the runs' outputs, however the script ends
bin=$tmp/pipeline.test
go test -c -o "$bin" ./internal/pipeline/
cd internal/pipeline
run() { # run PATTERN: the benchmark's line
  "$bin" -test.run '^$' -test.bench "BenchmarkPipeline/sqlite/$1" -test.benchtime 1x 2>&1 | grep '^Benchmark' ||
    { echo "board-cost.sh: the benchmark failed" >&2; exit 1; }
}
metric() { awk -v m="$2" '{for (i = 2; i < NF; i++) if ($(i+1) == m) print $i}' <<<"$1"; }
summary() { # summary WHAT: the median of the ratios on stdin (on / off: under 1 when the board costs)
  python3 -c '
import random, statistics, sys
r = [float(x) for x in sys.stdin.read().split()]
rng = random.Random(1)
meds = sorted(statistics.median(rng.choices(r, k=len(r))) for _ in range(10000))
m, lo, hi = statistics.median(r), meds[500], meds[9499]
print(f"median on / off, {sys.argv[1]}: {m:.3f} (the board costs {(1-m)*100:.1f}%; bootstrap 90%: "
      f"{(1-hi)*100:.1f}% to {(1-lo)*100:.1f}%); range {min(r):.3f} to {max(r):.3f}")' "$1"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a/b}'; }
if [ -n "${TOGETHER:-}" ]; then
  echo "| pair | board on: CPU a ballot (cores) | board off: CPU a ballot (cores) | CPU a ballot, off / on |"
  echo "|---|---|---|---|"
  cpuratios=()
  for i in $(seq "$PAIRS"); do
    run '^board$' >"$tmp/on" & a=$!
    run 'no-board' >"$tmp/off" & b=$!
    if ! wait "$a"; then wait "$b" || true; exit 1; fi
    wait "$b"
    on=$(cat "$tmp/on") off=$(cat "$tmp/off")
    u=$(ratio "$(metric "$off" cpu-µs/ballot)" "$(metric "$on" cpu-µs/ballot)")
    cpuratios+=("$u")
    echo "| $i | $(metric "$on" cpu-µs/ballot) µs ($(metric "$on" cores)) | $(metric "$off" cpu-µs/ballot) µs ($(metric "$off" cores)) | $u |"
  done
  printf '%s\n' "${cpuratios[@]}" | summary "CPU a ballot, off / on, the two at the same time"
  exit 0
fi
echo "| pair | board on: ballots/s | cast → on the board p50 / p99 | board off: ballots/s | on / off | casting alone: on / off | CPU a ballot, on / off (cores) |"
echo "|---|---|---|---|---|---|---|"
ratios=() castratios=() cpuratios=() coreratios=()
for i in $(seq "$PAIRS"); do
  if ((i % 2)); then order="on off"; else order="off on"; fi
  for v in $order; do
    if [ "$v" = on ]; then on=$(run '^board$'); else off=$(run 'no-board'); fi
  done
  r=$(ratio "$(metric "$on" ballots/s)" "$(metric "$off" ballots/s)")
  c=$(ratio "$(metric "$on" cast/s)" "$(metric "$off" cast/s)")
  u=$(ratio "$(metric "$off" cpu-µs/ballot)" "$(metric "$on" cpu-µs/ballot)")
  k=$(ratio "$(metric "$on" cores)" "$(metric "$off" cores)")
  ratios+=("$r") castratios+=("$c") cpuratios+=("$u") coreratios+=("$k")
  echo "| $i ($order) | $(metric "$on" ballots/s) | $(metric "$on" board-p50-ms) / $(metric "$on" board-p99-ms) ms | $(metric "$off" ballots/s) | $r | $c | $(metric "$on" cpu-µs/ballot) / $(metric "$off" cpu-µs/ballot) µs ($(metric "$on" cores) / $(metric "$off" cores)) |"
done
printf '%s\n' "${ratios[@]}" | summary "until the board holds the last ballot"
printf '%s\n' "${castratios[@]}" | summary "casting alone (cast/s: until the last cast returns)"
printf '%s\n' "${cpuratios[@]}" | summary "CPU a ballot, off / on (what throughput would be if it followed CPU alone)"
printf '%s\n' "${coreratios[@]}" | summary "cores kept busy (ballots/s is cores ÷ CPU a ballot: the first ratio is the two above multiplied)"
