#!/usr/bin/env bash
# `make test`: start the real services, run the whole suite (the session's last step proves
# the machine holds nothing the tests made), then lint and type-check. Lint runs last so a
# style slip never hides what the tests say; either failing fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
eval "$(bash scripts/services.sh start)" || exit 1
export REDIS_URL DATABASE_URL
status=0
# The 30 slowest tests, so a round that grew slower says where.
"$venv/bin/pytest" --durations=30 "$@" || status=$?
"$venv/bin/ruff" check . || status=1
"$venv/bin/ruff" format --check . || status=1
"$venv/bin/mypy" || status=1
exit $status
