#!/usr/bin/env bash
# The roles as separate processes on PostgreSQL + Kafka: one relay, TALLIES tally processes, CASTERS
# `election serve` processes (each casts through its own group commit) and one `election simulate`
# driving them all through the API (--target, in turn). One Markdown row per "CASTERS/TALLIES" pair in
# RUNS, each in a database and topics of its own: registration time, casting and counting rates, the
# CPU each kind of process spent a ballot from the first cast until every ballot was counted
# (PostgreSQL: every process of its server; Kafka: the broker's JVM), the peak RSS of each kind of
# process, what the election takes on disk (its PostgreSQL database, its Kafka topics), and the audit's
# verdict and how long it took. TURNOUT (default: the simulator's, 0.7) is the share of voters who vote.
#
# BOARD=1 runs the bulletin board's writer too (`election board`, into a directory every server reads),
# waits after the count until the board holds every ballot, has the audit reconcile it, and runs
# `election verify` against the first server: the board's CPU a ballot (its writer's, from the first cast
# until it held every ballot), peak RSS and disk, and the verifier's verdict, time and peak RSS. Without
# it those columns say "not run", and the CPU of PostgreSQL has no board's reads in it.
#
#   eval "$(scripts/services.sh)"        # PostgreSQL and Kafka (sets ELECTION_TEST_POSTGRES/KAFKA)
#   VOTERS=300000 RUNS="1/1 2/1 4/1 1/2 1/4" scripts/scale-pg.sh
#   VOTERS=100000000 RUNS=1/1 TURNOUT=0.1 scripts/scale-pg.sh   # 100M voters, 10M ballots
#   VOTERS=100000000 RUNS="1/1 2/2 4/4" TURNOUT=0.02 CLONE=1 scripts/scale-pg.sh
#
# CAST=direct has the simulators cast straight into the ledger, as `election up` does, rather than
# through the API: each casting process is then an `election simulate --postgres --part K/CASTERS`, and
# one `election serve` serves the results, casting nothing (the serve column is that server's).
#
# PROFILE=1 writes a CPU profile of each process of ours beside its log (`go tool pprof`).
#
# CLONE=1 registers the voters once, in a database that stays unopened, and starts each run from a copy
# of it (`createdb --template`, file by file): at 100M voters registration takes about 25 minutes, the
# copy a few. The registration column then says how long the copy took; the registration's own time is
# printed once before the table. The copies share the registration's voters_topic (only registration
# writes it), which the Kafka figure then includes, and its secrets (the simulator's, the record key).
# TEMPLATE=NAME does the same from a database registered before (`createdb -O election NAME; election
# register --postgres …/NAME --topic-prefix NAME. …` with the same VOTERS), and never drops it.
# REGISTERED=NAME runs in such a database itself, for one run (RUNS of one pair), and keeps it: at 100M
# voters a copy is 12 GB more on the disk.
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

snap() { # "pid comm ticks" for every process: its CPU so far, user and system, in clock ticks; PostgreSQL's
  # server process also counts its children that have ended (a simulator's connections end with it)
  local pm
  pm=$(pgrep -o -x postgres || true)
  for f in /proc/[0-9]*/stat; do cat "$f" 2>/dev/null || true; done |
    awk -v pm="$pm" '{o = index($0, "("); c = index($0, ") "); split(substr($0, c + 2), f, " ")
          print $1, substr($0, o + 1, c - o - 1), f[12] + f[13] + ($1 == pm ? f[14] + f[15] : 0)}'
}
reach() { # $1: ballots; $2: what holds them; $3: its log; $4: a command printing how many it holds. Polls
  # until it holds them all; fails the run if the number stands still for a minute
  local n=0 was moved
  moved=$(now)
  while [ "$n" -lt "$1" ]; do
    was=$n
    n=$("$4" || true)
    n=${n:-$was}
    [ "$n" = "$was" ] || moved=$(now)
    if awk -v m="$moved" -v z="$(now)" 'BEGIN {exit !(z - m > 60)}'; then
      echo "scale-pg.sh: $2 stopped at $n of $1 ballots for a minute: see $3" >&2; exit 1
    fi
    sleep 0.1
  done
}
cpu_by_role() { # $1, $2: snapshots; $3: "pid role" lines; $4: ballots; $5: the roles to print, in order. µs
  # of CPU a ballot for each ("postgres": every process of the server; "kafka": the broker's JVM)
  awk -v hz="$(getconf CLK_TCK)" -v n="$4" -v roles="$3" -v show="$5" '
    BEGIN {k = split(roles, r, "\n"); for (i = 1; i <= k; i++) {split(r[i], x, " "); role[x[1]] = x[2]}}
    FNR == NR {before[$1] = $3; next}
    { d = $3 - before[$1]                          # a process started since counts from zero
      w = ($1 in role) ? role[$1] : $2 == "postgres" ? "postgres" : $2 == "java" ? "kafka" : ""
      if (w != "") use[w] += d }
    END {k = split(show, s, " "); for (i = 1; i <= k; i++) printf "%s%.0f", (i > 1 ? " / " : ""), use[s[i]] * 1e6 / hz / n}
  ' "$1" "$2"
}

CLONE=${CLONE:-0}
if [ -n "${REGISTERED:-}" ] && [ "$(echo $RUNS | wc -w)" != 1 ]; then
  echo "scale-pg.sh: REGISTERED=$REGISTERED is one election: one run, not RUNS=\"$RUNS\"" >&2; exit 2
fi
TEMPLATE=${TEMPLATE:-}
CAST=${CAST:-api}
case "$CAST" in
  api) ;;
  direct) ;;
  *) echo "scale-pg.sh: CAST is api or direct, not $CAST" >&2; exit 2 ;;
esac
PROFILE=${PROFILE:-0}
BOARD=${BOARD:-0}
prof() { [ "$PROFILE" != 1 ] || echo "ELECTION_CPU_PROFILE=$log/$1.prof"; } # for env: $1 names the process
pids=()
trap '[ ${#pids[@]} = 0 ] || kill "${pids[@]}" 2>/dev/null || true' EXIT # a run that fails leaves nothing running
tmpl=$TEMPLATE
if [ -z "$tmpl" ] && [ "$CLONE" = 1 ]; then
  tmpl="scale_$(date +%s)_$$_registered"
  su postgres -c "createdb -O election $tmpl" >/dev/null
  t0=$(now)
  "$bin" register --postgres "${ELECTION_TEST_POSTGRES%/*}/$tmpl?sslmode=disable" --kafka "$ELECTION_TEST_KAFKA" \
    --topic-prefix "$tmpl." --preset national --voters "$VOTERS" >"$WORK/$tmpl.register.log" 2>&1
  echo "registration of $VOTERS voters, once for every run: $(since "$t0")"
  echo
fi
echo "| casters / tallies | voters | registration | ballots | cast (ballots/s) | cast → all counted (ballots/s) | CPU µs a ballot: serve / tally / relay / simulate / PostgreSQL / Kafka | peak RSS: serve / tally / relay / simulate | disk: PostgreSQL / Kafka | audit | board: CPU µs a ballot, peak RSS, disk | verify |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for run in $RUNS; do
  casters=${run%/*} tallies=${run#*/}
  db=${REGISTERED:-"scale_$(date +%s)_$$"}
  pg="${ELECTION_TEST_POSTGRES%/*}/$db?sslmode=disable"
  conn=(--postgres "$pg" --kafka "$ELECTION_TEST_KAFKA" --topic-prefix "$db.")
  log="$WORK/$db"
  # a database registered before keeps its name from run to run: each run its own logs (and board)
  [ -z "${REGISTERED:-}" ] || log="$WORK/$db.$(date +%Y%m%d-%H%M%S)"
  mkdir -p "$log"
  t0=$(now)
  if [ -n "${REGISTERED:-}" ]; then
    reg="registered before"
  elif [ -n "$tmpl" ]; then
    su postgres -c "createdb -O election --strategy file_copy -T $tmpl $db" >/dev/null
    reg="copied in $(since "$t0")"
  else
    su postgres -c "createdb -O election $db" >/dev/null
    "$bin" register "${conn[@]}" --preset national --voters "$VOTERS" >"$log/register.log" 2>&1
    reg=$(since "$t0")
  fi
  pids=() serves=() tallyp=() urls=() boardp=() boarddir=()
  env $(prof relay) "$bin" relay "${conn[@]}" >"$log/relay.log" 2>&1 & relay=$!; pids+=("$relay")
  if [ "$BOARD" = 1 ]; then
    boarddir=(--board "$log/board")
    env $(prof board) "$bin" board "${conn[@]}" "${boarddir[@]}" >"$log/board.log" 2>&1 & boardp=($!); pids+=($!)
  fi
  for i in $(seq "$tallies"); do
    env $(prof "tally-$i") "$bin" tally "${conn[@]}" --instance "tally-$i" >"$log/tally-$i.log" 2>&1 & tallyp+=($!); pids+=($!)
  done
  nserve=$casters
  [ "$CAST" = api ] || nserve=1 # the results' server
  for i in $(seq "$nserve"); do
    port=$(free_port)
    env $(prof "serve-$i") "$bin" serve "${conn[@]}" "${boarddir[@]}" --http "127.0.0.1:$port" >"$log/serve-$i.log" 2>&1 & serves+=($!); pids+=($!)
    urls+=("http://127.0.0.1:$port")
  done
  for u in "${urls[@]}"; do # each server up before casting starts
    for _ in $(seq 300); do curl -sf "$u/readyz" >/dev/null && break; sleep 0.1; done
  done
  targets=(--target "$(IFS=,; echo "${urls[*]}")") nsim=1 # one simulator, through every server in turn
  [ "$CAST" = api ] || targets=() nsim=$casters       # or one a casting process, each casting its part
  snap >"$log/cpu.before"
  t1=$(now)
  sims=()
  for i in $(seq "$nsim"); do
    part=()
    [ "$nsim" = 1 ] || part=(--part "$i/$nsim")
    env $(prof "simulate-$i") "$bin" simulate "${conn[@]}" "${targets[@]}" "${part[@]}" --rate 0 ${TURNOUT:+--turnout "$TURNOUT"} \
      >"$log/simulate-$i.log" 2>&1 & sims+=($!); pids+=($!)
  done
  simrss="" # a simulator keeps serving its status until stopped: its work ends with "simulation complete"
  until [ "$(cat "$log"/simulate-*.log 2>/dev/null | grep -c 'simulation complete')" = "$nsim" ]; do
    for p in "${sims[@]}"; do
      kill -0 "$p" 2>/dev/null || { echo "scale-pg.sh: a simulator stopped: see $log/simulate-*.log" >&2; exit 1; }
    done
    simrss=$(peak "${sims[@]}"); sleep 0.1
  done
  t2=$(now)
  simrss=$(peak "${sims[@]}")
  simcpu=$(snap | awk -v p=" ${sims[*]} " 'index(p, " " $1 " ")') # their CPU before they go; the rest are measured at the end
  kill "${sims[@]}"; wait "${sims[@]}" 2>/dev/null || true
  cast=$(cat "$log"/simulate-*.log | grep 'simulation complete' | sed -E 's/.* cast=([0-9]+).*/\1/' | awk '{n += $1} END {print n}')
  counted() { curl -sf "${urls[0]}/api/v1/results" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ballots_counted"])'; }
  reach "$cast" "the results" "$log" counted
  t3=$(now)
  { snap; echo "$simcpu"; } >"$log/cpu.after"
  roles=$(for p in "${serves[@]}"; do echo "$p serve"; done; for p in "${tallyp[@]}"; do echo "$p tally"; done
          echo "$relay relay"; for p in "${sims[@]}"; do echo "$p simulate"; done; for p in "${boardp[@]}"; do echo "$p board"; done)
  cpu=$(cpu_by_role "$log/cpu.before" "$log/cpu.after" "$roles" "$cast" "serve tally relay simulate postgres kafka")
  boardcol="not run" verify="not run"
  if [ "$BOARD" = 1 ]; then
    onboard() { curl -sf "${urls[0]}/board/checkpoint" | sed -n 2p; } # the signed checkpoint's size
    reach "$cast" "the board" "$log/board.log" onboard
    snap >"$log/cpu.board"
    boardcol="$(cpu_by_role "$log/cpu.before" "$log/cpu.board" "$roles" "$cast" board) µs, $(peak "${boardp[@]}"), $(du -sk "$log/board" | awk '{printf "%.2f GB", $1 * 1024 / 1e9}') (all on it $(since "$t3") after the count)"
  fi
  rss="$(peak "${serves[@]}") / $(peak "${tallyp[@]}") / $(peak "$relay") / ${simrss:-?}"
  "$bin" close "${conn[@]}" >/dev/null 2>&1
  t4=$(now)
  "$bin" audit "${conn[@]}" "${boarddir[@]}" --wait 30s >"$log/audit.log" 2>&1 || true
  audit=$(grep -Eo 'discrepancy [0-9]+' "$log/audit.log" | tail -1 || true)
  [ -z "$audit" ] || audit="$audit ($(since "$t4"))"
  if [ "$BOARD" = 1 ]; then # the verifier reads the first server's public endpoints alone
    /usr/bin/time -f 'elapsed %e s, peak RSS %M KiB' "$bin" verify --from "${urls[0]}" >"$log/verify.log" 2>&1 || true
    verdict=$(grep -Eo 'discrepancy [0-9]+' "$log/verify.log" | tail -1 || true)
    took=$(grep -E '^elapsed ' "$log/verify.log" | awk '{printf "%.0f s, %d MiB", $2, $6/1024}' || true)
    verify="${verdict:-failed: see $log/verify.log} ($took)"
  fi
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  pgsize=$(su postgres -c "psql -tAc \"SELECT pg_database_size('$db')\"" 2>/dev/null || echo 0)
  kafkasize=$( (du -sck "$KAFKA_DATA/$db."* ${tmpl:+"$KAFKA_DATA/$tmpl."*} 2>/dev/null || true) | awk 'END {print ($1 + 0) * 1024}') # blocks in use: index files are sparse
  disk=$(awk -v p="${pgsize:-0}" -v k="${kafkasize:-0}" 'BEGIN {printf "%.2f / %.2f GB", p/1e9, k/1e9}')
  mode=""
  [ "$CAST" = api ] || mode=" (direct)"
  echo "| $casters / $tallies$mode | $VOTERS | $reg | $cast | $(awk -v b="$cast" -v a="$t1" -v z="$t2" 'BEGIN {printf "%.1fk", b/(z-a)/1000}') | $(awk -v b="$cast" -v a="$t1" -v z="$t3" 'BEGIN {printf "%.1fk", b/(z-a)/1000}') | $cpu | $rss | $disk | ${audit:-failed: see $log} | $boardcol | $verify |"
  [ -n "${REGISTERED:-}" ] || su postgres -c "dropdb $db" >/dev/null 2>&1 || true
done
[ -z "$tmpl" ] || [ -n "$TEMPLATE" ] || su postgres -c "dropdb $tmpl" >/dev/null 2>&1 || true
