"""API test helpers: a client per persona with a real API token, and a real API server."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from swapadmin.core.models import Backend, Host, Job
from tests.fixtures.tokens import token_for
from tests.fixtures.workers import redis_url, test_database_url

PAGE = 4096


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    # The personas' passwords are hashed with the production hasher otherwise: seconds a test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def client_with_token(user: User | None) -> APIClient:
    client = APIClient(REMOTE_ADDR="192.0.2.7")
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


@pytest.fixture
def as_user(db: None) -> Callable[[User | None], APIClient]:
    return client_with_token


@pytest.fixture
def people(alice: User, oscar: User, victor: User, nora: User) -> dict[str, User | None]:
    return {"anonymous": None, "nora": nora, "victor": victor, "oscar": oscar, "alice": alice}


@pytest.fixture
def make_backend(host_row: Host, swap_root: Path) -> Callable[..., Backend]:
    """A Backend row as if provisioned: inactive, no job holding it. Nothing on disk."""

    def make(name: str = "swap0", **fields: object) -> Backend:
        defaults: dict[str, object] = {
            "host": host_row,
            "kind": "file",
            "name": name,
            "params": {"path": str(swap_root / name)},
            "size_bytes": 64 * PAGE,
            "observed_state": Backend.Observed.READY,
            "provisioned_at": timezone.now(),
        }
        defaults.update(fields)
        return Backend.objects.create(**defaults)

    return make


@pytest.fixture
def backend(make_backend: Callable[..., Backend]) -> Backend:
    return make_backend()


def jobs_of(backend: Backend) -> list[Job]:
    return list(Job.objects.filter(backend=backend).order_by("queued_at"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_api_server(workdir: Path, **env_overrides: str) -> Iterator[str]:
    """gunicorn serving swapadmin on loopback over the test database; yields its base URL.

    A separate process, as in production: it sees only committed rows, and its database
    connections end with it, before pytest-django drops the test database."""
    port = free_port()
    env = dict(os.environ, DATABASE_URL=test_database_url(), REDIS_URL=redis_url())
    env.update(SWAPADMIN_DATA_DIR=str(workdir / "web"), DJANGO_SETTINGS_MODULE="swapadmin.settings")
    env.update(env_overrides)
    log = workdir / f"gunicorn-{port}.log"
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [gunicorn, "swapadmin.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2", "--timeout", "60"],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        # A 5xx anywhere in the run is in here with its traceback.
        text = log.read_text(errors="replace")
        if "Traceback" in text:
            print(text[-6000:])


@pytest.fixture
def api_server(transactional_db: None, scratch: Path) -> Iterator[str]:
    with running_api_server(scratch) as url:
        yield url


class ApiSession(requests.Session):
    """Requests to one API server with an admin's token; methods take a path, not a URL."""

    def __init__(self, base: str, token: str) -> None:
        super().__init__()
        self.base = base
        self.headers["Authorization"] = f"Token {token}"

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", 30)
        path = url.decode() if isinstance(url, bytes) else url
        return super().request(method, self.base + path, *args, **kwargs)


#: An admin with a token and three hosts, in a fresh database; prints the token.
SEED_SQLITE = """
from django.contrib.auth.models import User
from datetime import timedelta
from swapadmin.accounts.models import ApiToken
from swapadmin.core.models import Host
user = User.objects.create_superuser("alice", "alice@example.com", "unused")
for name in ("h0", "h1", "h2"):
    Host.objects.create(name=name)
print("TOKEN=" + ApiToken.objects.create(user, expiry=timedelta(days=1), name="seed")[1])
"""


@contextlib.contextmanager
def running_sqlite_api_server(workdir: Path) -> Iterator[tuple[str, str]]:
    """gunicorn over a fresh, migrated SQLite file (the embedded default `make run` uses),
    seeded with SEED_SQLITE; yields its base URL and the admin's token."""
    data = workdir / "sqlite"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DATABASE_URL_FILE")}
    env.update(SWAPADMIN_DATA_DIR=str(data), DJANGO_SETTINGS_MODULE="swapadmin.settings")
    manage = [sys.executable, str(Path(__file__).resolve().parents[2] / "manage.py")]
    for command in (["migrate", "-v0"], ["shell", "-v0", "-c", SEED_SQLITE]):
        done = subprocess.run(
            [*manage, *command], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{command[0]} failed:\n{done.stdout}\n{done.stderr}"
    token = done.stdout.rsplit("TOKEN=", 1)[1].strip()
    with running_api_server(workdir, DATABASE_URL="", SWAPADMIN_DATA_DIR=str(data)) as url:
        yield url, token


@pytest.fixture(scope="session")
def sqlite_api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiSession]:
    """One for the session: tests that use it only read."""
    with running_sqlite_api_server(tmp_path_factory.mktemp("sqlite-api")) as (url, token):
        yield ApiSession(url, token)


class InProcessApi:
    """The ApiSession interface over DRF's test client, in this process's database."""

    def __init__(self, client: APIClient) -> None:
        self.client = client

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get(path, data=params)


#: The ``api`` fixture's type: one per database.
Api = ApiSession | InProcessApi

#: Every list the API pages by cursor as well as by limit and offset.
CURSOR_LISTS = [
    "/api/v1/hosts/",
    "/api/v1/backends/",
    "/api/v1/jobs/",
    "/api/v1/audit/",
    "/api/v1/health/",
    "/api/v1/health-events/",
]


@pytest.fixture(params=["postgresql", "sqlite"])
def api(request: pytest.FixtureRequest, db: None, alice: User) -> Api:
    """The API on each database swapadmin supports, as an admin, over three hosts: in
    process on the test database (PostgreSQL), and over HTTP on SQLite. Read only: the
    SQLite one is the session's."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_api_server")  # type: ignore[no-any-return]
    for name in ("h0", "h1", "h2"):
        Host.objects.create(name=name)
    return InProcessApi(client_with_token(alice))
