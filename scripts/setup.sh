#!/usr/bin/env bash
# Installs everything the build, the tests and the demo need, on a fresh machine.
# Idempotent: each part leaves a stamp keyed on its inputs and is skipped when nothing changed.
# Usage: scripts/setup.sh [apt|python|sam|node|rust|checkov|kafka|all]...
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
STAMPS="$ROOT/.cache/stamps"
mkdir -p "$STAMPS"

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }

# stamp NAME FILE... : true when the stamp matches the hash of the given files
stamp_ok() {
  local name=$1; shift
  local want; want=$(cat "$@" 2>/dev/null | sha256sum | cut -c1-16)
  [ -f "$STAMPS/$name" ] && [ "$(cat "$STAMPS/$name")" = "$want" ]
}
stamp_write() {
  local name=$1; shift
  cat "$@" 2>/dev/null | sha256sum | cut -c1-16 > "$STAMPS/$name"
}

APT_PACKAGES=(cmake libcurl4-openssl-dev iproute2 chromium chromium-driver fonts-dejavu-core patch shellcheck nftables)

setup_apt() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

setup_python() {
  stamp_ok python tools/requirements.txt && [ -x .venv/bin/python ] && return 0
  log "python venv .venv (moto, boto3, pytest, cargo-lambda)"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r tools/requirements.txt
  stamp_write python tools/requirements.txt
}

setup_sam() {
  stamp_ok sam tools/requirements-sam.txt && [ -x .venv-sam/bin/sam ] && return 0
  log "SAM CLI venv .venv-sam"
  [ -x .venv-sam/bin/python ] || python3 -m venv .venv-sam
  .venv-sam/bin/pip install -q --upgrade pip
  .venv-sam/bin/pip install -q -r tools/requirements-sam.txt
  stamp_write sam tools/requirements-sam.txt
}

setup_node() {
  stamp_ok node tools/package.json tools/package-lock.json && [ -d tools/node_modules ] && return 0
  log "npm tools (asl-validator, playwright-core)"
  (cd tools && npm ci --no-audit --no-fund --silent)
  stamp_write node tools/package.json tools/package-lock.json
}

setup_rust() {
  # cargo-lambda cross-builds the Lambdas for arm64 (Graviton); its zig linker comes from the venv.
  if ! rustup target list --installed | grep -q '^aarch64-unknown-linux-gnu$'; then
    log "rustup target add aarch64-unknown-linux-gnu"
    RUSTUP_AUTO_INSTALL=1 rustup target add aarch64-unknown-linux-gnu
  fi
}

setup_checkov() {
  # checkov pins old boto3/networkx/packaging, so it lives in its own venv (.venv-checkov).
  scripts/validate.sh ensure-checkov
}

setup_kafka() {
  if [ -x local/kafka/fetch.sh ]; then
    local/kafka/fetch.sh
  fi
}

parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(all)
for part in "${parts[@]}"; do
  case "$part" in
    apt) setup_apt ;;
    python) setup_python ;;
    sam) setup_sam ;;
    node) setup_node ;;
    rust) setup_rust ;;
    kafka) setup_kafka ;;
    checkov) setup_checkov ;;
    all) setup_apt; setup_python; setup_sam; setup_node; setup_rust; setup_checkov; setup_kafka ;;
    *) echo "setup.sh: unknown part '$part' (apt|python|sam|node|rust|checkov|kafka|all)" >&2; exit 2 ;;
  esac
done
