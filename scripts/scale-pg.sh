#!/usr/bin/env bash
# The roles as separate processes on PostgreSQL + Kafka: one relay, TALLIES tally processes, CASTERS
# `election serve` processes (each casts through its own group commit) and one `election simulate`
# driving them all through the API (--target, in turn). One Markdown row per "CASTERS/TALLIES" pair in
# RUNS, each in a database and topics of its own: registration time, casting and counting rates, the
# peak RSS of each kind of process, what the election takes on disk (its PostgreSQL database, its Kafka
# topics), and the audit's verdict. The bulletin board is not run. TURNOUT (default: the simulator's,
# 0.7) is the share of voters who vote.
#
#   eval "$(scripts/services.sh)"        # PostgreSQL and Kafka (sets ELECTION_TEST_POSTGRES/KAFKA)
#   VOTERS=300000 RUNS="1/1 2/1 4/1 1/2 1/4" scripts/scale-pg.sh
#   VOTERS=100000000 RUNS=1/1 TURNOUT=0.1 scripts/scale-pg.sh   # 100M voters, 10M ballots
#   VOTERS=100000000 RUNS="1/1 2/2 4/4" TURNOUT=0.02 CLONE=1 scripts/scale-pg.sh
#
# CLONE=1 registers the voters once, in a database that stays unopened, and starts each run from a copy
# of it (`createdb --template`, file by file): at 100M voters registration takes about 25 minutes, the
# copy a few. The registration column then says how long the copy took; the registration's own time is
# printed once before the table. The copies share the registration's voters_topic (only registration
# writes it), which the Kafka figure then includes, and its secrets (the simulator's, the record key).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${ELECTION_TEST_POSTGRES:?run eval \"\$(scripts/services.sh)\" first}" "${ELECTION_TEST_KAFKA:?}"
VOTERS=${VOTERS:-300000}
RUNS=${RUNS:-"1/1 2/1 4/1 1/2 1/4"}
WORK=${WORK:-/tmp/election-scale-pg}
TURNOUT=${TURNOUT:-}
KAFKA_DATA=${KAFKA_DATA:-.services/kafka/data} # the broker's log.dirs (scripts/services.sh)
mkdir -p "$WORK"
go build -o "$WORK/election" ./cmd/election
bin="$WORK/election"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v z="$(now)" 'BEGIN {printf "%.1f s", z-a}'; } # seconds since $1, a now
peak() { # the largest VmHWM (peak RSS) among pids, in MiB
  local m=0 k
  for p in "$@"; do k=$(awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0); [ "${k:-0}" -gt "$m" ] && m=$k; done
  echo "$((m / 1024)) MiB"
}

CLONE=${CLONE:-0}
tmpl=""
if [ "$CLONE" = 1 ]; then
  tmpl="scale_$(date +%s)_$$_registered"
  su postgres -c "createdb -O election $tmpl" >/dev/null
  t0=$(now)
  "$bin" register --postgres "${ELECTION_TEST_POSTGRES%/*}/$tmpl?sslmode=disable" --kafka "$ELECTION_TEST_KAFKA" \
    --topic-prefix "$tmpl." --preset national --voters "$VOTERS" >"$WORK/$tmpl.register.log" 2>&1
  echo "registration of $VOTERS voters, once for every run: $(since "$t0")"
  echo
fi
echo "| casters / tallies | voters | registration | ballots | cast (ballots/s) | cast → all counted (ballots/s) | peak RSS: serve / tally / relay / simulate | disk: PostgreSQL / Kafka | audit |"
echo "|---|---|---|---|---|---|---|---|---|"
for run in $RUNS; do
  casters=${run%/*} tallies=${run#*/}
  db="scale_$(date +%s)_$$"
  pg="${ELECTION_TEST_POSTGRES%/*}/$db?sslmode=disable"
  conn=(--postgres "$pg" --kafka "$ELECTION_TEST_KAFKA" --topic-prefix "$db.")
  log="$WORK/$db"
  mkdir -p "$log"
  t0=$(now)
  if [ -n "$tmpl" ]; then
    su postgres -c "createdb -O election --strategy file_copy -T $tmpl $db" >/dev/null
    reg="copied in $(since "$t0")"
  else
    su postgres -c "createdb -O election $db" >/dev/null
    "$bin" register "${conn[@]}" --preset national --voters "$VOTERS" >"$log/register.log" 2>&1
    reg=$(since "$t0")
  fi
  pids=() serves=() tallyp=() urls=()
  "$bin" relay "${conn[@]}" >"$log/relay.log" 2>&1 & relay=$!; pids+=("$relay")
  for i in $(seq "$tallies"); do
    "$bin" tally "${conn[@]}" --instance "tally-$i" >"$log/tally-$i.log" 2>&1 & tallyp+=($!); pids+=($!)
  done
  for i in $(seq "$casters"); do
    port=$(free_port)
    "$bin" serve "${conn[@]}" --http "127.0.0.1:$port" >"$log/serve-$i.log" 2>&1 & serves+=($!); pids+=($!)
    urls+=("http://127.0.0.1:$port")
  done
  for u in "${urls[@]}"; do # each server up before casting starts
    for _ in $(seq 300); do curl -sf "$u/readyz" >/dev/null && break; sleep 0.1; done
  done
  targets=$(IFS=,; echo "${urls[*]}")
  t1=$(now)
  "$bin" simulate "${conn[@]}" --target "$targets" --rate 0 ${TURNOUT:+--turnout "$TURNOUT"} >"$log/simulate.log" 2>&1 & simp=$!
  simrss="" # the simulator keeps serving its status until stopped: its work ends with "simulation complete"
  until grep -q 'simulation complete' "$log/simulate.log"; do
    kill -0 "$simp" 2>/dev/null || { echo "scale-pg.sh: the simulator stopped: see $log/simulate.log" >&2; exit 1; }
    simrss=$(peak "$simp"); sleep 0.1
  done
  t2=$(now)
  simrss=$(peak "$simp"); kill "$simp"; wait "$simp" 2>/dev/null || true
  cast=$(grep -m1 'simulation complete' "$log/simulate.log" | sed -E 's/.* cast=([0-9]+).*/\1/')
  for _ in $(seq 1200); do # until the results count every ballot cast
    counted=$(curl -sf "${urls[0]}/api/v1/results" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ballots_counted"])' || echo 0)
    [ "$counted" -ge "$cast" ] && break
    sleep 0.1
  done
  t3=$(now)
  rss="$(peak "${serves[@]}") / $(peak "${tallyp[@]}") / $(peak "$relay") / ${simrss:-?}"
  "$bin" close "${conn[@]}" >/dev/null 2>&1
  audit=$("$bin" audit "${conn[@]}" --wait 30s 2>&1 | grep -Eo 'discrepancy [0-9]+' | tail -1 || true)
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  pgsize=$(su postgres -c "psql -tAc \"SELECT pg_database_size('$db')\"" 2>/dev/null || echo 0)
  kafkasize=$( (du -sck "$KAFKA_DATA/$db."* ${tmpl:+"$KAFKA_DATA/$tmpl."*} 2>/dev/null || true) | awk 'END {print ($1 + 0) * 1024}') # blocks in use: index files are sparse
  disk=$(awk -v p="${pgsize:-0}" -v k="${kafkasize:-0}" 'BEGIN {printf "%.2f / %.2f GB", p/1e9, k/1e9}')
  echo "| $casters / $tallies | $VOTERS | $reg | $cast | $(awk -v b="$cast" -v a="$t1" -v z="$t2" 'BEGIN {printf "%.1fk", b/(z-a)/1000}') | $(awk -v b="$cast" -v a="$t1" -v z="$t3" 'BEGIN {printf "%.1fk", b/(z-a)/1000}') | $rss | $disk | ${audit:-failed: see $log} |"
  su postgres -c "dropdb $db" >/dev/null 2>&1 || true
done
[ -z "$tmpl" ] || su postgres -c "dropdb $tmpl" >/dev/null 2>&1 || true
