#!/usr/bin/env bash
# Validation of the deployable stack (template.yaml, statemachine/, infra/), outside pytest too.
# Usage: scripts/validate.sh [all|ensure-checkov]
#   all             run tests/infra (sam validate --lint, cfn-lint, asl-validator, substitution and
#                   workspace cross-checks, least-privilege check, checkov, terraform fmt/validate/test,
#                   sam build)
#   ensure-checkov  install checkov into .venv-checkov (own venv: its pins clash with .venv)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
log() { printf '\033[1;34m[validate]\033[0m %s\n' "$*" >&2; }

ensure_checkov() {
  local req=tests/infra/requirements-checkov.txt stamp=.cache/stamps/checkov want
  want=$(sha256sum "$req" | cut -c1-16)
  if [ -x .venv-checkov/bin/checkov ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  log "checkov venv .venv-checkov"
  [ -x .venv-checkov/bin/python ] || python3 -m venv .venv-checkov
  .venv-checkov/bin/pip install -q --upgrade pip
  .venv-checkov/bin/pip install -q -r "$req"
  mkdir -p .cache/stamps
  echo "$want" > "$stamp"
}

case "${1:-all}" in
  ensure-checkov) ensure_checkov ;;
  all) ensure_checkov; exec "$ROOT/.venv/bin/python" -m pytest -q tests/infra ;;
  *) echo "validate.sh: unknown step '$1' (all|ensure-checkov)" >&2; exit 2 ;;
esac
