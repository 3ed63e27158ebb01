#!/usr/bin/env bash
# Installs (when missing) and starts the real services the full test suite uses:
#   - PostgreSQL from Debian's packages, with a role and database "election";
#   - a single-node Apache Kafka 4.x broker (KRaft) from Maven Central jars, on the machine's Java, with a
#     plaintext listener and a SASL_SSL one (SCRAM, TLS with a CA made here) for the security tests;
#   - Chromium from Debian's packages, for the results page's browser tests;
#   - a Python virtual environment with the tutorial's pinned Kafka client (scripts/tutorial/requirements.txt),
#     for the test that its dashboard reads our topics.
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
  # Many concurrent test databases and casting processes (300 connections), and elections of millions
  # of voters (scripts/scale-pg.sh): the first change to a page after a checkpoint writes the whole page
  # to the log, and with Debian's 1 GB of log between checkpoints, 70M ballots cast into a 100M-voter
  # register would write most of the voted index's pages to the log again every few seconds. These are
  # what an operator would give such a server: 8 GB of log between checkpoints at most 15 minutes apart,
  # compressed, and 2 GB of shared buffers rather than 128 MB.
  local restart=false name value
  while read -r name value; do
    [ "$(su postgres -c "psql -qtAc 'SHOW $name'")" = "$value" ] && continue
    su postgres -c "psql -qc \"ALTER SYSTEM SET $name = '$value'\"" >&2
    case "$name" in max_connections | shared_buffers) restart=true ;; esac
  done <<'SETTINGS'
max_connections 300
shared_buffers 2GB
max_wal_size 8GB
checkpoint_timeout 15min
wal_compression lz4
SETTINGS
  su postgres -c "psql -qtAc 'SELECT pg_reload_conf()'" >/dev/null
  if $restart; then
    log "restarting PostgreSQL $ver for its new settings"
    pg_ctlcluster "$ver" main restart >&2
  fi
}

sasl_port=$((kafka_port + 2))
port_open() { (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null; }
kafka_up() { port_open "$kafka_port" && port_open "$sasl_port"; }

# kafka_ca is the CA of the broker that runs: another checkout's script may have started it, with its own
# CA (found from the broker's command line, which names its server.properties beside the tls directory).
kafka_ca() {
  local props
  props=$(pgrep -af 'kafka.Kafka .*server.properties' | head -1 | awk '{print $NF}')
  if [ -n "$props" ] && [ -f "$(dirname "$props")/tls/ca.pem" ]; then
    echo "$(dirname "$props")/tls/ca.pem"
  else
    echo "$state/kafka/tls/ca.pem"
  fi
}

# make_tls makes a CA and a broker certificate for 127.0.0.1/localhost, signed by it (once).
make_tls() {
  local dir="$1"
  [ -f "$dir/keystore.pem" ] && return 0
  need_pkg openssl openssl
  mkdir -p "$dir"
  log "making a test CA and a broker certificate in $dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=election test CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$dir/broker.key" -out "$dir/broker.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$dir/san.ext"
  openssl x509 -req -in "$dir/broker.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 3650 \
    -extfile "$dir/san.ext" -out "$dir/broker.pem" 2>/dev/null
  # Kafka's PEM keystore: the private key (PKCS#8, unencrypted) followed by the certificate chain.
  openssl pkcs8 -topk8 -nocrypt -in "$dir/broker.key" -out "$dir/broker.pk8"
  cat "$dir/broker.pk8" "$dir/broker.pem" "$dir/ca.pem" >"$dir/keystore.pem"
  chmod 600 "$dir"/*.key "$dir"/*.pk8 "$dir/keystore.pem"
}

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
  local dir="$state/kafka"
  make_tls "$dir/tls"
  kafka_up && return 0
  if port_open "$kafka_port"; then
    # Started by an older version of this script, without the SASL_SSL listener: restart it.
    log "restarting Kafka to add the SASL_SSL listener"
    stop_all # returns once the old broker has exited, its ports closed
  fi
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$((kafka_port + 1))
listeners=PLAINTEXT://127.0.0.1:$kafka_port,CONTROLLER://127.0.0.1:$((kafka_port + 1)),SASL_SSL://127.0.0.1:$sasl_port
advertised.listeners=PLAINTEXT://127.0.0.1:$kafka_port,SASL_SSL://127.0.0.1:$sasl_port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$dir/tls/keystore.pem
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
  echo "services: Kafka did not open ports $kafka_port and $sasl_port within 120 s; see $dir/broker.log" >&2
  tail -20 "$dir/broker.log" >&2
  return 1
}

make_python() {
  local venv="$state/py"
  if [ ! -x "$venv/bin/python" ] || ! cmp -s "$repo/scripts/tutorial/requirements.txt" "$venv/requirements.txt"; then
    need_pkg python3 python3
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
      $apt_updated || { apt-get update -qq >&2; apt_updated=true; }
      log "installing python3-venv"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >&2
    fi
    log "making a Python environment with the tutorial's Kafka client in $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q -r "$repo/scripts/tutorial/requirements.txt" >&2
    cp "$repo/scripts/tutorial/requirements.txt" "$venv/requirements.txt"
  fi
}

stop_all() {
  local pid=""
  if [ -f "$state/kafka/pid" ]; then
    pid=$(cat "$state/kafka/pid")
    kill "$pid" 2>/dev/null || true
  else
    pkill -f 'kafka.Kafka .*server.properties' 2>/dev/null || true
  fi
  rm -f "$state/kafka/pid"
  # The broker takes a few seconds to shut down and keeps its ports open meanwhile: wait for it, or a
  # services.sh run right after would take the stopping broker for a running one and start none.
  for _ in $(seq 1 60); do
    if [ -n "$pid" ]; then kill -0 "$pid" 2>/dev/null || return 0
    else pgrep -f 'kafka.Kafka .*server.properties' >/dev/null || return 0; fi
    sleep 1 # waiting for a process to end is the point
  done
  echo "services: Kafka has not stopped after 60 s" >&2
}

if [ "${1:-}" = "--stop" ]; then stop_all; exit 0; fi
if ! $only_env; then
  start_postgres
  start_kafka
  need_pkg chromium chromium
  make_python
fi
echo "export ELECTION_TEST_POSTGRES='$pg_url'"
echo "export ELECTION_TEST_KAFKA='127.0.0.1:$kafka_port'"
echo "export ELECTION_TEST_KAFKA_SASL_SSL='127.0.0.1:$sasl_port'"
echo "export ELECTION_TEST_KAFKA_CA='$(kafka_ca)'"
if command -v chromium >/dev/null 2>&1; then echo "export ELECTION_TEST_CHROMIUM='$(command -v chromium)'"; fi
if [ -x "$state/py/bin/python" ]; then echo "export ELECTION_TEST_PYTHON='$state/py/bin/python'"; fi
