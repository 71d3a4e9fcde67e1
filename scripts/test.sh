#!/usr/bin/env bash
# `make test`: start the real services, run the whole suite (the session's last step proves
# the machine holds nothing the tests made), then lint and type-check, and stop the servers
# this run started. Lint runs last so a style slip never hides what the tests say; either
# failing fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
# Marks that came from the caller's environment (a direnv, `set -a`) are not this run's.
unset SWAPADMIN_STARTED_REDIS SWAPADMIN_STARTED_PG
# Stop the servers this run started, and only those, however it ends (an interrupt too, or a
# start that failed half-way): a server that was running before (`make services`, a
# DATABASE_URL) is left as it was. The marks go to the stop alone, never into the suite's
# environment, where a test's own call of the script would read them. A second Ctrl-C while
# the stop runs does not cut it short.
trap 'trap "" INT TERM; SWAPADMIN_STARTED_REDIS=${SWAPADMIN_STARTED_REDIS:-} \
  SWAPADMIN_STARTED_PG=${SWAPADMIN_STARTED_PG:-} bash scripts/services.sh stop-started' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
services=$(bash scripts/services.sh start)
started=$?
# The marks first, also from a start that failed: what it did start is stopped at the exit.
eval "$(printf '%s\n' "$services" | grep -E '^SWAPADMIN_STARTED_(REDIS|PG)=1$')"
[ "$started" = 0 ] || exit 1
eval "$services" || exit 1
export REDIS_URL DATABASE_URL
status=0
# The 30 slowest tests, so a round that grew slower says where.
"$venv/bin/pytest" --durations=30 "$@" || status=$?
"$venv/bin/ruff" check . || status=1
"$venv/bin/ruff" format --check . || status=1
"$venv/bin/mypy" || status=1
exit $status
