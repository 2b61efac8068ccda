#!/usr/bin/env bash
# The local stack without Docker: Apache Kafka (KRaft, one node or a cluster) run from
# Maven Central jars on the installed JDK, and FerretDB (MongoDB wire protocol)
# built from the Go module proxy, on a private PostgreSQL cluster from
# Debian's packages (FERRETDB_BACKEND=sqlite runs it on SQLite instead).
#
#   infra/stack.sh up       start both, wait until ready (idempotent)
#   infra/stack.sh down     stop both, by their recorded process ids
#   infra/stack.sh status   show what runs, where, and the endpoints
#   infra/stack.sh env      print KAFKA_BROKERS / MONGODB_URI for `eval`
#   infra/stack.sh reset    down, then delete the data (not the caches)
#   infra/stack.sh up --brokers 3   Kafka as a 3-node KRaft cluster (replication
#                           factor 3, min.insync.replicas 2; the producers use acks=all)
#   infra/stack.sh kafka up|down|status|reset [--brokers N]   Kafka alone
#
# Downloads and builds are cached under $STACK_CACHE (default
# ~/.cache/enforcement-stack), keyed by version, so a second start on the same
# machine takes seconds even from a fresh clone. Data and logs live in
# $STACK_HOME (default <repo>/.stack, git-ignored).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml")
FERRETDB_VERSION=${FERRETDB_VERSION:-v1.24.2}
KAFKA_PORT=${KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
FERRETDB_PORT=${FERRETDB_PORT:-27027}
FERRETDB_DEBUG_PORT=${FERRETDB_DEBUG_PORT:-18088}
FERRETDB_BACKEND=${FERRETDB_BACKEND:-postgresql}
PG_PORT=${PG_PORT:-15432}
# FerretDB holds a PostgreSQL connection per running query and per open
# cursor. Each service instance's driver pool has at most 20 connections
# (mongo-kit), so 150 covers seven instances at full pool; PostgreSQL takes 200.
FERRETDB_PG_POOL=${FERRETDB_PG_POOL:-150}
# Go's garbage collector target for FerretDB (Go's default is 100).
FERRETDB_GOGC=${FERRETDB_GOGC:-400}
KAFKA_HEAP=${KAFKA_HEAP:-768m}
KAFKA_NODES=${KAFKA_NODES:-1}
STACK_HOME=${STACK_HOME:-$repo/.stack}
STACK_CACHE=${STACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/enforcement-stack}
READY_TIMEOUT=${STACK_READY_TIMEOUT:-90}

kafka_libs="$STACK_CACHE/kafka-$KAFKA_VERSION/libs"
# The patches under ferretdb/patches are part of the build: the cached binary
# is keyed by their content, so changing one rebuilds it.
ferretdb_patches=$(cat "$here"/ferretdb/patches/*.patch 2>/dev/null | sha1sum | cut -c1-10)
ferretdb_bin="$STACK_CACHE/ferretdb-$FERRETDB_VERSION-$ferretdb_patches/ferretdb"
kafka_home="$STACK_HOME/kafka"
ferret_home="$STACK_HOME/ferretdb"
# PostgreSQL runs as the unprivileged `postgres` user, which may not be able
# to enter the repository's folder; its cluster lives under /var/tmp, keyed by
# the repository path so that two checkouts never share one.
pg_home=${PG_HOME:-/var/tmp/enforcement-pg-$(printf '%s' "$repo" | sha1sum | cut -c1-10)}

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found on PATH: $2"
}

check_java() {
  need java "install a JDK 17 or newer (Debian: apt-get install openjdk-17-jdk-headless)"
  local major
  major=$(java -XshowSettings:properties -version 2>&1 | sed -n 's/.*java.specification.version = \([0-9]*\).*/\1/p')
  [[ -n "$major" && "$major" -ge 17 ]] || die "Kafka $KAFKA_VERSION needs JDK 17 or newer; java on PATH is ${major:-unknown}"
}

# Port free, or held by our own process (then the component is already up).
check_port_free() {
  local port=$1 name=$2 var=$3
  if port_open "$port"; then
    die "port $port needed by $name is taken by another process; stop it or set $var to another port"
  fi
}

fetch_kafka() {
  [[ -f "$kafka_libs/.complete" ]] && return 0
  need mvn "install Apache Maven (Debian: apt-get install maven)"
  log "resolving Kafka $KAFKA_VERSION jars from Maven Central (once per machine)"
  rm -rf "$kafka_libs" && mkdir -p "$kafka_libs"
  if ! mvn -B -q -f "$here/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$kafka_libs" -DincludeScope=runtime >"$STACK_CACHE/kafka-resolve.log" 2>&1; then
    die "resolving Kafka jars failed; see $STACK_CACHE/kafka-resolve.log"
  fi
  touch "$kafka_libs/.complete"
}

build_ferretdb() {
  [[ -x "$ferretdb_bin" ]] && return 0
  need go "install Go 1.22 or newer"
  need patch "install patch (Debian: apt-get install patch)"
  log "building FerretDB $FERRETDB_VERSION from the Go module proxy (once per machine)"
  local src dir build_log="$STACK_CACHE/ferretdb-build.log"
  src=$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" 2>"$build_log" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || true
  [[ -n "$src" && -d "$src" ]] || die "downloading FerretDB $FERRETDB_VERSION failed; see $build_log"
  dir=$(mktemp -d)
  cp -r "$src/." "$dir/" && chmod -R u+w "$dir"
  # The module zip lacks the version file its `task` build writes; FerretDB
  # refuses to start without it.
  echo "$FERRETDB_VERSION" >"$dir/build/version/version.txt"
  local patch
  for patch in "$here"/ferretdb/patches/*.patch; do
    [[ -e "$patch" ]] || continue
    patch -s -p1 -d "$dir" <"$patch" >>"$build_log" 2>&1 || {
      rm -rf "$dir"
      die "applying $(basename "$patch") to FerretDB $FERRETDB_VERSION failed; see $build_log"
    }
  done
  mkdir -p "$(dirname "$ferretdb_bin")"
  if ! (cd "$dir" && CGO_ENABLED=0 go build -trimpath -o "$ferretdb_bin.tmp" ./cmd/ferretdb) >>"$build_log" 2>&1; then
    rm -rf "$dir"
    die "building FerretDB failed; see $build_log"
  fi
  rm -rf "$dir"
  mv "$ferretdb_bin.tmp" "$ferretdb_bin"
}

wait_ready() {
  local name=$1 pidfile=$2 logfile=$3 probe=$4
  local deadline=$((SECONDS + READY_TIMEOUT))
  until $probe; do
    pid_alive "$pidfile" || { tail -n 30 "$logfile" >&2 || true; die "$name exited during start; see $logfile"; }
    ((SECONDS < deadline)) || { tail -n 30 "$logfile" >&2 || true; die "$name not ready after ${READY_TIMEOUT}s; see $logfile"; }
    sleep 0.3
  done
}

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [[ -x "$d/pg_ctl" ]] && { echo "$d"; return 0; }
  done
  return 1
}

ensure_postgres() {
  pg_bin >/dev/null && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    log "installing PostgreSQL from Debian's packages (once per machine)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
      >"$STACK_CACHE/postgres-install.log" 2>&1 || die "installing postgresql failed; see $STACK_CACHE/postgres-install.log"
    pg_bin >/dev/null || die "postgresql installed but pg_ctl not found under /usr/lib/postgresql"
  else
    die "PostgreSQL server not found (Debian: apt-get install postgresql), or set FERRETDB_BACKEND=sqlite"
  fi
}

as_postgres() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_ready() { as_postgres "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

start_postgres() {
  [[ "$FERRETDB_BACKEND" == postgresql ]] || return 0
  ensure_postgres
  local bin
  bin=$(pg_bin)
  if pg_ready 2>/dev/null && [[ -f "$pg_home/data/postmaster.pid" ]]; then
    log "postgresql already running (127.0.0.1:$PG_PORT)"
    return 0
  fi
  check_port_free "$PG_PORT" postgresql PG_PORT
  mkdir -p "$pg_home"
  [[ $(id -u) -eq 0 ]] && chown postgres: "$pg_home"
  if [[ ! -f "$pg_home/data/PG_VERSION" ]]; then
    as_postgres "$bin/initdb" -D "$pg_home/data" -A trust -U postgres -E UTF8 >"$pg_home/initdb.log" 2>&1 ||
      die "initdb failed; see $pg_home/initdb.log"
  fi
  log "starting postgresql on 127.0.0.1:$PG_PORT (data in $pg_home)"
  # Durable: a commit is on disk before FerretDB (and so intake) hears it
  # succeeded, so an acknowledged event survives a kill -9 or a power cut
  # (synchronous_commit and fsync stay at PostgreSQL's defaults, on).
  as_postgres "$bin/pg_ctl" -D "$pg_home/data" -l "$pg_home/postgres.log" -w -t "$READY_TIMEOUT" \
    -o "-p $PG_PORT -k $pg_home -c listen_addresses=127.0.0.1 -c synchronous_commit=on -c fsync=on -c shared_buffers=256MB -c max_connections=200" \
    start >/dev/null || { tail -n 20 "$pg_home/postgres.log" >&2; die "postgresql did not start; see $pg_home/postgres.log"; }
  if ! as_postgres "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "select 1 from pg_database where datname='ferretdb'" | grep -q 1; then
    as_postgres "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres ferretdb
  fi
}

stop_postgres() {
  local bin
  bin=$(pg_bin 2>/dev/null) || return 0
  if [[ -f "$pg_home/data/postmaster.pid" ]]; then
    as_postgres "$bin/pg_ctl" -D "$pg_home/data" -m fast -w stop >/dev/null 2>&1 || true
    log "postgresql stopped"
  else
    log "postgresql not running"
  fi
}

ferret_ready() { port_open "$FERRETDB_PORT"; }

# A node of the Kafka cluster: its folder, client port and controller port.
# One node keeps the historical layout ($STACK_HOME/kafka); a cluster of N
# (`up --brokers N`) puts node i in kafka/node<i> on KAFKA_PORT + 2(i-1) and
# the port after it. The count is recorded, so down/status/env find them all.
kafka_nodes() {
  if [[ -f "$kafka_home/nodes" ]]; then cat "$kafka_home/nodes"; else echo "$KAFKA_NODES"; fi
}
node_home() { if (($2 == 1)); then echo "$kafka_home"; else echo "$kafka_home/node$1"; fi; }
node_port() { echo $((KAFKA_PORT + 2 * ($1 - 1))); }
node_cport() { if (($2 == 1)); then echo "$KAFKA_CONTROLLER_PORT"; else echo $((KAFKA_PORT + 2 * ($1 - 1) + 1)); fi; }
brokers_list() {
  local n i out=()
  n=$(kafka_nodes)
  for ((i = 1; i <= n; i++)); do out+=("127.0.0.1:$(node_port "$i")"); done
  (IFS=,; echo "${out[*]}")
}

kafka_ready_node() {
  port_open "$(node_port "$1")" && grep -q "Kafka Server started" "$(node_home "$1" "$2")/logs/server.log" 2>/dev/null
}

start_kafka() {
  local n=$KAFKA_NODES
  if [[ -f "$kafka_home/nodes" && "$(cat "$kafka_home/nodes")" != "$n" ]]; then
    die "the Kafka data in $kafka_home is a $(cat "$kafka_home/nodes")-node cluster; run reset first to start $n"
  fi
  fetch_kafka
  mkdir -p "$kafka_home"
  # Replication as production runs it once there are three: every partition
  # on three brokers, a write acknowledged by two (producers use acks=all).
  local rf=1 isr=1 voters="" i
  if ((n >= 3)); then rf=3 isr=2; elif ((n == 2)); then rf=2 isr=1; fi
  for ((i = 1; i <= n; i++)); do voters+="${voters:+,}$i@127.0.0.1:$(node_cport "$i" "$n")"; done
  local cluster_id=""
  [[ -f "$kafka_home/cluster-id" ]] && cluster_id=$(cat "$kafka_home/cluster-id")
  local java_opts=(-Xms256m "-Xmx$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$here/kafka/log4j2.xml")
  for ((i = 1; i <= n; i++)); do
    local home port cport
    home=$(node_home "$i" "$n") port=$(node_port "$i") cport=$(node_cport "$i" "$n")
    if pid_alive "$home/pid"; then
      log "kafka node $i already running (pid $(cat "$home/pid"), 127.0.0.1:$port)"
      continue
    fi
    check_port_free "$port" "kafka node $i" KAFKA_PORT
    check_port_free "$cport" "kafka controller $i" KAFKA_CONTROLLER_PORT
    mkdir -p "$home/data" "$home/logs"
    sed -e "s|@KAFKA_PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$cport|g" -e "s|@NODE_ID@|$i|g" \
      -e "s|@VOTERS@|$voters|g" -e "s|@RF@|$rf|g" -e "s|@MIN_ISR@|$isr|g" \
      -e "s|@DATA_DIR@|$home/data|g" "$here/kafka/server.properties.template" >"$home/server.properties"
    if [[ ! -f "$home/data/meta.properties" ]]; then
      # Every node of a cluster is formatted with the same cluster id.
      [[ -n "$cluster_id" ]] || cluster_id=$(java -cp "$kafka_libs/*" "${java_opts[@]}" "-Dkafka.logs.dir=$home/logs" kafka.tools.StorageTool random-uuid)
      echo "$cluster_id" >"$kafka_home/cluster-id"
      java -cp "$kafka_libs/*" "${java_opts[@]}" "-Dkafka.logs.dir=$home/logs" kafka.tools.StorageTool format \
        -t "$cluster_id" -c "$home/server.properties" >"$home/logs/format.log" 2>&1 ||
        die "formatting Kafka storage failed; see $home/logs/format.log"
    fi
    log "starting kafka $KAFKA_VERSION node $i of $n on 127.0.0.1:$port"
    : >"$home/logs/server.log"
    nohup java -cp "$kafka_libs/*" "${java_opts[@]}" "-Dkafka.logs.dir=$home/logs" kafka.Kafka "$home/server.properties" \
      >"$home/logs/stdout.log" 2>&1 &
    echo $! >"$home/pid"
  done
  echo "$n" >"$kafka_home/nodes"
  # A node of a cluster starts only once a quorum of controllers answers, so
  # the nodes start together and are awaited together.
  for ((i = 1; i <= n; i++)); do
    local home
    home=$(node_home "$i" "$n")
    # shellcheck disable=SC2329 # called by wait_ready
    probe() { kafka_ready_node "$i" "$n"; }
    wait_ready "kafka node $i" "$home/pid" "$home/logs/server.log" probe
  done
}

stop_kafka() {
  local n i pidfile
  n=$(kafka_nodes)
  # All nodes at once: a cluster's last node, stopped alone, waits for a
  # controller quorum that has already gone.
  for ((i = 1; i <= n; i++)); do
    pidfile="$(node_home "$i" "$n")/pid"
    pid_alive "$pidfile" && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  for ((i = 1; i <= n; i++)); do stop_one "kafka$( ((n > 1)) && echo " node $i")" "$(node_home "$i" "$n")/pid"; done
}

status_kafka() {
  local n i rc=0
  n=$(kafka_nodes)
  for ((i = 1; i <= n; i++)); do
    status_one "kafka$([[ $n -gt 1 ]] && echo "-$i")" "$(node_home "$i" "$n")/pid" "$(node_port "$i")" || rc=1
  done
  return $rc
}

start_ferretdb() {
  if pid_alive "$ferret_home/pid"; then
    log "ferretdb already running (pid $(cat "$ferret_home/pid"), 127.0.0.1:$FERRETDB_PORT)"
    return 0
  fi
  check_port_free "$FERRETDB_PORT" ferretdb FERRETDB_PORT
  check_port_free "$FERRETDB_DEBUG_PORT" "ferretdb debug endpoint" FERRETDB_DEBUG_PORT
  build_ferretdb
  mkdir -p "$ferret_home/data" "$ferret_home/logs"
  log "starting ferretdb $FERRETDB_VERSION ($FERRETDB_BACKEND) on 127.0.0.1:$FERRETDB_PORT"
  local backend=(--handler=sqlite --sqlite-url="file:$ferret_home/data/")
  [[ "$FERRETDB_BACKEND" == postgresql ]] &&
    backend=(--handler=postgresql --postgresql-url="postgres://postgres@127.0.0.1:$PG_PORT/ferretdb?pool_max_conns=$FERRETDB_PG_POOL")
  # GOGC: FerretDB spent about a fifth of its CPU in garbage collection
  # under the year's load (a profile, docs/performance.md) with a live heap
  # of about 40 MB; collecting less often trades some of the 24 GiB for it.
  GOGC=$FERRETDB_GOGC nohup "$ferretdb_bin" "${backend[@]}" \
    --listen-addr="127.0.0.1:$FERRETDB_PORT" --debug-addr="127.0.0.1:$FERRETDB_DEBUG_PORT" \
    --state-dir="$ferret_home" --telemetry=disable --log-level=warn \
    >"$ferret_home/logs/ferretdb.log" 2>&1 &
  echo $! >"$ferret_home/pid"
  wait_ready ferretdb "$ferret_home/pid" "$ferret_home/logs/ferretdb.log" ferret_ready
}

stop_one() {
  local name=$1 pidfile=$2
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile"
    log "$name not running"
    return 0
  fi
  local pid
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "$name (pid $pid) did not stop in 30s; killing"
      kill -9 "$pid" 2>/dev/null || true
      deadline=$((SECONDS + 3600))
    fi
    sleep 0.2
  done
  rm -f "$pidfile"
  log "$name stopped (pid $pid)"
}

status_one() {
  local name=$1 pidfile=$2 port=$3
  if pid_alive "$pidfile"; then
    printf '%-9s running  pid %-7s 127.0.0.1:%s\n' "$name" "$(cat "$pidfile")" "$port"
  else
    printf '%-9s stopped\n' "$name"
    return 1
  fi
}

print_env() {
  echo "export KAFKA_BROKERS=$(brokers_list)"
  echo "export MONGODB_URI=mongodb://127.0.0.1:$FERRETDB_PORT/"
  echo "export ENFORCEMENT_ENV=development"
}

main() {
  mkdir -p "$STACK_HOME" "$STACK_CACHE"
  local cmd=${1:-}
  shift || true
  if [[ "$cmd" == kafka ]]; then
    # Kafka alone (a cluster beside the stack, for the multi-instance tests):
    #   STACK_HOME=... KAFKA_PORT=... infra/stack.sh kafka up --brokers 3
    cmd=${1:-}
    shift || true
    parse_flags "$@"
    case "$cmd" in
      up) start_kafka && print_env | grep KAFKA_BROKERS ;;
      down) stop_kafka ;;
      status) status_kafka ;;
      reset) stop_kafka && rm -rf "$kafka_home" && log "kafka data removed from $kafka_home" ;;
      *) die "usage: infra/stack.sh kafka up|down|status|reset [--brokers N]" ;;
    esac
    return
  fi
  parse_flags "$@"
  case "$cmd" in
    up)
      local t0=$SECONDS
      start_postgres
      start_ferretdb
      start_kafka
      log "ready in $((SECONDS - t0))s"
      print_env
      ;;
    down)
      stop_kafka
      stop_one ferretdb "$ferret_home/pid"
      if [[ "$FERRETDB_BACKEND" == postgresql ]]; then stop_postgres; fi
      ;;
    status)
      local rc=0
      status_kafka || rc=1
      status_one ferretdb "$ferret_home/pid" "$FERRETDB_PORT" || rc=1
      if [[ "$FERRETDB_BACKEND" == postgresql ]]; then
        if pg_ready 2>/dev/null; then printf '%-9s running  %-11s 127.0.0.1:%s\n' postgres "" "$PG_PORT"; else printf '%-9s stopped\n' postgres; rc=1; fi
      fi
      return $rc
      ;;
    env) print_env ;;
    reset)
      main down
      rm -rf "$kafka_home" "$ferret_home" "$pg_home"
      log "data removed from $STACK_HOME"
      ;;
    *)
      sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      [[ -n "$cmd" ]] && exit 2
      ;;
  esac
}

parse_flags() {
  while (($# > 0)); do
    case "$1" in
      --brokers)
        [[ "${2:-}" =~ ^[1-9]$ ]] || die "--brokers takes a number of Kafka nodes from 1 to 9"
        KAFKA_NODES=$2
        shift 2
        ;;
      *) die "unknown flag $1" ;;
    esac
  done
}

main "$@"
