"""A resize grows the file through a descriptor proven just before, then writes the header
through the same descriptor. Someone attaches a loop device over the file and swaps it on
in between: page 0 is then an active area's, reached under another name, which neither
O_EXCL nor the kernel's swap-file guard stops. The header write asks the store again just
before it writes (``recheck_store``) and refuses; before, page 0 of that active area was
written (review 225/1)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from swapadmin.core import handlers
from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.by_hand import after, attached
from tests.fixtures.host import active_swaps, needs_root
from tests.fixtures.host import run as sh

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]


def test_the_header_of_a_file_swapped_on_through_a_loop_device_is_not_written(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = swap_root / "area"
    backend = Backend.objects.create(
        host=host_row, kind="file", name="area", params={"path": str(path)}, size_bytes=16 * MiB
    )
    made = run(job_for(backend, Job.Kind.PROVISION))
    assert made.state == Job.State.SUCCEEDED, made.error
    backend.refresh_from_db()
    loops = contextlib.ExitStack()
    devices: list[str] = []

    def a_loop_device_swapped_on() -> None:
        dev = loops.enter_context(attached(path))
        devices.append(dev)
        sh("swapon", dev)

    try:
        with loops, monkeypatch.context() as m:
            m.setattr(handlers, "_mkswap", after(a_loop_device_swapped_on, handlers._mkswap))
            before = path.read_bytes()[:4096]
            job = run(job_for(backend, Job.Kind.RESIZE, size_bytes=24 * MiB))
            assert devices and devices[0] in active_swaps()
            assert path.read_bytes()[:4096] == before  # page 0 of the active area untouched
            assert job.state == Job.State.FAILED, job.log
            assert f"{devices[0]} is active in /proc/swaps" in job.error, job.error
    finally:
        gone = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error
