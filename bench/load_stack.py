"""The production shape on loopback for the control-plane benchmarks, built and torn down by
one context manager: Redis and PostgreSQL (scripts/services.sh), a database of the bench's own
(created, migrated, dropped), gunicorn with a few sync workers, and optionally a real Celery
worker on a swap root of the bench's own under /var/tmp.

Every process is started in its own process group and killed with it; every swap area under
the swap root is swapped off and the root removed, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def services_env() -> dict[str, str]:
    """REDIS_URL and DATABASE_URL from scripts/services.sh (which starts them if needed)."""
    out = subprocess.run(
        ["bash", str(REPO / "scripts/services.sh"), "start"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    env = {}
    for line in out.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export ") :].partition("=")
            env[key] = value
    return env


@contextlib.contextmanager
def bench_database(admin_url: str) -> Iterator[str]:
    """A fresh database named for this run, so nothing the bench writes meets anyone's data."""
    import psycopg

    name = f"swapadmin_bench_{os.getpid()}"
    base = admin_url.rsplit("/", 1)[0]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            # Only the bench user's own sessions: terminating another's (a superuser's
            # autovacuum worker) is refused and left the database behind. DROP DATABASE
            # stops autovacuum workers itself.
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND usename = current_user",
                (name,),
            )
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


def setup_django(env: dict[str, str]) -> None:
    """Point this process's Django at ``env`` (the bench database) and migrate it."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "swapadmin.settings")
    sys.path.insert(0, str(REPO))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def signing_key_file(where: Path) -> str:
    """A job-signing key of the stack's own, as docker-compose's secret gives the control
    plane one: with a database configured, nothing generates one (settings.py), and a worker
    without its public half runs no job. The worker reads the public half from the same
    variable."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = where / "job-signing-key.pem"
    key.touch(mode=0o600)
    key.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))  # fmt: skip
    return str(key)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.contextmanager
def gunicorn(env: dict[str, str], logdir: Path, workers: int = 3) -> Iterator[str]:
    """gunicorn as docker-compose.yml runs it (sync workers), on a free loopback port."""
    port = free_port()
    log = open(logdir / "gunicorn.log", "wb")  # noqa: SIM115 (closed in finally)
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "swapadmin.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--log-level", "warning"],
        cwd=REPO, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"gunicorn did not start: {(logdir / 'gunicorn.log').read_text()}"
                )
            time.sleep(0.1)
        yield url
    finally:
        _stop(proc)
        log.close()


@dataclass
class Worker:
    name: str
    swap_root: Path
    proc: subprocess.Popen[bytes]
    logdir: Path
    areas: list[str] = field(default_factory=list)


@contextlib.contextmanager
def swap_root() -> Iterator[Path]:
    """A swap root of the bench's own; every area under it is swapped off and it is removed."""
    root = Path(tempfile.mkdtemp(prefix="swapadmin-bench-cp-", dir="/var/tmp"))
    root.chmod(0o700)
    try:
        yield root
    finally:
        with open("/proc/swaps") as f:
            active = [line.split()[0] for line in f.readlines()[1:]]
        for path in active:
            if path.startswith(str(root) + "/"):
                subprocess.run(["swapoff", path], check=False)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def celery_worker(env: dict[str, str], root: Path, logdir: Path) -> Iterator[Worker]:
    """A host's worker as docker-compose.yml runs it, on its own host name and swap root, with
    its own fstab and sysctl file (the machine's are never touched). Ready at its heartbeat."""
    from swapadmin.core.models import Host

    name = f"bench-{uuid.uuid4().hex[:8]}"
    (logdir / "fstab").write_text("# bench fstab\n")
    wenv = {
        **os.environ,
        **env,
        "SWAPADMIN_HOST": name,
        "SWAPADMIN_SWAP_ROOTS": str(root),
        "SWAPADMIN_FSTAB": str(logdir / "fstab"),
        "SWAPADMIN_SYSCTL_FILE": str(logdir / "90-swapadmin.conf"),
        "SWAPADMIN_DATA_DIR": str(logdir / "worker-data"),
    }
    log = open(logdir / "worker.log", "wb")  # noqa: SIM115 (closed in finally)
    proc = subprocess.Popen(
        [str(BIN / "celery"), "-A", "swapadmin", "worker", "--loglevel", "WARNING",
         "--concurrency", "2", "-n", f"{name}@%h", "--without-mingle", "--without-gossip"],
        cwd=REPO, env=wenv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not Host.objects.filter(name=name, last_heartbeat__isnull=False).exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start: {(logdir / 'worker.log').read_text()}")
            time.sleep(0.2)
        yield Worker(name, root, proc, logdir)
    finally:
        _stop(proc)
        log.close()
        import redis

        with contextlib.suppress(Exception):
            redis.Redis.from_url(env["REDIS_URL"], socket_timeout=2).delete(f"host.{name}")


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank), as load tools report it."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def cpu_yardstick_ms() -> float:
    """One CPU's speed at plain Python, so that figures taken on different machines can be
    compared: the best of three runs of a fixed loop of a million additions, in ms. The
    control plane's figures are mostly Python on these CPUs and move with it (the
    twentieth session's VM, on which the sixteenth session's code gave three times the
    request figure it gave then, took 31-40 ms); page I/O against fio moves with the
    disk instead."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def machine() -> str:
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1048576
    return (
        f"{os.cpu_count()} CPUs, {mem:.0f} GiB, kernel {os.uname().release}, Python yardstick "
        f"{cpu_yardstick_ms():.0f} ms (a million-step loop, best of 3)"
    )
