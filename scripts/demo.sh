#!/usr/bin/env bash
# The main job:
#   npm run demo
# Installs, builds, brings up the local stack (Kafka + FerretDB, or the
# endpoints in KAFKA_BROKERS / MONGODB_URI) and runs a smoke round trip
# through Kafka, MongoDB and a gRPC server built from the contracts.
# Running it twice is harmless; `npm run stack:down` stops the stack.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/bootstrap.sh
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
npx turbo run build --output-logs=errors-only >/dev/null

if [[ -z "${KAFKA_BROKERS:-}" || -z "${MONGODB_URI:-}" ]]; then
  eval "$(bash infra/stack.sh up)"
fi
node scripts/smoke.mjs
