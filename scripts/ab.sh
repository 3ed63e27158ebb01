#!/usr/bin/env bash
# The main command's CPU a ballot on two commits, without this machine's minutes in the comparison:
# PAIRS pairs (default 3) of `election up --preset national --voters VOTERS --rate 0 --exit-when-done`,
# one run built from OLD and one from NEW (default HEAD), the two of a pair started at the same moment,
# so that both see the same minutes of this VM, whose speed moves by 10-25% from one minute to the next.
# One line a run: CPU a ballot (user and system time over the ballots cast, registration included),
# registration's time, peak RSS and wall; then each pair's ratio NEW/OLD of CPU a ballot and their
# median. Throughputs are not compared: the two runs share the two cores, and the one that ends first
# leaves the other both. Needs GNU time (/usr/bin/time) and python3 (for free ports).
#
# STAGES=1 also profiles each run (ELECTION_CPU_PROFILE) and prints its row of the stage table, as
# scale.sh does: a change that moves work from one stage to another, say off the ledger's one writer,
# shows there and not in the total.
#
#   OLD=4450285 scripts/ab.sh
#   OLD=4450285 NEW=7e0809b VOTERS=3000000 PAIRS=3 scripts/ab.sh
#   OLD=7e0809b STAGES=1 scripts/ab.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OLD:?set OLD to the commit to compare with}"
NEW=${NEW:-HEAD}
VOTERS=${VOTERS:-3000000}
PAIRS=${PAIRS:-3}
STAGES=${STAGES:-0}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; git worktree prune' EXIT
build() { # build REV NAME: the election binary of commit REV at $tmp/NAME
  git worktree add -q --detach "$tmp/src-$2" "$1"
  (cd "$tmp/src-$2" && go build -o "$tmp/$2" ./cmd/election)
  git worktree remove --force "$tmp/src-$2"
}
build "$OLD" old
build "$NEW" new
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
run() { # run NAME: one run of $tmp/NAME, its log at $tmp/NAME.log (its profile at $tmp/NAME.cpu)
  local prof=()
  [ "$STAGES" = 1 ] && prof=(ELECTION_CPU_PROFILE="$tmp/$1.cpu")
  env "${prof[@]}" /usr/bin/time -v "$tmp/$1" up --preset national --voters "$VOTERS" --rate 0 --exit-when-done \
    --data "$tmp/data-$1" --http "127.0.0.1:$(port)" --kafka-listen "127.0.0.1:$(port)" >"$tmp/$1.log" 2>&1
}
ballots() { # ballots NAME: the ballots the run cast
  grep -m1 'simulation complete' "$tmp/$1.log" | sed -E 's/.* cast=([0-9]+).*/\1/'
}
cpu() { # cpu NAME: µs of CPU a ballot cast
  local log=$tmp/$1.log cast user sys
  cast=$(ballots "$1")
  user=$(grep 'User time' "$log" | awk '{print $NF}')
  sys=$(grep 'System time' "$log" | awk '{print $NF}')
  echo "scale=2; ($user + $sys) * 1000000 / $cast" | bc
}
ratios=()
for i in $(seq "$PAIRS"); do
  run old &
  run new &
  wait
  for name in old new; do
    log=$tmp/$name.log
    echo "pair $i $name: $(cpu "$name") µs of CPU a ballot, registration $(grep -m1 -o 'took=[0-9.a-z]*' "$log" | cut -d= -f2)," \
      "peak RSS $(grep 'Maximum resident' "$log" | awk '{print int($NF/1024)}') MiB, wall $(grep 'Elapsed' "$log" | awk '{print $NF}')"
  done
  if [ "$STAGES" = 1 ]; then
    echo "| run | register (a voter) | simulator | caster | relay | broker | tally | board writer | results view | results publisher | web server | other | all but register |"
    for name in old new; do
      go tool pprof -tags "$tmp/$name" "$tmp/$name.cpu" 2>/dev/null | awk -v n="$VOTERS" -v b="$(ballots "$name")" -f scripts/stages.awk |
        sed "s/^| $VOTERS |/| $name |/"
    done
  fi
  ratios+=("$(echo "scale=4; $(cpu new) / $(cpu old)" | bc)")
  echo "pair $i: new/old CPU a ballot ${ratios[-1]}"
  rm -rf "$tmp/data-old" "$tmp/data-new"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{r[NR]=$1} END {m = NR%2 ? r[(NR+1)/2] : (r[NR/2]+r[NR/2+1])/2; printf "median new/old CPU a ballot over %d pairs: %.3f\n", NR, m}'
