"""Two swapoffs on one host whose pages each fit in RAM, but not both: asked for at the same
moment, on a worker pool that runs two jobs at once (prefork, concurrency 2, as in
production), they never both run. The host's memory lock makes them take turns, and the
second one's RAM check, made again under the lock, sees the memory the first one took and
refuses. Real areas, really full: a memory hog in a memory cgroup pushes its pages out to
both (same priority: the kernel spreads pages over both), then stops, holding them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from backends import kernel
from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job, wait_until

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MiB = 1 << 20
AREA = 1024 * MiB
CGROUP_ROOT = Path("/sys/fs/cgroup/memory")
HOG = r"""
import os, sys
buf = bytearray(int(sys.argv[1]))
for off in range(0, len(buf), 4096):
    buf[off:off + 64] = os.urandom(64)
print("ready", flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def hog() -> Iterator[subprocess.Popen[str]]:
    """A process holding 1.7 GiB in a memory cgroup limited to 64 MiB, stopped once its
    pages are out; the limit is lifted then, so a swapoff may bring them back."""
    if not CGROUP_ROOT.is_dir():
        pytest.skip("needs the cgroup v1 memory controller at /sys/fs/cgroup/memory")
    cgroup = CGROUP_ROOT / f"swapadmin-test-{uuid.uuid4().hex[:8]}"
    cgroup.mkdir()
    (cgroup / "memory.limit_in_bytes").write_text(str(64 * MiB))
    procs = cgroup / "cgroup.procs"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOG, str(1700 * MiB)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        preexec_fn=lambda: procs.write_text(str(os.getpid())),
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGSTOP)
        (cgroup / "memory.limit_in_bytes").write_text("-1")
        yield proc
    finally:
        with suppress(ProcessLookupError):
            proc.kill()
            proc.send_signal(signal.SIGCONT)
        proc.wait(timeout=60)
        wait_until(lambda: _rmdir(cgroup), 30, f"{cgroup} to be removed")


def _rmdir(cgroup: Path) -> bool:
    try:
        cgroup.rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def active_area(backend: Backend) -> kernel.SwapArea | None:
    return kernel.find_area(backend.params["path"])


def test_the_second_swapoff_waits_and_is_refused(start_worker, alice, request):
    actor = Actor(alice, Job.Via.API)
    first = start_worker(pool="prefork")
    backends = []
    for name in ("a", "b"):
        job = services.create_backend(
            host=first.host, kind="file", name=name, size_bytes=AREA, actor=actor,
            params={"path": str(first.swap_root / name)}, priority=100,
        )  # fmt: skip
        assert wait_for_job(job, 120, worker=first).state == Job.State.SUCCEEDED
        backend = Backend.objects.get(pk=job.backend_id)
        on = wait_for_job(services.request_action(backend, Job.Kind.ACTIVATE, actor), 60)
        assert on.state == Job.State.SUCCEEDED, on.error
        backends.append(backend)

    request.getfixturevalue("hog")  # fills both areas, then holds its pages
    used = [active_area(b).used_bytes for b in backends]  # type: ignore[union-attr]
    assert min(used) > 400 * MiB, used
    # Room for the larger one and half the smaller: each fits alone, both do not.
    room = max(used) + min(used) // 2
    margin = kernel.meminfo().mem_available - room
    first.stop()
    w = start_worker(
        name=first.name, pool="prefork", env={"SWAPADMIN_SWAPOFF_MARGIN_BYTES": str(margin)}
    )

    jobs = [services.request_action(b, Job.Kind.DEACTIVATE, actor) for b in backends]

    def settled() -> list[Job] | None:
        """Both jobs, once one has ended and the other has ended too or been refused."""
        now = list(Job.objects.filter(pk__in=[j.pk for j in jobs]))
        ended = [j for j in now if j.finished]
        # Its log says so before its row leaves `running` (the backend is read again first).
        refused = [j for j in now if "would move" in j.log and j.state != Job.State.RUNNING]
        return now if ended and (len(ended) == 2 or refused) else None

    now = wait_until(settled, 180, "one swapoff to end and the other to end or be refused")
    succeeded = [j for j in now if j.state == Job.State.SUCCEEDED]
    assert len(succeeded) == 1, [(j.state, j.log) for j in now]  # never both
    refused = next(j for j in now if j.pk != succeeded[0].pk)
    assert "would move" in refused.log and "must stay free" in refused.log, refused.log
    assert refused.state in (Job.State.QUEUED, Job.State.FAILED), refused.state
    assert active_area(Backend.objects.get(pk=refused.backend_id)) is not None
    services.cancel_job(refused, actor)
    assert wait_for_job(refused, 60).state in (Job.State.CANCELLED, Job.State.FAILED)
    w.stop()
