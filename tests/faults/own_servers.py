"""Servers of a test's own, on loopback, for tests that restart them: the shared Redis and
PostgreSQL serve every engineer's run at once and must never go down under them."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.db import connection
from django.db.utils import InterfaceError, OperationalError

from tests.fixtures.host import run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


# ---- Redis ----


@dataclass
class OwnRedis:
    port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        # The production broker's persistence (docker-compose.yml: --appendonly yes).
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
             "--dir", str(self.workdir), "--appendonly", "yes", "--save", "",
             "--logfile", str(self.workdir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_port(self.port)

    def stop(self) -> None:
        """SIGTERM: Redis flushes its append-only file and exits, as on a service restart."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@contextlib.contextmanager
def own_redis(workdir: Path) -> Iterator[OwnRedis]:
    d = workdir / "redis"
    d.mkdir()
    server = OwnRedis(free_port(), d)
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ---- PostgreSQL ----


def pg_version() -> str:
    return sorted(os.listdir("/usr/lib/postgresql"), key=int)[-1]


@dataclass
class OwnPostgres:
    """A cluster of the test's own (pg_createcluster), holding a copy of the test database's
    schema in the database ``swapadmin``."""

    name: str
    port: int

    def restart(self) -> None:
        run("pg_ctlcluster", pg_version(), self.name, "restart", "-m", "fast")
        wait_port(self.port)

    def stop(self) -> None:
        run("pg_ctlcluster", pg_version(), self.name, "stop", "-m", "fast")

    def start(self) -> None:
        run("pg_ctlcluster", pg_version(), self.name, "start")
        wait_port(self.port)

    def settings(self, base: dict[str, object]) -> dict[str, object]:
        return {**base, "HOST": "127.0.0.1", "PORT": str(self.port), "NAME": "swapadmin",
                "USER": "swapadmin", "PASSWORD": "swapadmin"}  # fmt: skip


@contextlib.contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    if shutil.which("pg_createcluster") is None:
        raise AssertionError("pg_createcluster is missing (Debian: postgresql-common)")
    version, name, port = pg_version(), f"sa_fault_{os.getpid()}", free_port()
    run("pg_createcluster", version, name, "-p", str(port), "--",
        "--auth-local=trust", "--auth-host=trust")  # fmt: skip
    try:
        run("pg_ctlcluster", version, name, "start")
        wait_port(port)
        psql = ["su", "postgres", "-c"]
        run(*psql, f"psql -q -p {port} -c \"CREATE ROLE swapadmin LOGIN PASSWORD 'swapadmin'\"")
        run(*psql, f"createdb -p {port} -O swapadmin swapadmin")
        s = connection.settings_dict
        env = {**os.environ, "PGPASSWORD": str(s["PASSWORD"])}
        dump = run(
            "pg_dump", "--schema-only", "--no-owner", "-h", str(s["HOST"]), "-p", str(s["PORT"]),
            "-U", str(s["USER"]), str(s["NAME"]), env=env,
        ).stdout  # fmt: skip
        run("psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(port),
            "-U", "swapadmin", "swapadmin", input=dump)  # fmt: skip
        yield OwnPostgres(name, port)
    finally:
        run("pg_dropcluster", "--stop", version, name, check=False)


@contextlib.contextmanager
def django_on(server: OwnPostgres) -> Iterator[None]:
    """Point this process's default connection at ``server`` (and back on the way out)."""
    saved = connection.settings_dict
    connection.close()
    connection.settings_dict = server.settings(saved)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            connection.close()
        connection.settings_dict = saved


def reconnecting(query):  # type: ignore[no-untyped-def]
    """``query()``, reconnecting once if the server went away under this connection."""
    try:
        return query()
    except (OperationalError, InterfaceError):
        connection.close()
        return query()


@contextlib.contextmanager
def celery_sends_to(url: str) -> Iterator[None]:
    """This process's Celery app (what ``services.dispatch`` sends with) uses broker ``url``
    inside, and its own broker again afterwards; the connection pools go with the URL."""
    from swapadmin.celery import app

    def reset() -> None:
        # kombu keeps a process-wide pool per connection; a pool closed but left in that
        # registry would answer every later send with "Acquire on closed pool".
        from kombu import pools

        pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    saved = app.conf.broker_url
    reset()
    app.conf.broker_url = url
    try:
        yield
    finally:
        reset()
        app.conf.broker_url = saved
