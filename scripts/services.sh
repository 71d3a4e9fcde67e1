#!/usr/bin/env bash
# Starts (or stops) the Redis and PostgreSQL servers the test suite talks to, on loopback only.
# A server named by REDIS_URL or DATABASE_URL is used as it is and never started here.
# `start` prints the export lines for both URLs, so callers can `eval "$(scripts/services.sh start)"`,
# and marks each server it started itself (SWAPADMIN_STARTED_REDIS=1, SWAPADMIN_STARTED_PG=1:
# shell variables, not exported) so that `stop-started`, given those in its environment,
# stops that one and no other: `make test` leaves the machine's servers as it found them.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
state=${SWAPADMIN_SERVICES_DIR:-$here/var/services}
redis_port=${SWAPADMIN_TEST_REDIS_PORT:-6399}
pg_port=${SWAPADMIN_TEST_PG_PORT:-5439}
pg_cluster=swapadmin_test
pg_version=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)

# redis-cli waits for ever on a port held by a server that is not Redis (it answers nothing):
# a bound, so that such a port fails the start instead of hanging it.
ask_redis() { timeout 5 redis-cli -h 127.0.0.1 -p "$redis_port" "$@"; }

# The pid of the Redis that answers on our port, if our pid file names it: after a reboot or
# a crash the file can name a pid the kernel has since given to another process, or a Redis
# of ours on another port (`make services` beside a run with SWAPADMIN_TEST_REDIS_PORT set).
# Neither may be signalled or counted as the one this script started here.
our_redis_pid() {
  local pidfile="$state/redis/redis.pid" pid serving
  [ -f "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  case "$pid" in '' | *[!0-9]*) return 1 ;; esac
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = redis-server ] || return 1
  # Started here with --dir "$state/redis", so it runs there; another Redis does not.
  [ "/proc/$pid/cwd" -ef "$state/redis" ] || return 1
  serving=$(ask_redis info server 2>/dev/null |
    tr -d '\r' | sed -n 's/^process_id://p')
  [ "$serving" = "$pid" ] || return 1
  echo "$pid"
}

start_redis() {
  mkdir -p "$state/redis"
  local pidfile="$state/redis/redis.pid"
  if ! ask_redis ping >/dev/null 2>&1; then
    if (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null; then
      echo "services: Redis did not start on 127.0.0.1:$redis_port: the port is held by a server that does not answer as Redis" >&2
      exit 1
    fi
    redis-server --bind 127.0.0.1 --port "$redis_port" --daemonize yes \
      --dir "$state/redis" --pidfile "$pidfile" --logfile "$state/redis/redis.log" \
      --save '' --appendonly no >/dev/null
    for _ in $(seq 50); do ask_redis ping >/dev/null 2>&1 && break; sleep 0.1; done
    # Marked only once it answers as the server this start made: a start that failed (the
    # port held by something else) has nothing to stop, and must not make a stop kill
    # whatever an old pid file names.
    if ! our_redis_pid >/dev/null; then
      echo "services: Redis did not start on 127.0.0.1:$redis_port (see $state/redis/redis.log)" >&2
      exit 1
    fi
    echo "SWAPADMIN_STARTED_REDIS=1"
  fi
  echo "export REDIS_URL=redis://127.0.0.1:$redis_port/0"
  # Ours (started by this script, answering on the port), with Redis's 16 databases: a test
  # run on it can claim a number of its own. Another server on the port may not.
  if our_redis_pid >/dev/null; then
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
  if ! pg_lsclusters -h | awk -v c="$pg_cluster" '$2 == c && $4 == "online"' | grep -q .; then
    echo "SWAPADMIN_STARTED_PG=1"
    pg_ctlcluster "$pg_version" "$pg_cluster" start >/dev/null 2>&1 || true
  fi
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

stop_redis() {
  local pid
  pid=$(our_redis_pid) || return 0
  kill "$pid" 2>/dev/null || return 0
  # Gone before we return, so a run started right after finds the port free, not closing.
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
  echo "services: Redis (pid $pid) did not stop" >&2
}

stop_postgres() {
  [ -n "$pg_version" ] || return 0
  pg_ctlcluster "$pg_version" "$pg_cluster" stop 2>/dev/null || true
}

case "${1:-start}" in
  start)
    if [ -n "${REDIS_URL:-}" ]; then
      # Quoted for the caller's eval: a URL's password may hold ; ' or spaces.
      printf 'export REDIS_URL=%q\n' "$REDIS_URL"
      printf 'export SWAPADMIN_TEST_OWN_REDIS=%q\n' "${SWAPADMIN_TEST_OWN_REDIS:-0}"
    else
      start_redis
    fi
    if [ -n "${DATABASE_URL:-}" ]; then printf 'export DATABASE_URL=%q\n' "$DATABASE_URL"; else start_postgres; fi
    ;;
  stop)
    stop_redis
    stop_postgres
    ;;
  stop-started)
    if [ "${SWAPADMIN_STARTED_REDIS:-}" = 1 ]; then stop_redis; fi
    if [ "${SWAPADMIN_STARTED_PG:-}" = 1 ]; then stop_postgres; fi
    ;;
  *) echo "usage: $0 start|stop|stop-started" >&2; exit 2 ;;
esac
