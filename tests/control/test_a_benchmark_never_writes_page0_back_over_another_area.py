"""A benchmark reads page 0 first and writes it back at the end if it differs, so that a
swap header survives. Someone attaches a loop device over the loop kind's file during the
run, formats it and swaps it on: the check between slices refuses the store, and page 0,
which is theirs now, must not be written back. Before, their header was overwritten with
the backend's own under their active area (review 226/2)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from backends import header, pageio
from swapadmin.core.models import Backend, Job
from tests.control.test_run_job_directly import MiB, job_for, run
from tests.fixtures.by_hand import attached
from tests.fixtures.host import active_swaps, needs_root
from tests.fixtures.host import run as sh

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_testhost"), needs_root]


def test_page0_of_an_area_swapped_on_through_another_loop_device_is_left_theirs(
    host_row, swap_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = swap_root / "area"
    backend = Backend.objects.create(
        host=host_row, kind="loop", name="area", params={"path": str(path)}, size_bytes=16 * MiB
    )
    made = run(job_for(backend, Job.Kind.PROVISION))
    assert made.state == Job.State.SUCCEEDED, made.error
    backend.refresh_from_db()
    ours = header.parse_header(path.read_bytes()[:4096], 4096).uuid
    loops = contextlib.ExitStack()
    devices: list[str] = []
    between = pageio._between_slices
    checks = [0]

    def theirs_on_at_the_second_check(backend_, cancel, lease):  # type: ignore[no-untyped-def]
        check = between(backend_, cancel, lease)

        def person_then_check() -> None:
            checks[0] += 1
            if checks[0] == 2:  # each phase checks before its first run: four at least
                dev = loops.enter_context(attached(path))
                devices.append(dev)
                sh("mkswap", dev)
                sh("swapon", dev)
            check()

        return person_then_check

    try:
        with loops, monkeypatch.context() as m:
            m.setattr(pageio, "_between_slices", theirs_on_at_the_second_check)
            job = run(job_for(backend, Job.Kind.BENCHMARK, seconds=2))
            assert devices and devices[0] in active_swaps()
            assert job.state == Job.State.FAILED, job.log
            theirs = header.parse_header(path.read_bytes()[:4096], 4096).uuid
            assert theirs != ours  # their header stands, not the backend's written back
    finally:
        gone = run(job_for(Backend.objects.get(pk=backend.pk), Job.Kind.DESTROY))
        assert gone.state == Job.State.SUCCEEDED, gone.error
