#!/usr/bin/env bash
# The scale curve: the main command, `election up --preset national --voters N --rate 0 --exit-when-done`
# (embedded broker and SQLite, board on), run once for each size in SIZES, each in a fresh data directory,
# then `election audit` on what it left, then `election verify` against `election serve` on it (VERIFY=0
# skips that). One Markdown row per size: wall time, registration, casting and counting rates, peak RSS,
# what the run read from the disk (GNU time's file system inputs: pages the OS's cache did not hold),
# disk per part and per voter, the audit's verdict, and the verifier's with its time and peak RSS. The
# writer's copy of the register (internal/ledger/registercopy.go) is unlinked as soon as it is made, so
# du never sees it: its size comes from the run's log, and "total" is the data directory after the run.
#
#   scripts/scale.sh                      # SIZES="1000000 10000000": about 4-9 min with audit and verify
#   SIZES="1000000 10000000" scripts/scale.sh
#   SIZES=100000000 scripts/scale.sh      # the 100M run: 29-60 min (the machine decides), then about 8 of
#                                         # audit and 8 of verify; 27 GB of disk
#
# Each size's `election up` is also profiled (STAGES=0 skips it), and a second table follows the rows: the
# CPU each stage took (the services' pprof labels, lifecycle.InStage), in µs a ballot (registration in µs
# a voter). The profile costs no time that shows (1M voters: 14.48 s profiled, 14.39 s not).
#
# WORK (default /tmp/election-scale) holds the data directories; each is removed after its row unless
# KEEP=1. Needs GNU time (/usr/bin/time, Debian's "time" package) and curl. ELECTION_CPU_PROFILE,
# ELECTION_HEAP_PROFILE and ELECTION_TRACE (with ELECTION_TRACE_AFTER), if set, profile or trace
# `election up` alone: the audit, serve and verify after it run without them, so that they do not
# overwrite the run's file with their own (each size writes the same file: one size at a time).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"1000000 10000000"}
STAGES=${STAGES:-1}
WORK=${WORK:-/tmp/election-scale}
mkdir -p "$WORK"
[ -x /usr/bin/time ] || { echo "scale.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
go build -o "$WORK/election" ./cmd/election
bin="$WORK/election"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
kb() { du -sk "$@" 2>/dev/null | awk '{s+=$1} END {print s+0}'; }
mb() { awk -v k="$1" 'BEGIN {printf "%.0f MB", k*1024/1e6}'; } # KiB -> MB
# secs TIMESTAMP: seconds since the epoch (with fractions) of a log line's time=... value.
secs() { date -d "$1" +%s.%N; }
logtime() { grep -m1 "$2" "$1" | sed -E 's/^time=([^ ]+) .*/\1/'; }
# unprofiled CMD...: CMD without the profiling variables (they are for `election up` alone). noprof is
# the same as a command prefix, for what is put in the background: a function put there runs in a
# subshell, so $! would name the subshell, not the command.
noprof=(env -u ELECTION_CPU_PROFILE -u ELECTION_HEAP_PROFILE -u ELECTION_TRACE -u ELECTION_TRACE_AFTER)
unprofiled() { "${noprof[@]}" "$@"; }
# stages VOTERS BALLOTS PROFILE: a row of the stage table, from `go tool pprof -tags` (lines such as
# "  1.52mins (41.2%): caster" under "stage: Total X of Y").
stages() {
  go tool pprof -tags "$bin" "$3" 2>/dev/null | awk -v n="$1" -v b="$2" -f scripts/stages.awk
}

rm -f "$WORK/stages.md"
echo "| voters | wall | registration | cast (ballots/s) | counted (ballots/s) | peak RSS | read from disk | ledger | votes_topic | voters_topic | tally state | other topics | board | total | per voter | register copy (while casting) | audit | verify |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for n in $SIZES; do
  dir="$WORK/data-$n"
  rm -rf "$dir"
  log="$WORK/up-$n.log"
  prof=()
  [ "$STAGES" = 1 ] && prof=(ELECTION_CPU_PROFILE="$WORK/cpu-$n.out")
  env "${prof[@]}" /usr/bin/time -v "$bin" up --preset national --voters "$n" --rate 0 --exit-when-done --data "$dir" \
    --http "127.0.0.1:$(free_port)" --kafka-listen "127.0.0.1:$(free_port)" >"$log" 2>&1
  wall=$(grep 'Elapsed (wall clock)' "$log" | awk '{print $NF}')
  rss=$(grep 'Maximum resident set size' "$log" | awk '{printf "%d MiB", $NF/1024}')
  # File system inputs are 512-byte blocks read from the disk, not reads the page cache answered.
  readin=$(grep 'File system inputs' "$log" | awk '{print int($NF / 2)}') # KiB, as du gives
  reg=$(grep -m1 'registered synthetic voters' "$log" | sed -E 's/.*took=([^ ]+).*/\1/')
  ballots=$(grep -m1 'simulation complete' "$log" | sed -E 's/.* cast=([0-9]+).*/\1/')
  t0=$(secs "$(logtime "$log" 'msg=simulating')")
  t1=$(secs "$(logtime "$log" 'simulation complete')")
  t2=$(secs "$(logtime "$log" 'simulation finished and counted')")
  cast=$(awk -v b="$ballots" -v a="$t0" -v z="$t1" 'BEGIN {printf "%.1fk", b/(z-a)/1000}')
  counted=$(awk -v b="$ballots" -v a="$t0" -v z="$t2" 'BEGIN {printf "%.1fk", b/(z-a)/1000}')
  p="$dir/kafka/partitions"
  ledger=$(kb "$dir"/ledger.db*)
  votes=$(kb "$p"/votes_topic-*)
  voters=$(kb "$p"/voters_topic-*)
  state=$(kb "$p"/election.tally.state-*)
  board=$(kb "$dir/board")
  total=$(kb "$dir")
  other=$((total - ledger - votes - voters - state - board))
  # The writer's copy of the register: its size when it was last brought up to date (bytes=...).
  copy=$(grep 'copy of the register is up to date' "$log" | tail -1 | sed -E 's/.* bytes=([0-9]+).*/\1/' || true)
  copy=$([ -n "$copy" ] && awk -v b="$copy" 'BEGIN {printf "%.0f MB", b/1e6}' || echo none)
  alog="$WORK/audit-$n.log"
  unprofiled "$bin" audit --data "$dir" >"$alog" 2>&1 || true
  audit=$(grep -Eo 'discrepancy [0-9]+' "$alog" | tail -1 || true)
  verify=skipped
  if [ "${VERIFY:-1}" = 1 ]; then
    # The verifier reads only the public HTTP endpoints: serve the data, wait until it is ready (at
    # most two minutes, as scale-pg.sh waits), verify, stop serving.
    port=$(free_port)
    # With noprof, not unprofiled, so that $! is the server and the kill below stops it.
    "${noprof[@]}" "$bin" serve --data "$dir" --http "127.0.0.1:$port" \
      --kafka-listen "127.0.0.1:$(free_port)" >"$WORK/serve-$n.log" 2>&1 &
    serve=$!
    for _ in $(seq 1200); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
    vlog="$WORK/verify-$n.log"
    unprofiled /usr/bin/time -f 'elapsed %e s, peak RSS %M KiB' "$bin" verify --from "http://127.0.0.1:$port" >"$vlog" 2>&1 || true
    kill "$serve" 2>/dev/null || true
    wait "$serve" 2>/dev/null || true
    verdict=$(grep -Eo 'discrepancy [0-9]+' "$vlog" | tail -1 || true)
    took=$(grep -E '^elapsed ' "$vlog" | awk '{printf "%.0f s, %d MiB", $2, $6/1024}' || true)
    verify="${verdict:-failed: see $vlog} ($took)"
  fi
  echo "| $n | $wall | $reg | $cast | $counted | $rss | $(mb "$readin") | $(mb "$ledger") | $(mb "$votes") | $(mb "$voters") | $(mb "$state") | $(mb "$other") | $(mb "$board") | $(mb "$total") | $(awk -v k="$total" -v n="$n" 'BEGIN {printf "%.0f B", k*1024/n}') | $copy | ${audit:-failed: see $alog} | $verify |"
  [ "$STAGES" = 1 ] && stages "$n" "$ballots" "$WORK/cpu-$n.out" >>"$WORK/stages.md"
  [ "${KEEP:-0}" = 1 ] || rm -rf "$dir"
done
if [ "$STAGES" = 1 ]; then
  echo
  echo "CPU a ballot by stage, µs (registration: µs a voter; other: samples with no stage, mostly the collector's background work):"
  echo
  echo "| voters | register (a voter) | simulator | caster | relay | broker | tally | board writer | results view | results publisher | web server | other | all but register |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  cat "$WORK/stages.md"
fi
