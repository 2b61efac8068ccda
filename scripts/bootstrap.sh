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

# The printed report (PDF) and its layout tests drive Debian's Chromium, with
# the Noto CJK fonts to set Chinese in; a browser that a tool downloads at
# install time cannot be fetched here.
if [[ -z "${CHROMIUM:-}" ]] && ! { command -v chromium >/dev/null && fc-list : family 2>/dev/null | grep -c 'Noto Sans CJK' >/dev/null; }; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "[bootstrap] installing Chromium and CJK fonts from Debian's packages (once per machine)" >&2
    mkdir -p .stack
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
      >.stack/chromium-install.log 2>&1 || {
      echo "error: installing chromium failed; see .stack/chromium-install.log" >&2
      exit 1
    }
  else
    echo "error: Chromium or the Noto CJK fonts not found: install Debian's chromium and fonts-noto-cjk, or set \$CHROMIUM to a browser" >&2
    exit 1
  fi
fi
