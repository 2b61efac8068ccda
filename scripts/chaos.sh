#!/usr/bin/env bash
# The fault suite:
#   npm run chaos [-- --trials 2 --cases 150]
# kill -9 of PostgreSQL, FerretDB, case-intake, one of two scoring and one of
# two reporting instances, and a Kafka restart, each at a random moment of a
# streamed year on a private stack; checks nothing acknowledged is lost or
# doubled, the rules' actions, annual figures and scores against their
# oracles, and writes docs/chaos/latest.md (--faults picks faults,
# --trial-minutes sets each trial's deadline; --intakes 2 --faults failover
# kills an intake for good while Kafka is frozen and fails its clients over
# to the other).
# `npm test` runs the PostgreSQL and intake faults once each
# (tests/faults/durability.int.test.ts, tests/e2e/cli-outage.int.test.ts).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/bootstrap.sh
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
npx turbo run build --output-logs=errors-only >/dev/null
# The results are written (and formatted) whether or not every trial held.
status=0
npx tsx tests/chaos/run.ts "$@" || status=$?
npx prettier --write docs/chaos/*.md --log-level=warn
exit "$status"
