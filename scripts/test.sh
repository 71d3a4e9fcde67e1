#!/usr/bin/env bash
# `make test`: start the real services, run the whole suite (the session's last step proves
# the machine holds nothing the tests made), then lint and type-check, and stop the servers
# this run started. Lint runs last so a style slip never hides what the tests say; either
# failing fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
services=$(bash scripts/services.sh start) || exit 1
eval "$services"
export REDIS_URL DATABASE_URL
# Stop the servers this run started, and only those, however it ends (an interrupt too): a
# server that was running before (`make services`, a DATABASE_URL) is left as it was. The
# marks go to the stop alone, never into the suite's environment, where a test's own call of
# the script would read them.
trap 'SWAPADMIN_STARTED_REDIS=${SWAPADMIN_STARTED_REDIS:-} SWAPADMIN_STARTED_PG=${SWAPADMIN_STARTED_PG:-} \
  bash scripts/services.sh stop-started' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
status=0
# The 30 slowest tests, so a round that grew slower says where.
"$venv/bin/pytest" --durations=30 "$@" || status=$?
"$venv/bin/ruff" check . || status=1
"$venv/bin/ruff" format --check . || status=1
"$venv/bin/mypy" || status=1
exit $status
