#!/usr/bin/env bash
# The main job:
#   npm run demo [-- --cases 1000 --year 2021 --seed liuzhou --no-console]
# Installs, builds, brings up the local stack (Kafka + FerretDB, or the
# endpoints in KAFKA_BROKERS / MONGODB_URI), runs a smoke round trip through
# every real part, starts case-intake, supervision-scoring and reporting,
# streams a generated year of the city's enforcement through SubmitEvents,
# waits for the projections to catch up and prints the year's statistics,
# the best and worst agencies, the open orders and the path of the HTML
# report (.stack/reports/). It ends by starting the supervision console and
# printing its address; the console and the services run until Ctrl-C
# (`--no-console` stops them at once instead). The stack stays up for the
# next run (`npm run stack:down` stops it). Running it twice is harmless: the
# same commands are recognised and nothing is counted twice.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/bootstrap.sh
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
npx turbo run build --output-logs=errors-only >/dev/null

if [[ -z "${KAFKA_BROKERS:-}" || -z "${MONGODB_URI:-}" ]]; then
  eval "$(bash infra/stack.sh up)"
fi
node scripts/smoke.mjs

logs=.stack/logs
# The build each service reports (GetServerInfo, the console's operations page).
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
mkdir -p "$logs"
pids=()
names=()
stop_services() {
  local peaks=()
  for i in "${!pids[@]}"; do
    local hwm
    hwm=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/${pids[$i]}/status" 2>/dev/null || true)
    [[ -n "$hwm" ]] && peaks+=("${names[$i]} ${hwm} MiB")
  done
  ((${#peaks[@]})) && echo "peak memory: $(IFS=,; echo "${peaks[*]}" | sed 's/,/, /g')"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_services EXIT

start() {
  local name=$1 port=$2
  shift 2
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "error: port $port for $name is taken; stop what holds it" >&2
    exit 1
  fi
  env GRPC_PORT="$port" OTEL_SERVICE_NAME="$name" ENFORCEMENT_ENV=development GIT_COMMIT="$commit" "$@" node --enable-source-maps --import @enforcement/telemetry/register "apps/$name/dist/main.js" >"$logs/$name.log" 2>&1 &
  pids+=($!)
  names+=("$name")
  for _ in $(seq 1 120); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || { tail -n 20 "$logs/$name.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "error: $name did not listen on $port; see $logs/$name.log" >&2
  exit 1
}

# One world per year, size and seed: its own topics and databases, so a run
# of another size starts clean and the same run again finds its own data.
cases=1000 year=2021 seed=liuzhou with_console=1
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --no-console) with_console=0 ;;
    --cases) cases=${args[$((i + 1))]:-} ;;
    --year) year=${args[$((i + 1))]:-} ;;
    --seed) seed=${args[$((i + 1))]:-} ;;
  esac
done
# "k": worlds of keyed hash chains; one written before chains were keyed
# would not verify (docs/security.md), so it is left alone, not reused.
world="demo-${year}-${cases}-${seed//[^a-zA-Z0-9]/}-k"
db="${world//-/_}"
export TOPIC_NAMESPACE="$world"

start case-intake 50051 MONGODB_DB="${db}_intake"
start supervision-scoring 50052 MONGODB_DB="${db}_scoring" INTAKE_ADDRESS=127.0.0.1:50051 RULES_TICK_MS=2000 RULES_CLOCK=events
start reporting 50053 MONGODB_DB="${db}_reporting"
echo "services: case-intake 127.0.0.1:50051, supervision-scoring 127.0.0.1:50052, reporting 127.0.0.1:50053 (logs in $logs, topics ${world}.*)"
npx tsx tests/demo/year.ts --intake 127.0.0.1:50051 --scoring 127.0.0.1:50052 --reporting 127.0.0.1:50053 --cases "$cases" --year "$year" --seed "$seed"

if ((with_console)); then
  console_port=${CONSOLE_PORT:-8080}
  if (exec 3<>"/dev/tcp/127.0.0.1/$console_port") 2>/dev/null; then
    echo "error: port $console_port for the console is taken; stop what holds it or set CONSOLE_PORT" >&2
    exit 1
  fi
  env CONSOLE_PORT="$console_port" CONSOLE_SIGN_IN=development ENFORCEMENT_ENV=development \
    CONSOLE_DEFAULT_YEAR="$year" OTEL_SERVICE_NAME=console \
    node --enable-source-maps --import @enforcement/telemetry/register apps/console/dist/server/main.js >"$logs/console.log" 2>&1 &
  pids+=($!)
  names+=(console)
  for _ in $(seq 1 60); do
    (exec 3<>"/dev/tcp/127.0.0.1/$console_port") 2>/dev/null && break
    kill -0 "${pids[-1]}" 2>/dev/null || { tail -n 20 "$logs/console.log" >&2; exit 1; }
    sleep 0.5
  done
  echo
  echo "console: http://127.0.0.1:$console_port/ (sign in with the development role picker: supervisor, an agency, or reporting)"
  echo "the console and the services run until Ctrl-C"
  trap 'exit 0' INT TERM
  wait "${pids[-1]}" || true
fi
