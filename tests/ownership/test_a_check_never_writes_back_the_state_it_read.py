"""A health check runs beside its backend's other jobs (it takes no lock on the backend) and
only reads. The plugin state it was built with is the row's state when it started; a
provision or activate running meanwhile may save newer state (the zram or loop device it
just added). When the check ends, the runner must not write its old copy back over that:
the device the other job recorded would be forgotten, and leak. Any other job, which holds
the backend alone, does write back the state its plugin ends with."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import timezone

from swapadmin.core import context, runner, signing
from swapadmin.core.handlers import HANDLERS
from swapadmin.core.models import Backend, Job

pytestmark = [pytest.mark.django_db]

MiB = 1 << 20

#: What a provision running beside the check saves the moment it adds its device.
NEWER = {
    "device": "/dev/zram97",
    "boot_id": "0" * 32,
    "store": {"devnum": "252:97", "diskseq": "9797", "key": "zram:x:9797", "uuid": None},
}


@pytest.fixture
def here(settings, host_row, tmp_path: Path):
    """This process plays the worker of ``host_row``."""
    settings.SWAPADMIN_HOST = host_row.name
    settings.DATA_DIR = tmp_path
    settings.SWAPADMIN_FSTAB = tmp_path / "fstab"
    return host_row


def _backend(host, swap_root: Path) -> Backend:
    return Backend.objects.create(
        host=host, kind="file", name="s0", params={"path": str(swap_root / "s0")},
        size_bytes=16 * MiB, state={}, provisioned_at=timezone.now(),
    )  # fmt: skip


def _run_with_a_job_beside(monkeypatch, backend: Backend, kind: str) -> Job:
    """Run a ``kind`` job whose handler, halfway, sees another job save ``NEWER`` on the
    row (the UPDATE ``plugins.save_state`` makes), then goes on as it would."""
    handler = HANDLERS[kind]
    seen: list[dict] = []

    def beside(ctx: context.JobContext):
        seen.append(dict(ctx.plugin.state))  # what the job's plugin was built with
        Backend.objects.filter(pk=backend.pk).update(state=dict(NEWER))
        return handler(ctx)

    monkeypatch.setitem(HANDLERS, kind, beside)
    job = Job.objects.create(kind=kind, host=backend.host, backend=backend, backend_name="s0")
    signing.sign_job(job.pk)  # as the control plane does when it queues one
    runner.run(job.pk, worker="w@here")
    assert seen == [{}], "the handler did not run"
    job.refresh_from_db()
    return job


def test_a_check_leaves_the_state_another_job_saved(here, swap_root, monkeypatch) -> None:
    backend = _backend(here, swap_root)
    job = _run_with_a_job_beside(monkeypatch, backend, Job.Kind.CHECK)
    assert job.finished, job.log
    backend.refresh_from_db()
    assert backend.state == NEWER
    assert backend.observed_at is not None  # the check did refresh what it observes


def test_another_job_writes_back_its_own_state(here, swap_root, monkeypatch) -> None:
    # The control: the same run for a job that holds the backend alone ends with its own
    # plugin's state on the row, so the check above is told apart by its kind alone.
    backend = _backend(here, swap_root)
    job = _run_with_a_job_beside(monkeypatch, backend, Job.Kind.DEACTIVATE)
    assert job.state == Job.State.SUCCEEDED, job.error
    backend.refresh_from_db()
    assert backend.state == {}
