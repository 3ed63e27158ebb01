#!/usr/bin/env bash
# Installs (when missing) and starts the real services the full test suite uses:
#   - PostgreSQL from Debian's packages, with a role and database "election";
#   - a single-node Apache Kafka 4.x broker (KRaft) from Maven Central jars, on the machine's Java;
#   - Chromium from Debian's packages, for the results page's browser tests.
# Idempotent: running it again leaves running services alone. Prints the environment variables the tests
# read; `eval "$(scripts/services.sh --env)"` sets them in the calling shell.
# Needs root (apt-get, pg_ctlcluster), as on CI and on the project's machines.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
state=${ELECTION_SERVICES_DIR:-$repo/.services}
kafka_port=${ELECTION_KAFKA_PORT:-9092}
pg_url="postgres://election:election@127.0.0.1:5432/election?sslmode=disable"
only_env=false
[ "${1:-}" = "--env" ] && only_env=true

log() { $only_env || echo "services: $*" >&2; }
mkdir -p "$state"

apt_updated=false
need_pkg() { # need_pkg COMMAND PACKAGE...
  command -v "$1" >/dev/null 2>&1 && return 0
  if ! $apt_updated; then log "apt-get update"; apt-get update -qq >&2; apt_updated=true; fi
  shift
  log "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

start_postgres() {
  need_pkg pg_ctlcluster postgresql
  local ver
  ver=$(ls /etc/postgresql | sort -n | tail -1)
  if ! pg_lsclusters -h | awk '{print $4}' | grep -q online; then
    log "starting PostgreSQL $ver"
    pg_ctlcluster "$ver" main start >&2
  fi
  # A role that may create databases: each test gets its own database.
  su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='election'\"" | grep -q 1 ||
    su postgres -c "psql -qc \"CREATE ROLE election LOGIN CREATEDB PASSWORD 'election'\"" >&2
  su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='election'\"" | grep -q 1 ||
    su postgres -c "createdb -O election election" >&2
  # Many concurrent test databases and casting processes.
  if [ "$(su postgres -c "psql -qtAc 'SHOW max_connections'")" -lt 300 ]; then
    su postgres -c "psql -qc 'ALTER SYSTEM SET max_connections = 300'" >&2
    pg_ctlcluster "$ver" main restart >&2
  fi
}

kafka_up() { (exec 3<>/dev/tcp/127.0.0.1/"$kafka_port") 2>/dev/null; }

start_kafka() {
  need_pkg java default-jre-headless
  local lib="$state/kafka/lib"
  if [ ! -f "$lib/.complete" ]; then
    need_pkg mvn maven
    log "fetching Apache Kafka jars from Maven Central"
    mkdir -p "$lib"
    mvn -q -f "$repo/scripts/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$lib" -DincludeScope=runtime >&2
    touch "$lib/.complete"
  fi
  kafka_up && return 0
  local dir="$state/kafka"
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$((kafka_port + 1))
listeners=PLAINTEXT://127.0.0.1:$kafka_port,CONTROLLER://127.0.0.1:$((kafka_port + 1))
advertised.listeners=PLAINTEXT://127.0.0.1:$kafka_port
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=6
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
group.initial.rebalance.delay.ms=0
PROPS
  if [ ! -f "$dir/data/meta.properties" ]; then
    log "formatting Kafka storage"
    java -cp "$lib/*" kafka.tools.StorageTool format --standalone \
      -t "$(java -cp "$lib/*" kafka.tools.StorageTool random-uuid)" -c "$dir/server.properties" >&2
  fi
  log "starting Kafka on 127.0.0.1:$kafka_port (log: $dir/broker.log)"
  nohup java -Xmx1g -Dlog4j2.configurationFile="$repo/scripts/kafka/log4j2.properties" \
    -cp "$lib/*" kafka.Kafka "$dir/server.properties" >"$dir/broker.log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 1 120); do kafka_up && return 0; sleep 1; done # waiting for a port to open is the point
  echo "services: Kafka did not open port $kafka_port within 120 s; see $dir/broker.log" >&2
  tail -20 "$dir/broker.log" >&2
  return 1
}

stop_all() {
  [ -f "$state/kafka/pid" ] && kill "$(cat "$state/kafka/pid")" 2>/dev/null || true
  rm -f "$state/kafka/pid"
}

if [ "${1:-}" = "--stop" ]; then stop_all; exit 0; fi
if ! $only_env; then
  start_postgres
  start_kafka
  need_pkg chromium chromium
fi
echo "export ELECTION_TEST_POSTGRES='$pg_url'"
echo "export ELECTION_TEST_KAFKA='127.0.0.1:$kafka_port'"
if command -v chromium >/dev/null 2>&1; then echo "export ELECTION_TEST_CHROMIUM='$(command -v chromium)'"; fi
