"""A persist job the control plane signed for an adopted area, whose backend row's state is
then edited (the fstab line it names, the device it opens, a distribution zram device's
signature), is refused by a real worker before it runs: the refusal names the field, and
the worker's fstab is byte for byte what it was. Without the signature covering these, the
job would add a swap line for someone else's area, or remove another area's own line.

The same job on untouched rows does change the fstab (it is not refused for some other
reason); and an adopted area whose recorded line names another area, signed that way, is
failed by the handler itself, the fstab again untouched."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from swapadmin.core import services
from swapadmin.core.models import Backend, Job
from swapadmin.core.services import Actor
from tests.fixtures.host import needs_root
from tests.fixtures.workers import wait_for_job

from .signed import MiB, host_worker, refused

pytestmark = [needs_root, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def swap_loops(scratch: Path) -> Iterator[list[tuple[str, str]]]:
    """Two loop devices over swap-formatted files of the test's own, as (device, uuid);
    swapped off and detached whatever happens."""
    made: list[tuple[str, str]] = []
    try:
        for i in range(2):
            img = scratch / f"area{i}.img"
            with open(img, "wb") as f:
                f.truncate(16 * MiB)
            img.chmod(0o600)
            dev = subprocess.run(
                ["losetup", "--find", "--show", str(img)],
                check=True, capture_output=True, text=True,
            ).stdout.strip()  # fmt: skip
            swap_uuid = str(uuid.uuid4())
            made.append((dev, swap_uuid))
            subprocess.run(["mkswap", "-q", "-U", swap_uuid, dev], check=True)
        yield made
    finally:
        for dev, _ in made:
            subprocess.run(["swapoff", dev], check=False, capture_output=True)
            subprocess.run(["losetup", "-d", dev], check=False, capture_output=True)


@pytest.fixture
def adopted(start_worker, alice, swap_loops) -> tuple[Any, Backend, list[tuple[str, str]]]:
    """A host's worker whose fstab names both areas by UUID; the first one adopted."""
    worker = host_worker(start_worker)
    (_, mine), (_, theirs) = swap_loops
    with worker.fstab.open("a") as f:
        f.write(f"UUID={mine} none swap sw,noauto 0 0\nUUID={theirs} none swap sw,noauto 0 0\n")
    job = services.request_host_job(
        worker.host, Job.Kind.DISCOVER, Actor(alice, Job.Via.API), {"paths": [f"UUID={mine}"]}
    )
    job = wait_for_job(job, 60, worker=worker)
    assert job.state == Job.State.SUCCEEDED, job.error
    [area] = job.result["adopted"]
    backend = Backend.objects.get(uuid=area["uuid"])
    assert backend.adopted and backend.state["fstab_spec"] == f"UUID={mine}"
    return worker, backend, swap_loops


def persist_then_edit(worker, alice, backend: Backend, persist: bool, **state: Any) -> Job:
    """A persist job signed as the rows stand, the backend's state edited in the same
    transaction (before any worker could read it), then run by the worker."""
    with transaction.atomic():
        job = services.request_action(
            backend, Job.Kind.PERSIST, Actor(alice, Job.Via.API), {"persist": persist}
        )
        if state:
            row = Backend.objects.get(pk=backend.pk)
            Backend.objects.filter(pk=backend.pk).update(state={**row.state, **state})
    return wait_for_job(job, 60, worker=worker)


def restore(backend: Backend) -> None:
    Backend.objects.filter(pk=backend.pk).update(state=backend.state)


def test_an_edited_fstab_spec_is_refused(adopted, alice):
    worker, backend, [_, (_, theirs)] = adopted
    before = worker.fstab.read_bytes()

    # Signed to drop its own line, edited to drop another area's.
    job = persist_then_edit(worker, alice, backend, False, fstab_spec=f"UUID={theirs}")
    assert refused(job), (job.state, job.error)
    assert "backend.identity.fstab_spec is" in job.error and theirs in job.error
    assert worker.fstab.read_bytes() == before

    # Signed to keep its line, edited to add a swap line for the host's root disk.
    restore(backend)
    job = persist_then_edit(worker, alice, backend, True, fstab_spec="/dev/vda1")
    assert refused(job), (job.state, job.error)
    assert "backend.identity.fstab_spec is" in job.error
    assert worker.fstab.read_bytes() == before


def test_an_edited_device_or_distro_is_refused(adopted, alice):
    worker, backend, [_, (theirs_dev, _)] = adopted
    before = worker.fstab.read_bytes()
    edits = {
        "device": theirs_dev,
        "distro": {"name": "zram0", "disksize": 16 * MiB, "algorithm": "lzo-rle"},
    }
    for key, value in edits.items():
        restore(backend)
        job = persist_then_edit(worker, alice, backend, False, **{key: value})
        assert refused(job), (key, job.state, job.error)
        assert f"backend.identity.{key} is" in job.error
        assert worker.fstab.read_bytes() == before


def test_the_same_job_on_untouched_rows_changes_the_fstab(adopted, alice):
    worker, backend, [(_, mine), (_, theirs)] = adopted
    job = persist_then_edit(worker, alice, backend, False)
    assert job.state == Job.State.SUCCEEDED, job.error
    text = worker.fstab.read_text()
    assert f"UUID={mine}" not in text and f"UUID={theirs} none swap" in text


def test_a_recorded_line_naming_another_area_is_not_used(adopted, alice):
    worker, backend, [_, (_, theirs)] = adopted
    # Edited before signing: the signature covers it, the handler's proof refuses it.
    state = {**backend.state, "fstab_spec": f"UUID={theirs}"}
    Backend.objects.filter(pk=backend.pk).update(state=state)
    before = worker.fstab.read_bytes()
    job = persist_then_edit(worker, alice, Backend.objects.get(pk=backend.pk), False)
    assert job.state == Job.State.FAILED and job.started_at is not None, job.error
    assert f"names UUID={theirs}, which is not its area {backend.state['device']}" in job.error
    assert worker.fstab.read_bytes() == before
