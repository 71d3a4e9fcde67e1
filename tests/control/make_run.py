"""`make run` (``manage.py runall``) as the tests of the embedded default start it.

Each run has its own data directory (SQLite and kombu's filesystem broker), port, host name,
swap root and fstab, and one log: runall's children inherit its stdout, so the web server's,
the worker's and beat's lines are all in ``run.log``. Every process the run starts is stopped
when the ``make_run`` block ends, whatever happened in it: runall by SIGTERM (then its group
by SIGKILL), then any of its children still alive, found by the host name in their
environment and killed by pid.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures.signing import KEY_ENV
from tests.fixtures.workers import wait_until

REPO = Path(__file__).resolve().parents[2]
LOCKED = "database is locked"
ACCESS_LINE = re.compile(r'^127\.0\.0\.1 - \S+ \[[^]]+\] "')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def processes_with(marker: str) -> list[int]:
    """Processes whose environment holds ``marker`` (runall's children carry its env)."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if marker.encode() in (d / "environ").read_bytes().split(b"\0"):
                    found.append(int(d.name))
            except OSError:
                continue
    return found


def children_of(pid: int) -> dict[int, str]:
    """The live (not zombie) children of ``pid``: their pid and command line."""
    found = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_bytes().rsplit(b")", 1)[-1].split()
            cmdline = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue
        if int(stat[1]) == pid and stat[0] != b"Z":
            found[int(d.name)] = cmdline
    return found


@dataclass
class Run:
    proc: subprocess.Popen[bytes]
    base: str
    env: dict[str, str]
    log: Path
    host: str
    swap_root: Path
    data_dir: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def tail(self, chars: int = 6000) -> str:
        """The end of the log without the web server's access lines."""
        lines = [ln for ln in self.output().splitlines() if not ACCESS_LINE.match(ln)]
        return "\n".join(lines)[-chars:]

    def child(self, role: str) -> int | None:
        """The pid of runall's ``role`` child (web, worker or beat), if one is alive."""
        word = {"web": "gunicorn", "worker": " worker ", "beat": " beat "}[role]
        for pid, cmdline in children_of(self.proc.pid).items():
            if word in f"{cmdline} ":
                return pid
        return None

    def manage(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *argv], cwd=REPO, env=self.env,
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip

    def token(self) -> str:
        """An API token of the admin that runall created."""
        done = self.manage("create-token", "admin", "--name", "make-run test", "--days", "1")
        assert done.returncode == 0 and done.stdout.strip(), done.stdout + done.stderr
        return done.stdout.strip()

    def api(self, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.base + "api/v1",
            headers={"Authorization": f"Token {token}"},
            timeout=60,
        )

    @contextlib.contextmanager
    def browser(self) -> Iterator[httpx.Client]:
        """A logged-in session of the admin, as a browser has."""
        password = re.search(r"password:\s+(\S+)", self.output())
        assert password, self.tail()
        with httpx.Client(base_url=self.base, timeout=60) as c:
            c.get("login/")
            r = c.post(
                "login/",
                data={
                    "username": "admin",
                    "password": password.group(1),
                    "csrfmiddlewaretoken": c.cookies["csrftoken"],
                },
                headers={"Referer": self.base + "login/"},
            )
            assert r.status_code == 302 and "sessionid" in c.cookies, (r.status_code, r.text)
            yield c

    def wait(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        """``wait_until``, failing at once (with the log) if runall itself has stopped."""

        def check() -> Any:
            assert self.proc.poll() is None, (
                f"runall exited while waiting for {what}:\n{self.tail()}"
            )
            return predicate()

        try:
            return wait_until(check, timeout, what)
        except AssertionError as e:
            raise AssertionError(f"{e}\n--- runall log ---\n{self.tail()}") from None

    def host_row(self, api: httpx.Client) -> dict[str, Any] | None:
        for host in api.get("/hosts/", params={"limit": 500}).json()["results"]:
            if host["name"] == self.host:
                return dict(host)
        return None


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        assert proc.poll() is None, "runall exited:\n" + log.read_text(errors="replace")[-4000:]
        assert time.monotonic() < deadline, "no answer from " + url
        time.sleep(0.2)


@contextlib.contextmanager
def make_run(
    where: Path,
    prepare: Callable[[Run], Any] | None = None,
    ready: bool = True,
    **extra_env: str,
) -> Iterator[Run]:
    """``manage.py runall`` with no DATABASE_URL or REDIS_URL, under ``where``; yields once
    /healthz answers (at once unless ``ready``). ``extra_env`` is added to its environment;
    ``prepare`` is called with the run before runall starts (its ``proc`` is None then)."""
    where.mkdir(parents=True, exist_ok=True)
    swap = where / "swap"
    swap.mkdir(mode=0o700)
    port = free_port()
    host = f"embedded-{port}-{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.pop("SWAPADMIN_ADMIN_PASSWORD", None)
    for name in KEY_ENV:  # make run signs with the key it makes in its data directory
        env.pop(name, None)
    env.update(
        SWAPADMIN_DATA_DIR=str(where / "data"),
        SWAPADMIN_HOST=host,
        SWAPADMIN_SWAP_ROOTS=str(swap),
        SWAPADMIN_FSTAB=str(where / "fstab"),
        SWAPADMIN_SYSCTL_FILE=str(where / "90-swapadmin.conf"),
        SWAPADMIN_SAMPLE_SECONDS="1",
        PORT=str(port),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra_env)
    log = where / "runall.log"
    base = f"http://127.0.0.1:{port}/"
    run = Run(None, base, env, log, host, swap, where / "data")  # type: ignore[arg-type]
    if prepare is not None:
        prepare(run)
    with open(log, "wb") as out:
        run.proc = subprocess.Popen(
            [sys.executable, "manage.py", "runall"], cwd=REPO, env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        if ready:
            wait_http(run.base + "healthz", run.proc, log)
        yield run
    finally:
        stop(run.proc, f"SWAPADMIN_HOST={host}")


def stop(proc: subprocess.Popen[bytes], marker: str) -> None:
    """runall by SIGTERM, as Ctrl-C would; anything of it left afterwards by SIGKILL."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)  # a test may have stopped it
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    for pid in processes_with(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    wait_until(lambda: processes_with(marker) == [], 20, f"every process of {marker} to exit")
