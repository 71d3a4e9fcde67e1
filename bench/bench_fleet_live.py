"""A live fleet on one control plane: synthetic hosts sampling and heartbeating at the real rate
through the real path, while a reader opens the pages and API lists a user opens.

What a host's worker sends, and how (core/sampler.py, core/worker.py, core/liveness.py):
- every ``min(SWAPADMIN_SAMPLE_SECONDS, SWAPADMIN_HEARTBEAT_SECONDS)`` its Sampler thread
  gets its Host row, settles dead jobs if it has any (``host_settled``) and stores a reading
  (``store_sample``): the Sample, the Host snapshot and heartbeat (``last_heartbeat``, the
  host's only heartbeat) and its backends' observed state, straight to the database as the
  host's own PostgreSQL role (``enroll``: row-level security keys on it);
- job heartbeats (liveness.py) are written only for running jobs: a synthetic host runs none;
- nothing of it goes through the broker: an enrolled host's worker runs without heartbeat
  events, gossip and mingle, and only waits on its own queue (BRPOP), which is not simulated.

So each synthetic host here is a database role of its own, made by enroll's own role-making
function with its grants, and a ``HostCredential`` row (the policies read it); every tick runs
the Sampler's loop body under that role (``SET ROLE``): ``close_old_connections``, the Host
row and what settles (``host_settled``), ``store_sample`` of a reading recorded once per host
(bench_control_plane.py's ``recorded_reading``, table 4's), stamped when stored. Host ``i`` of
N is due at ``start + i/N * period`` and every period after. A few writer processes carry the
hosts, not one connection per host: PostgreSQL here allows 100 connections, and 5,000 hosts
would hold 5,000 or more (docs/ARCHITECTURE.md, "Ingestion beyond one database machine"); so
the logins a real fleet makes are not measured, only what each sample costs once logged in.

Meanwhile one reader (a person, or a script) opens, in turn, the overview (plain, sorted by
health, searched), a host page and API lists under gunicorn, a pause between requests.
Reported: p50/p95 per page, the samples/s stored against the target (N / period), how late
samples land (commit time minus due time), and the hosts the database judges online at the end.

    .venv/bin/python bench/bench_fleet_live.py [--hosts 5000] [--seconds 60] [--writers 4]

Leaves nothing behind: the scratch database is dropped, the roles dropped, every process
stopped, on an error, Ctrl-C or SIGTERM too.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402

from bench.bench_control_plane import (  # noqa: E402
    _child,
    recorded_reading,
    seed_ingest_hosts,
)
from bench.bench_control_plane_load import Tally, credentials, timed_get  # noqa: E402
from bench.load_stack import (  # noqa: E402
    bench_database,
    gunicorn,
    machine,
    median,
    percentile,
    services_env,
    setup_django,
)
from swapadmin.enroll.rls import hosts_group  # noqa: E402

HOSTS = 5000
SECONDS = 60.0
#: Writer processes. PostgreSQL overlaps one writer's round trips with another's work, so one
#: is too few; past 4, table 4 of docs/BENCHMARKS-control-plane.md gained little on 2 CPUs,
#: and each process more is one more connection and interpreter competing for them.
WRITERS = 4
READER_PAUSE = 0.5  # seconds between the reader's requests
GUNICORN_WORKERS = 3
START_IN = 3.0  # seconds for the writers to load their hosts before the first is due


# ---- the hosts' own roles (enroll) ----


def role_prefix() -> str:
    return f"swapadmin_bench_{os.getpid()}_"


@contextlib.contextmanager
def dropped_roles(admin_url: str, prefix: str, database: str) -> Iterator[None]:
    """Every role whose name starts with ``prefix``, and ``database``'s hosts group, is
    dropped on the way out (roles belong to the server, not the scratch database: they
    outlive its DROP). Enter before the database: its grants there are gone with it, and
    only then may the roles go."""
    import psycopg

    names: list[str] = []
    try:
        yield
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            names = [r[0] for r in conn.execute(
                "SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)", (prefix,)
            )]  # fmt: skip
            # Last: the hosts' group (enroll.rls), made by the first enrolment.
            names += [r[0] for r in conn.execute(
                "SELECT rolname FROM pg_roles WHERE rolname = %s", (hosts_group(database),)
            )]  # fmt: skip
            for name in names:
                conn.execute(f'DROP ROLE IF EXISTS "{name}"')
        if names:
            print(f"dropped {len(names):,} host roles", flush=True)


@contextlib.contextmanager
def dropped_database(admin_url: str) -> Iterator[None]:
    """The scratch database ``bench_database`` names, dropped on the way out if it is still
    there: its own cleanup stops at the first session it may not end (an autovacuum worker
    is the superuser's, and the enrolment's catalog churn calls one in), and leaves it."""
    import psycopg

    name = f"swapadmin_bench_{os.getpid()}"
    try:
        yield
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                "AND usename = current_user AND pid <> pg_backend_pid()",
                (name,),
            )
            # DROP DATABASE itself ends an autovacuum worker there.
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _enroll_share(host_ids: list[int], prefix: str) -> int:
    """The database half of ``enroll.services.enroll`` for each host: a role of its own with
    the grants of ``enroll.rls`` (by enroll's own function) and its live HostCredential. No
    password (the bench never logs in as it: see the module's docstring), no broker user (the
    simulation sends nothing through the broker)."""
    from django.db import transaction

    from swapadmin.enroll.models import HostCredential
    from swapadmin.enroll.services import _create_role

    # A transaction per hundred hosts, not one for all: each GRANT rewrites its table's ACL
    # (one entry per host role), and the old versions are pruned only once committed.
    for i in range(0, len(host_ids), 100):
        with transaction.atomic():
            credentials = []
            for pk in host_ids[i : i + 100]:
                role = f"{prefix}{pk}"
                _create_role(role, None)  # type: ignore[arg-type]  # PASSWORD NULL: no login
                credentials.append(HostCredential(host_id=pk, pg_role=role, redis_user=role))
            HostCredential.objects.bulk_create(credentials)
    return len(host_ids)


# ---- the writers: the Sampler's loop body, per host, at its due times ----


def _set_role(role: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {connection.ops.quote_name(role)}")


def _sample_as_host(name: str, role: str, reading: Any) -> None:
    """One turn of ``Sampler.run``'s loop for host ``name``, as its role."""
    from dataclasses import replace

    from django.db import close_old_connections
    from django.utils import timezone

    from swapadmin.core.sampler import host_settled, store_sample

    close_old_connections()  # the Sampler's: CONN_MAX_AGE, health checks
    _set_role(role)
    store_sample(host_settled(name), replace(reading, at=timezone.now()))


def _write(
    share: list[tuple[int, int]], total: int, start: float, seconds: float, period: float
) -> tuple[int, int, list[float], float]:
    """Sample the hosts of ``share`` ((fleet index, key) pairs) at their due times until
    ``start + seconds`` (CLOCK_MONOTONIC: the same in every process). Returns (stored, due
    but not stored, lag of each stored sample in ms, CPU seconds of this process)."""
    from swapadmin.core.models import Host
    from swapadmin.core.sampler import Reading, read_host
    from swapadmin.enroll.models import HostCredential

    base = read_host(Reading())
    keys = [pk for _, pk in share]
    names = dict(Host.objects.filter(pk__in=keys).values_list("pk", "name"))
    roles = dict(HostCredential.objects.filter(host_id__in=keys).values_list("host_id", "pg_role"))
    hosts = [(i * period / total, names[pk], roles[pk], recorded_reading(base, i))
             for i, pk in sorted(share)]  # fmt: skip
    end = start + seconds
    lags: list[float] = []
    missed = 0
    cpu0 = time.process_time()
    for round_start in _rounds(start, end, period):
        for offset, name, role, reading in hosts:
            due = round_start + offset
            if due >= end:
                break
            now = time.monotonic()
            if now >= end:
                missed += 1  # due, and the run ended before its turn came
                continue
            if due > now:
                time.sleep(due - now)
            _sample_as_host(name, role, reading)
            lags.append((time.monotonic() - due) * 1000)
    return len(lags), missed, lags, time.process_time() - cpu0


def _rounds(start: float, end: float, period: float) -> Iterator[float]:
    at = start
    while at < end:
        yield at
        at += period


@contextlib.contextmanager
def writer_processes(shares: list[tuple[Any, ...]]) -> Iterator[Any]:
    """``_write(*share)`` in one forked process per share, all at once; yields a function that
    waits for their results. Every process is killed on the way out, whatever happened."""
    from django.db import connections

    connections.close_all()  # never share the parent's socket
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_child, args=(_write, share, out)) for share in shares]
    for p in procs:
        p.start()

    def results(timeout: float) -> list[Any]:
        got: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(got) < len(procs):
            try:
                got.append(out.get(timeout=1.0))
            except queue.Empty:
                # A writer that raised puts nothing: say so now, not at the timeout.
                failed = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                if failed:
                    raise RuntimeError(f"a writer failed (exit {failed[0]}): see above") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the writers did not finish in {timeout:.0f} s") from None
        return got

    try:
        yield results
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
            p.join(timeout=10)


# ---- the reader ----


def reader_pages(hosts: list[str]) -> list[tuple[str, str, str, dict[str, str]]]:
    """(name, url, the text a good answer holds, headers) of what the reader opens in turn;
    the host page's url is filled in per turn, round the fleet."""
    return [
        ("overview", "/", "<html", {}),
        ("overview sorted by health", "/?sort=health", "<html", {}),
        ("overview searched", "/?q=ingest-00", "<html", {}),
        ("overview live partial (htmx)", "/", '<section id="live"',
         {"HX-Request": "true", "HX-Target": "live"}),
        ("host page", "/hosts/{host}/", "<html", {}),
        ("API hosts/?page_size=1000", "/api/v1/hosts/?page_size=1000", '"results"', {}),
        ("API backends/?page_size=1000", "/api/v1/backends/?page_size=1000", '"results"', {}),
        ("API backends/ (default page)", "/api/v1/backends/", '"results"', {}),
    ]  # fmt: skip


def read_while(url: str, hosts: list[str], end: float, pause: float) -> dict[str, Tally]:
    """Open every page in turn until ``end`` (monotonic); each page's latencies."""
    sessions, token = credentials(1)
    pages = reader_pages(hosts)
    tallies = {name: Tally() for name, *_ in pages}
    page = httpx.Client(base_url=url, cookies={"sessionid": sessions[0]}, timeout=60)
    api = httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"}, timeout=60)
    turn = 0
    with page, api:
        while time.monotonic() < end:
            for name, path, expect, headers in pages:
                if time.monotonic() >= end:
                    break
                client = api if path.startswith("/api/") else page
                path = path.format(host=hosts[turn % len(hosts)])
                timed_get(client, path, tallies[name], expect, headers=headers)
                time.sleep(pause)
            turn += 1
    return tallies


# ---- the run ----


def run(args: argparse.Namespace) -> str:
    from django.conf import settings

    period = min(settings.SWAPADMIN_SAMPLE_SECONDS, settings.SWAPADMIN_HEARTBEAT_SECONDS)
    t0 = time.monotonic()
    ids = seed_ingest_hosts(args.hosts)
    seeded = time.monotonic() - t0
    t0 = time.monotonic()
    # One process: GRANTs on the same table from two sessions at once fail ("tuple
    # concurrently updated"), as two enrolments at once would.
    _enroll_share(ids, role_prefix())
    enrolled = time.monotonic() - t0
    print(f"{args.hosts:,} hosts seeded in {seeded:.0f} s, each enrolled with a role of its "
          f"own in {enrolled:.0f} s", flush=True)  # fmt: skip
    from swapadmin.core.models import Host

    uuids = [str(u) for u in Host.objects.filter(pk__in=ids[:: max(1, len(ids) // 50)])
             .values_list("uuid", flat=True)]  # fmt: skip
    indexed = list(enumerate(ids))
    start = time.monotonic() + START_IN
    shares = [(indexed[i :: args.writers], len(ids), start, args.seconds, period)
              for i in range(args.writers)]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="swapadmin-bench-live-") as tmp:
        env = {k: os.environ[k] for k in ("DATABASE_URL", "REDIS_URL", "SWAPADMIN_DATA_DIR")}
        with gunicorn(env, Path(tmp), GUNICORN_WORKERS) as url, \
                writer_processes(shares) as results:  # fmt: skip
            time.sleep(max(0.0, start - time.monotonic()))
            tallies = read_while(url, uuids, start + args.seconds, args.pause)
            written = results(timeout=args.seconds + 600)
            online = Host.objects.filter(pk__in=ids).online().count()
    return report(args, period, written, tallies, online)


def report(
    args: argparse.Namespace, period: float, written: list[Any], tallies: dict[str, Tally],
    online: int,
) -> str:  # fmt: skip
    stored = sum(w[0] for w in written)
    missed = sum(w[1] for w in written)
    lags = [lag for w in written for lag in w[2]]
    cpu_ms = 1000 * sum(w[3] for w in written) / max(1, stored)
    target = args.hosts / period
    rate = stored / args.seconds
    lines = [
        f"{args.hosts:,} synthetic hosts (8 backends each, 4 active), each due every "
        f"{period:g} s, carried by {args.writers} writer processes for {args.seconds:g} s; "
        "each sample the Sampler's loop body as the host's own role (host_settled, "
        f"store_sample). One reader, {args.pause:g} s between requests, gunicorn with "
        f"{GUNICORN_WORKERS} sync workers, PostgreSQL and Redis on the same 2 CPUs.",
        "",
        "| samples/s target | samples/s stored | of target | due, not stored | lag p50 ms "
        "| lag p95 ms | lag max ms | writer CPU ms a sample | hosts online at the end |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {target:,.0f} | {rate:,.0f} | {rate / target:.0%} | {missed:,} "
        f"| {median(lags):,.0f} | {percentile(lags, 95):,.0f} | {max(lags, default=0):,.0f} "
        f"| {cpu_ms:.2f} | {online:,} of {args.hosts:,} |",
        "",
        "| page, while the fleet samples | requests | p50 ms | p95 ms | max ms | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, t in tallies.items():
        lat = t.latencies
        lines.append(f"| {name} | {len(lat)} | {median(lat):.0f} | {percentile(lat, 95):.0f} "
                     f"| {max(lat, default=0):.0f} | {len(t.errors)} |")  # fmt: skip
    errors = [e for t in tallies.values() for e in t.errors]
    if errors:
        lines.append("\nfirst errors: " + "; ".join(errors[:5]))
    return "\n".join(lines)


def _terminate(signum: int, frame: Any) -> None:
    # SIGTERM unwinds like Ctrl-C, so every context below stops and drops what it made.
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=HOSTS, help=f"synthetic hosts ({HOSTS})")
    parser.add_argument("--seconds", type=float, default=SECONDS,
                        help=f"length of the live run ({SECONDS:g})")  # fmt: skip
    parser.add_argument("--writers", type=int, default=WRITERS,
                        help=f"writer processes carrying the hosts ({WRITERS})")  # fmt: skip
    parser.add_argument(
        "--pause",
        type=float,
        default=READER_PAUSE,
        help=f"the reader's pause between requests, s ({READER_PAUSE:g})",
    )
    args = parser.parse_args()
    for name in ("hosts", "seconds", "writers"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be more than 0, not {getattr(args, name)}")
    if args.pause < 0:
        parser.error(f"--pause must be 0 or more, not {args.pause}")
    signal.signal(signal.SIGTERM, _terminate)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    env = services_env()
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the start",
          flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="swapadmin-bench-live-") as tmp, \
            dropped_roles(env["DATABASE_URL"], role_prefix(), f"swapadmin_bench_{os.getpid()}"), \
            dropped_database(env["DATABASE_URL"]), \
            bench_database(env["DATABASE_URL"]) as db_url:  # fmt: skip
        env = {**env, "DATABASE_URL": db_url, "SWAPADMIN_DATA_DIR": tmp}
        setup_django(env)
        body = run(args)
    print(f"\nthe live fleet (load average {os.getloadavg()[0]:.1f} at the end)\n{body}")


if __name__ == "__main__":
    main()
