#!/usr/bin/env bash
# The benchmark command:
#   npm run bench [-- --cases 2000 --streams 4 --score-cases 100000 --queries 500]
# Brings the stack up if needed, runs every measurement beside the raw limit
# of this machine in the same run, prints the table and writes it to
# docs/bench/latest.{md,json}.
#   npm run bench:report [-- --events 1000000]
# times the annual report at a year of that many events (docs/bench/report-latest.*).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/bootstrap.sh
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
npx turbo run build --output-logs=errors-only >/dev/null
if [[ -z "${KAFKA_BROKERS:-}" || -z "${MONGODB_URI:-}" ]]; then
  eval "$(bash infra/stack.sh up)"
fi
if [[ "${1:-}" == "report" ]]; then
  shift
  exec npx tsx tests/bench/report.ts "$@"
fi
exec npx tsx tests/bench/run.ts "$@"
