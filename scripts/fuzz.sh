#!/usr/bin/env bash
# The full fuzz run:
#   npm run fuzz                 # 2,000 inputs per property (FUZZ_RUNS=2000)
#   FUZZ_RUNS=10000 npm run fuzz
# Random bytes and random field values (fast-check) into intake's unary
# calls, SubmitEvents streams and the Kafka ingress, on the real stack; each
# input must be answered, none INTERNAL, health must stay SERVING and earlier
# histories unchanged. Writes docs/fuzz/latest.md. `npm test` runs the same
# properties with 15 runs each.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/bootstrap.sh
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
npx turbo run build --output-logs=errors-only >/dev/null
mkdir -p docs/fuzz
FUZZ_RUNS=${FUZZ_RUNS:-2000} GIT_COMMIT=$(git rev-parse --short HEAD) \
  FUZZ_REPORT=docs/fuzz/latest.md npx vitest run --project integration tests/fuzz
npx prettier --write docs/fuzz/latest.md --log-level=warn
cat docs/fuzz/latest.md
