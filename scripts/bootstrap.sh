#!/usr/bin/env bash
# Installs what the repository needs from the package registries, once:
# node_modules from the lockfile (npm ci) when missing or older than the lockfile.
# Kafka jars and FerretDB are provisioned by infra/stack.sh when the stack starts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need_node=20.19.0
have_node=$(node -p 'process.versions.node' 2>/dev/null || echo 0)
if ! node -e "const [a,b,c]='$have_node'.split('.').map(Number),[x,y,z]='$need_node'.split('.').map(Number);process.exit(a>x||(a===x&&(b>y||(b===y&&c>=z)))?0:1)" 2>/dev/null; then
  echo "error: Node.js >= $need_node is required (found ${have_node})" >&2
  exit 1
fi

if [[ ! -d node_modules || ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "[bootstrap] installing dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
