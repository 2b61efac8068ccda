#!/usr/bin/env bash
# Every test, on a fresh clone with nothing installed by hand:
#   npm test
# Installs dependencies, checks that generated contracts match proto/, builds,
# lints (TypeScript and protos), checks formatting and architecture boundaries,
# then runs the unit tier and the integration tier. The integration tier brings
# up the real stack itself (packages/testing) and takes down what it started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/bootstrap.sh
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1

step() { printf '\n== %s\n' "$*"; }

step "build (fails when packages/contracts/src/gen is stale against proto/)"
npx turbo run build --output-logs=errors-only
step "lint, typecheck"
npx turbo run lint typecheck --output-logs=errors-only
npx buf lint proto
npx prettier --check . --log-level=warn
step "architecture boundaries"
npx depcruise apps packages tests --config .dependency-cruiser.cjs
step "tests: unit, then integration on the real stack"
npx vitest run
