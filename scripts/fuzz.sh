#!/usr/bin/env bash
# The full fuzz run:
#   npm run fuzz                 # 2,000 inputs per property (FUZZ_RUNS=2000)
#   FUZZ_RUNS=10000 npm run fuzz
# Random bytes and random field values (fast-check) into intake's unary
# calls, SubmitEvents streams and the Kafka ingress, on the real stack; each
# input must be answered, none INTERNAL, health must stay SERVING and earlier
# histories unchanged; and a case's steps dated at random, each taken exactly
# when it precedes no step it follows (docs/intake.md). Writes docs/fuzz/latest.md. The same into scoring's
# and reporting's queries over a loaded year, from every kind of caller
# (per FUZZ_RUN: 10 requests of random field values, 10 requests it answers
# with some fields changed at random, 2 of random bytes),
# written to docs/fuzz/queries.md. Then the supervision rules
# against their specification (tests/scoring/rules-oracle.int.test.ts) on
# RULES_ORACLE_RUNS (30) random histories sent through SubmitEvents streams and
# RULES_ORACLE_INGRESS_RUNS (12) published to the Kafka ingress, written to
# docs/fuzz/rules-oracle.md,
# and ReadAll against its oracle on READ_ALL_RUNS (100) random stores.
# `npm test` runs the same properties with 15 runs each, 4 and 2 histories and 12 stores.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/bootstrap.sh
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
npx turbo run build --output-logs=errors-only >/dev/null
mkdir -p docs/fuzz
FUZZ_RUNS=${FUZZ_RUNS:-2000} GIT_COMMIT=$(git rev-parse --short HEAD) \
  FUZZ_REPORT=docs/fuzz/latest.md FUZZ_QUERIES_REPORT=docs/fuzz/queries.md \
  npx vitest run --project integration tests/fuzz
RULES_ORACLE_RUNS=${RULES_ORACLE_RUNS:-30} RULES_ORACLE_INGRESS_RUNS=${RULES_ORACLE_INGRESS_RUNS:-12} GIT_COMMIT=$(git rev-parse --short HEAD) \
  RULES_ORACLE_REPORT=docs/fuzz/rules-oracle.md npx vitest run --project integration tests/scoring/rules-oracle.int.test.ts
READ_ALL_RUNS=${READ_ALL_RUNS:-100} npx vitest run --project integration \
  apps/case-intake/src/adapters/mongo/read-all.int.test.ts
npx prettier --write docs/fuzz/latest.md docs/fuzz/queries.md docs/fuzz/rules-oracle.md --log-level=warn
cat docs/fuzz/latest.md docs/fuzz/queries.md docs/fuzz/rules-oracle.md
