#!/usr/bin/env bash
# Starts (or stops) the Redis and PostgreSQL servers the test suite talks to, on loopback only.
# A server named by REDIS_URL or DATABASE_URL is used as it is and never started here.
# `start` prints the export lines for both URLs, so callers can `eval "$(scripts/services.sh start)"`.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
state=${SWAPADMIN_SERVICES_DIR:-$here/var/services}
redis_port=${SWAPADMIN_TEST_REDIS_PORT:-6399}
pg_port=${SWAPADMIN_TEST_PG_PORT:-5439}
pg_cluster=swapadmin_test
pg_version=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)

start_redis() {
  mkdir -p "$state/redis"
  local pidfile="$state/redis/redis.pid"
  if ! redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1; then
    redis-server --bind 127.0.0.1 --port "$redis_port" --daemonize yes \
      --dir "$state/redis" --pidfile "$pidfile" --logfile "$state/redis/redis.log" \
      --save '' --appendonly no >/dev/null
    for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
  echo "export REDIS_URL=redis://127.0.0.1:$redis_port/0"
  # Ours (started by this script, its pid file's process alive), with Redis's 16 databases:
  # a test run on it can claim a number of its own. Another server on the port may not.
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "export SWAPADMIN_TEST_OWN_REDIS=1"
  else
    echo "export SWAPADMIN_TEST_OWN_REDIS=0"
  fi
}

start_postgres() {
  [ -n "$pg_version" ] || { echo "services: PostgreSQL is not installed (make deps)" >&2; exit 1; }
  if ! pg_lsclusters -h | awk '{print $2}' | grep -qx "$pg_cluster"; then
    # A cluster of our own, so the machine's default one (if any) is never touched.
    pg_createcluster "$pg_version" "$pg_cluster" -p "$pg_port" -- --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  fi
  pg_ctlcluster "$pg_version" "$pg_cluster" start >/dev/null 2>&1 || true
  for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p "$pg_port" && break; sleep 0.1; done
  # CREATEDB: pytest-django creates and drops its own test database.
  su postgres -c "psql -q -p $pg_port -tAc \"SELECT 1 FROM pg_roles WHERE rolname='swapadmin'\"" | grep -q 1 ||
    su postgres -c "psql -q -p $pg_port -c \"CREATE ROLE swapadmin LOGIN CREATEDB PASSWORD 'swapadmin'\"" >/dev/null
  # CREATEROLE: enroll-host makes a login role per host (tests/security enrol hosts A and B).
  su postgres -c "psql -q -p $pg_port -c \"ALTER ROLE swapadmin CREATEROLE\"" >/dev/null
  su postgres -c "psql -q -p $pg_port -tAc \"SELECT 1 FROM pg_database WHERE datname='swapadmin'\"" | grep -q 1 ||
    su postgres -c "createdb -p $pg_port -O swapadmin swapadmin" >/dev/null
  echo "export DATABASE_URL=postgres://swapadmin:swapadmin@127.0.0.1:$pg_port/swapadmin"
}

case "${1:-start}" in
  start)
    if [ -n "${REDIS_URL:-}" ]; then
      echo "export REDIS_URL=$REDIS_URL"
      echo "export SWAPADMIN_TEST_OWN_REDIS=${SWAPADMIN_TEST_OWN_REDIS:-0}"
    else
      start_redis
    fi
    if [ -n "${DATABASE_URL:-}" ]; then echo "export DATABASE_URL=$DATABASE_URL"; else start_postgres; fi
    ;;
  stop)
    [ -f "$state/redis/redis.pid" ] && kill "$(cat "$state/redis/redis.pid")" 2>/dev/null || true
    [ -n "$pg_version" ] && pg_ctlcluster "$pg_version" "$pg_cluster" stop 2>/dev/null || true
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
