#!/usr/bin/env bash
# `make test`: lint, type-check, start the real services, run the whole suite, then prove the
# machine holds nothing the tests made.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
"$venv/bin/mypy"
eval "$(bash scripts/services.sh start)"
export REDIS_URL DATABASE_URL
status=0
"$venv/bin/pytest" "$@" || status=$?
exit $status
