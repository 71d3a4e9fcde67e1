"""Fixtures for health tests: real swap areas, backend rows that describe them, check jobs,
and a memory hog in a memory cgroup that makes the kernel really swap to our area.

Everything is made under the test's own scratch directory or cgroup and taken down on
every path (the scratch fixture swaps off and detaches anything under it afterwards).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from backends import Policy, kernel
from swapadmin.core.models import Backend, Host, Job
from tests.fixtures.stores import provisioned, row_fields

MiB = 1 << 20
CGROUP_ROOT = Path("/sys/fs/cgroup/memory")


def provision_file(
    path: Path, size: int, *, owner: uuid.UUID, label: str = "", swap_uuid: uuid.UUID
) -> dict[str, Any]:
    """Make a swap file the way a provision job of backend ``owner`` does (the file plugin
    taking the store, then mkswap) and return the Backend columns that backend then has."""
    plugin = provisioned(
        "file",
        {"path": str(path)},
        size=size,
        policy=Policy.from_env(),
        owner=str(owner),
        label=label,
        swap_uuid=swap_uuid,
    )
    try:
        return row_fields(plugin)
    finally:
        plugin.close()


MakeBackend = Callable[..., Backend]

#: Thresholds no ambient reading reaches. Memory pressure is machine-wide: a burn-in test
#: that ran seconds earlier leaves PSI raised for a while, which must not decide a test about
#: something else. Tests about pressure set their own thresholds over these.
CALM = {
    "SWAPADMIN_HEALTH_PSI_SOME_WARN": 100.0,
    "SWAPADMIN_HEALTH_PSI_FULL_WARN": 100.0,
    "SWAPADMIN_HEALTH_PSI_FULL_FAIL": 100.0,
    "SWAPADMIN_HEALTH_SWAPIN_WARN": 1e12,
}


@pytest.fixture(autouse=True)
def calm_pressure_thresholds(settings: Any) -> None:
    for name, value in CALM.items():
        setattr(settings, name, value)


@pytest.fixture
def make_file_backend(host_row: Host, swap_root: Path) -> MakeBackend:
    """A real, formatted swap file in the test's swap root and the row of the backend whose
    provision made it: the file's mark names the row's uuid, and the row carries the state,
    swap UUID, store key and ``provisioned_at`` that provision left."""

    def make(
        name: str = "swap0",
        *,
        size: int = 32 * MiB,
        desired: str = Backend.Desired.INACTIVE,
        priority: int | None = 32767,
        label: str = "healthtest",
        **fields: Any,
    ) -> Backend:
        path = swap_root / name
        row_uuid = uuid.uuid4()
        provisioned_fields = provision_file(
            path, size, owner=row_uuid, label=label, swap_uuid=uuid.uuid4()
        )
        return Backend.objects.create(
            uuid=row_uuid,
            host=host_row,
            kind="file",
            name=name,
            params={"path": str(path)},
            size_bytes=size,
            priority=priority,
            label=label,
            desired_state=desired,
            observed_state=Backend.Observed.READY,
            **{**provisioned_fields, **fields},
        )

    return make


def check_job(backend: Backend) -> Job:
    """A check job row as the worker would hand it over (claimed, running)."""
    return Job.objects.create(
        kind=Job.Kind.CHECK,
        host=backend.host,
        backend=backend,
        backend_name=backend.name,
        state=Job.State.RUNNING,
        via=Job.Via.SCHEDULE,
    )


def swapon(backend: Backend) -> None:
    kernel.swapon(backend.params["path"], priority=backend.priority)


def swapoff_by_hand(path: str) -> None:
    subprocess.run(["swapoff", path], check=True, capture_output=True)


def findings_by_check(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["check"]: f for f in result["findings"]}


# ---- memory pressure, for real ----


HOG = r"""
import os, sys, time
size, thrash = int(sys.argv[1]), sys.argv[2] == "1"
page = 4096
buf = bytearray(size)
for off in range(0, size, page):
    buf[off:off + 64] = os.urandom(64)
print("ready", flush=True)
while True:
    if thrash:
        for off in range(0, size, page):
            buf[off] = (buf[off] + 1) & 255
    else:
        time.sleep(0.5)
"""


class MemoryHog:
    """A child process holding ``size`` bytes in a memory cgroup limited to ``limit``: the
    kernel must swap the difference out (to the highest-priority area), and with ``thrash``
    the child keeps touching every page, so pages keep coming back in."""

    def __init__(self, cgroup: Path, size: int, limit: int, thrash: bool) -> None:
        self.cgroup = cgroup
        self.proc: subprocess.Popen[str] | None = None
        cgroup.mkdir()
        try:
            (cgroup / "memory.limit_in_bytes").write_text(str(limit))
            procs = str(cgroup / "cgroup.procs")

            def enter_cgroup() -> None:
                with open(procs, "w") as f:
                    f.write(str(os.getpid()))

            self.proc = subprocess.Popen(
                [sys.executable, "-c", HOG, str(size), "1" if thrash else "0"],
                stdout=subprocess.PIPE,
                text=True,
                preexec_fn=enter_cgroup,
            )
            assert self.proc.stdout is not None
            line = self.proc.stdout.readline()
            assert line.strip() == "ready", f"memory hog did not start: {line!r}"
        except BaseException:
            # Not yet in the fixture's list: the cgroup would be left behind.
            self.stop()
            raise

    def stop(self) -> None:
        if self.proc is not None:
            with suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        # The kernel lets a cgroup go once its last task is reaped and its pages are
        # uncharged; say so if it never does, instead of leaving it quietly.
        deadline = time.monotonic() + 30
        while True:
            try:
                self.cgroup.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"could not remove {self.cgroup}") from None
                time.sleep(0.1)


@pytest.fixture
def memory_hog() -> Iterator[Callable[..., MemoryHog]]:
    if not CGROUP_ROOT.is_dir():
        pytest.skip("needs the cgroup v1 memory controller at /sys/fs/cgroup/memory")
    hogs: list[MemoryHog] = []

    def start(size: int, limit: int, *, thrash: bool = False) -> MemoryHog:
        cgroup = CGROUP_ROOT / f"swapadmin-health-{uuid.uuid4().hex[:8]}"
        hog = MemoryHog(cgroup, size, limit, thrash)
        hogs.append(hog)
        return hog

    try:
        yield start
    finally:
        for hog in hogs:
            hog.stop()


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


# ---- a webhook receiver ----


class Hook:
    """A webhook receiver on 127.0.0.1 answering each POST with the next status in
    ``answers`` (the last one repeats), recording every body it got."""

    def __init__(self, answers: list[int], reason: str | None = None) -> None:
        self.answers = answers
        self.reason = reason  # the status line's reason phrase (None: the standard one)
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.times: list[float] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                hook.bodies.append(json.loads(self.rfile.read(length)))
                hook.headers.append(dict(self.headers))
                hook.times.append(time.monotonic())
                code = hook.answers[min(len(hook.bodies), len(hook.answers)) - 1]
                self.send_response(code, hook.reason)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook_factory() -> Iterator:
    hooks: list[Hook] = []

    def make(answers: list[int], reason: str | None = None) -> Hook:
        hooks.append(Hook(answers, reason))
        return hooks[-1]

    yield make
    for h in hooks:
        h.close()
